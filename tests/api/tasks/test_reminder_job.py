"""The Dagster job that fires reminders every minute: its definition, and one real run."""

from __future__ import annotations

import os

import dagster as dg
import psycopg

from orchestration.defs.tasks.definitions import defs
from orchestration.defs.tasks.jobs import task_reminders
from tests.conftest import Team


def test_schedule_runs_every_minute() -> None:
    schedule = defs.resolve_schedule_def("task_reminders_every_minute")
    assert schedule.cron_schedule == "* * * * *" and schedule.job_name == "task_reminders"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING


def test_job_fires_an_overdue_alert_once(team: Team) -> None:
    url = os.environ["LEADLY_DATABASE_URL"]
    with psycopg.connect(url, autocommit=True) as conn:
        # Due a minute ago, set two days ago: its overdue alert is due now.
        conn.execute(
            """INSERT INTO app.tasks (team_id, id, title, due_at, due_set_at, assignee_ids)
            VALUES (%s, 'task_jobdue', 'Overdue', now() - interval '1 minute',
                    now() - interval '2 days', ARRAY[%s])""",
            (team.team_id, team.member_id),
        )
    for _ in range(2):  # the second run finds it already fired
        result = task_reminders.execute_in_process()
        assert result.success
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT action, data FROM app.events WHERE team_id = %s AND object_id = 'task_jobdue'",
            (team.team_id,),
        ).fetchall()
    assert [(a, d["kind"], d["member_id"]) for a, d in rows] == [
        ("reminder_fired", "overdue", team.member_id)
    ]
