"""The Dagster job that fires reminders every minute: its definition, and real runs at an
injected time."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import dagster as dg
import psycopg

from leadly import clock
from orchestration.defs.tasks.definitions import defs
from orchestration.defs.tasks.jobs import task_reminders
from tests.conftest import Team


def test_schedule_runs_every_minute() -> None:
    schedule = defs.resolve_schedule_def("task_reminders_every_minute")
    assert schedule.cron_schedule == "* * * * *" and schedule.job_name == "task_reminders"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING


def test_job_fires_each_reminder_once_when_due(team: Team) -> None:
    url = os.environ["LEADLY_DATABASE_URL"]
    with psycopg.connect(url, autocommit=True) as conn:
        # Due at 10:00, set two days before.
        conn.execute(
            """INSERT INTO app.tasks (team_id, id, title, due_at, due_set_at, assignee_ids)
            VALUES (%s, 'task_jobdue', 'Overdue', '2032-09-01T10:00:00Z',
                    '2032-08-30T10:00:00Z', ARRAY[%s])""",
            (team.team_id, team.member_id),
        )
    fired: list[list[tuple[str, str]]] = []
    # A minute before due: the default reminders (a day and an hour before); a minute after: the
    # overdue alert; running again at either time fires nothing more.
    for minute in (datetime(2032, 9, 1, 9, 59), datetime(2032, 9, 1, 10, 1)) * 2:
        with clock.frozen(minute.replace(tzinfo=UTC)):
            assert task_reminders.execute_in_process().success
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT action, data FROM app.events WHERE team_id = %s"
                " AND object_id = 'task_jobdue' ORDER BY id",
                (team.team_id,),
            ).fetchall()
        assert {a for a, _ in rows} == {"reminder_fired"}
        assert {d["member_id"] for _, d in rows} == {team.member_id}
        fired.append(sorted(((d["kind"], d["remind_at"]) for _, d in rows), key=lambda f: f[1]))
    before = [("reminder", "2032-08-31T10:00:00+00:00"), ("reminder", "2032-09-01T09:00:00+00:00")]
    after = [*before, ("overdue", "2032-09-01T10:00:00+00:00")]
    assert fired == [before, after, after, after]
