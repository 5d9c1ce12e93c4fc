"""Meeting reminders: meetings (activities of type ``meeting`` with ``metadata.starts_at``) that
start within :data:`LEAD_MINUTES` get one ``activity``/``reminder_fired`` event
(``data = {kind: "meeting", member_ids, starts_at, title, minutes_before}``), which the
notifications consumer turns into a ``meeting_reminder`` for each attendee (the attendees
listed in ``metadata.attendee_ids`` and the member who logged it). A meeting fires once per
start time: moving it later fires again for the new time. Run every minute by Dagster
(``notifications_every_minute``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from leadly import clock
from warehouse import events
from warehouse.db import api_engine, tenant_tx
from warehouse.events import EventRecord

LEAD_MINUTES = 15

# ``meeting_starts_at``: a meeting's ``metadata.starts_at`` as a stored, indexed column
# (``ix_activities_team_meeting_starts``, live meetings only).
_DUE = text(
    """
    SELECT a.id, a.subject, a.member_id, a.created_by, a.metadata AS meta,
           a.meeting_starts_at AS starts_at
    FROM app.activities a
    WHERE a.team_id = :t AND a.deleted_at IS NULL
      AND a.meeting_starts_at > :now
      AND a.meeting_starts_at <= :now + make_interval(mins => :lead)
      AND coalesce(a.metadata->>'status', 'scheduled') = 'scheduled'
      AND NOT EXISTS (
        SELECT 1 FROM app.events e
        WHERE e.team_id = a.team_id AND e.object_type = 'activity' AND e.object_id = a.id
          AND e.action = 'reminder_fired'
          AND (e.data->>'starts_at')::timestamptz = a.meeting_starts_at)
    ORDER BY a.meeting_starts_at
    """
)


# The teams with a meeting starting soon: one index probe per team (the index leads with
# team_id), run as the worker role (every team).
_TEAMS = text(
    """
    SELECT t.id AS team_id FROM app.teams t
    WHERE EXISTS (
        SELECT 1 FROM app.activities a
        WHERE a.team_id = t.id AND a.deleted_at IS NULL
          AND a.meeting_starts_at > :now
          AND a.meeting_starts_at <= :now + make_interval(mins => :lead))
    """
)


async def _teams(now: datetime) -> list[str]:
    from warehouse.db import engine as db_engine

    async with db_engine("worker").connect() as conn:
        exists = (
            await conn.execute(text("SELECT to_regclass('app.activities') IS NOT NULL"))
        ).scalar()
        if not exists:
            return []
        rows = await conn.execute(_TEAMS, {"now": now, "lead": LEAD_MINUTES})
        return [r.team_id for r in rows]


async def fire_meeting_reminders(
    now: datetime | None = None, team_ids: list[str] | None = None
) -> list[dict[str, Any]]:
    """Append a ``reminder_fired`` event for each meeting starting soon (once per start)."""
    moment = (now or clock.now()).astimezone(UTC)
    teams = team_ids if team_ids is not None else await _teams(moment)
    fired: list[dict[str, Any]] = []
    for team in teams:
        async with tenant_tx(api_engine(), team) as conn:
            # One runner per team at a time, so a meeting fires once.
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
                {"k": f"leadly.meeting_reminders:{team}"},
            )
            rows = await conn.execute(_DUE, {"t": team, "now": moment, "lead": LEAD_MINUTES})
            records = []
            for r in rows:
                meta = r.meta or {}
                members = [m for m in meta.get("attendee_ids") or [] if isinstance(m, str)]
                for m in (r.member_id, r.created_by):
                    if m and m not in members:
                        members.append(m)
                if not members:
                    continue
                minutes = max(0, round((r.starts_at - moment) / timedelta(minutes=1)))
                data = {
                    "kind": "meeting",
                    "member_ids": members,
                    "starts_at": r.starts_at.isoformat(),
                    "title": r.subject or "Meeting",
                    "minutes_before": minutes,
                }
                records.append(
                    EventRecord(
                        team_id=team,
                        actor_type="system",
                        actor_id=None,
                        object_type="activity",
                        object_id=r.id,
                        action="reminder_fired",
                        changes={},
                        data=data,
                    )
                )
                fired.append({"team_id": team, "activity_id": r.id, **data})
            await events.append(conn, *records)
    return fired
