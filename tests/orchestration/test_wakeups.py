"""The Dagster jobs that append events (task reminders, meeting reminders) publish the
dispatcher's wake-up after their commits, as the API does, so the worker delivers what they fired
at once instead of at its next poll. Each job runs in a process of its own, as a Dagster run
does, with a Redis prefix of its own, so the wake-ups of the other tests (same server, same run)
cannot be taken for the job's."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from api.dispatcher import wake
from tests.conftest import Team


@pytest.fixture
def own_prefix() -> str:
    if not os.environ.get("LEADLY_REDIS_URL"):
        pytest.skip("LEADLY_TEST_REDIS_URL is not set")
    return f"leadly-wake-{secrets.token_hex(4)}"


async def wake_ups_during(prefix: str, job: str) -> int:
    """How many wake-ups reached Redis (under ``prefix``) while ``job`` (the plain function
    behind a Dagster op, ``module:function``) ran in a process of its own, as in a Dagster run."""
    import redis.asyncio as redis

    module, function = job.split(":")
    client = redis.from_url(os.environ["LEADLY_REDIS_URL"])
    pubsub = client.pubsub()
    try:
        await pubsub.subscribe(f"{prefix}:rt:{wake.CHANNEL}")
        await pubsub.get_message(timeout=1.0)  # the subscribe confirmation
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            f"from {module} import {function}; print({function}())",
            env={**os.environ, "LEADLY_REDIS_PREFIX": prefix},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 120)
        assert proc.returncode == 0, out.decode()
        count = 0
        while await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5):
            count += 1
        return count
    finally:
        await pubsub.aclose()
        await client.aclose()


def plant(sql: str, params: tuple[Any, ...]) -> None:
    with psycopg.connect(os.environ["LEADLY_DATABASE_URL"], autocommit=True) as conn:
        conn.execute(sql, params)


async def test_the_task_reminder_job_wakes_the_dispatcher(team: Team, own_prefix: str) -> None:
    job = "orchestration.defs.tasks.jobs:fire_reminders_now"
    assert await wake_ups_during(own_prefix, job) == 0  # nothing due: no commit with events
    plant(
        """INSERT INTO app.tasks (team_id, id, title, due_at, due_set_at, assignee_ids)
        VALUES (%s, %s, 'Overdue', now() - interval '1 minute', now() - interval '2 days',
                ARRAY[%s])""",
        (team.team_id, f"task_wake{secrets.token_hex(3)}", team.member_id),
    )
    assert await wake_ups_during(own_prefix, job) >= 1


async def test_the_notifications_job_wakes_the_dispatcher(team: Team, own_prefix: str) -> None:
    r = await team.post("/api/v1/leads", json={"first_name": "Wake", "last_name": "Up"})
    starts = (datetime.now(UTC) + timedelta(minutes=5)).replace(microsecond=0)
    r = await team.post(
        "/api/v1/activities",
        json={
            "type": "meeting",
            "related_to_type": "lead",
            "related_to_id": r.json()["id"],
            "subject": "Demo",
            "metadata": {"starts_at": starts.isoformat()},
        },
    )
    assert r.status_code == 201, r.text
    job = "orchestration.defs.notifications.jobs:run_notifications_now"
    assert await wake_ups_during(own_prefix, job) >= 1
