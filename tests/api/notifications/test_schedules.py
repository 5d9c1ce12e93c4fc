"""The notifications Dagster area: its job and schedule, and a real run of the job (in its own
process, as the Dagster executor runs it) firing a meeting reminder for a meeting logged
through the activities API."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.api.notifications.conftest import (
    add_member,
    caught_up,
    notifications_of,
    wait_for_notification,
)
from tests.conftest import make_team

pytestmark = pytest.mark.usefixtures("notification_worker")


def test_definitions() -> None:
    from orchestration.defs.notifications.definitions import defs

    job = defs.resolve_job_def("notifications_delivery")
    assert [n.name for n in job.nodes] == ["deliver_notifications"]
    schedule = defs.resolve_schedule_def("notifications_every_minute")
    assert schedule.cron_schedule == "* * * * *" and schedule.job_name == job.name


async def test_job_fires_meeting_reminders_once(http: Any) -> None:
    owner = await make_team(http)
    guest = await add_member(owner)
    r = await owner.post("/api/v1/leads", json={"first_name": "Meet", "last_name": "Me"})
    lead_id = r.json()["id"]
    starts = (datetime.now(UTC) + timedelta(minutes=10)).replace(microsecond=0)
    later = (datetime.now(UTC) + timedelta(hours=3)).replace(microsecond=0)
    for subject, when in (("Kick-off", starts), ("Later", later)):
        r = await owner.post(
            "/api/v1/activities",
            json={
                "type": "meeting",
                "related_to_type": "lead",
                "related_to_id": lead_id,
                "subject": subject,
                "metadata": {"starts_at": when.isoformat(), "attendee_ids": [guest.member_id]},
            },
        )
        assert r.status_code == 201, r.text
    from orchestration.defs.notifications.jobs import notifications_delivery

    # The job's op runs its own event loop (here on a thread, as in a Dagster run process).
    result = await asyncio.to_thread(notifications_delivery.execute_in_process)
    assert result.success
    counts = result.output_for_node("deliver_notifications")
    assert counts["meeting_reminders"] == 1
    from api.notifications.reminders import fire_meeting_reminders

    assert await fire_meeting_reminders(team_ids=[owner.team_id]) == []  # fired once
    for member in (guest, owner):
        n = await wait_for_notification(member, lambda n: n["type"] == "meeting_reminder")
        assert n["title"] == "Starting soon: Kick-off" and n["related_to_type"] == "activity"
        assert datetime.fromisoformat(n["metadata"]["starts_at"]) == starts
    await caught_up("notifications")
    assert len([n for n in await notifications_of(guest) if n["type"] == "meeting_reminder"]) == 1


async def test_the_reminder_scan_is_an_index_probe_per_team(database_url: str) -> None:
    """Meetings starting soon are found through ``ix_activities_team_meeting_starts``: the
    per-team query as the API role under row-level security, the teams probe as the worker;
    ``meeting_starts_at`` is the meeting's start (NULL for other types and for a start that is
    not a timestamp, which is still written)."""
    import json
    import os
    import secrets

    import psycopg
    from psycopg.rows import dict_row
    from sqlalchemy.dialects.postgresql import psycopg as pg_dialect

    from api.notifications import reminders
    from leadly.settings import get_settings

    team = f"team_rem_{secrets.token_hex(4)}"
    now = datetime.now(UTC)
    async with await psycopg.AsyncConnection.connect(
        os.environ["LEADLY_DATABASE_URL"], autocommit=True, row_factory=dict_row
    ) as conn:
        await conn.execute(
            "INSERT INTO app.teams (id, name, slug) VALUES (%s, 'R', %s)", (team, team)
        )
        await conn.execute(
            """INSERT INTO app.activities (team_id, id, type, subject, related_to_type,
                   related_to_id, metadata)
            SELECT %s, 'act_rem' || g, CASE WHEN g %% 10 = 0 THEN 'meeting' ELSE 'call' END,
                   'S', 'lead', 'lead_rem',
                   jsonb_build_object('starts_at', %s::timestamptz + g * interval '1 min')
            FROM generate_series(1, 5000) g""",
            (team, now - timedelta(days=3)),
        )
        odd = [
            ("act_rem_bad", "meeting", "next tuesday"),
            ("act_rem_tz", "meeting", "2030-01-02T03:04:05+02:00"),
        ]
        for id_, type_, starts in odd:
            await conn.execute(
                "INSERT INTO app.activities (team_id, id, type, related_to_type, related_to_id, "
                "metadata) VALUES (%s, %s, %s, 'lead', 'lead_rem', %s)",
                (team, id_, type_, json.dumps({"starts_at": starts})),
            )
        cur = await conn.execute(
            "SELECT id, meeting_starts_at FROM app.activities WHERE team_id = %s AND id IN "
            "('act_rem_bad', 'act_rem_tz', 'act_rem10', 'act_rem11')",
            (team,),
        )
        got = {r["id"]: r["meeting_starts_at"] for r in await cur.fetchall()}
        assert got["act_rem_bad"] is None and got["act_rem11"] is None  # not a meeting
        assert got["act_rem_tz"] == datetime(2030, 1, 2, 1, 4, 5, tzinfo=UTC)
        assert got["act_rem10"] == now - timedelta(days=3) + timedelta(minutes=10)
        await conn.execute("ANALYZE app.activities")

        async def plan(stmt: Any, params: dict[str, Any], role: str) -> str:
            sql = str(stmt.compile(dialect=pg_dialect.dialect()))  # %(name)s placeholders
            async with conn.transaction():
                await conn.execute(f"SET LOCAL ROLE {role}")
                await conn.execute("SELECT set_config('app.team_id', %s, true)", (team,))
                await conn.execute("SET LOCAL enable_seqscan = off")
                cur = await conn.execute("EXPLAIN " + sql, params)
                return "\n".join(r["QUERY PLAN"] for r in await cur.fetchall())

        s = get_settings()
        params = {"t": team, "now": now, "lead": reminders.LEAD_MINUTES}
        due = await plan(reminders._DUE, params, s.api_db_role)
        assert "ix_activities_team_meeting_starts" in due, due
        assert "Seq Scan on activities" not in due, due
        teams = await plan(reminders._TEAMS, params, s.worker_db_role)
        assert "ix_activities_team_meeting_starts" in teams, teams
        await conn.execute("DELETE FROM app.activities WHERE team_id = %s", (team,))
        await conn.execute("DELETE FROM app.teams WHERE id = %s", (team,))
