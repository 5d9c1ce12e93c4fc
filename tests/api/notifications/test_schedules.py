"""The notifications Dagster area: its job and schedule, and a real run of the job (in its own
process, as the Dagster executor runs it) firing a meeting reminder for a meeting logged
through the activities API."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.api.notifications.conftest import add_member, notifications_of, wait_for_notification
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
    await asyncio.sleep(0.3)
    assert len([n for n in await notifications_of(guest) if n["type"] == "meeting_reminder"]) == 1
