"""The task models against the test database: tasks completed through the API (with time
logs), one `dbt build` of the task models (staging views, fct_tasks, rpt_task_throughput, their
data and unit tests), then the numbers and the reporting layer's row-level security."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.api.records.conftest import add_member
from tests.conftest import Team, make_team
from warehouse.db import connect_as
from warehouse.dbt import dbt_env, run_dbt

# One worker runs this module (`--dist loadgroup`): one dbt build, never two at once.
pytestmark = pytest.mark.xdist_group("tasks_dbt")

SELECT = [
    "+rpt_task_throughput",
    "fct_task_credits",
    "stg_app__tasks",
    "stg_app__task_dependencies",
    "stg_app__time_logs",
    "stg_app__task_reminders",
]


@dataclass
class World:
    url: str
    a: Team
    b: Team
    mate_id: str
    ids: dict[str, str]
    week: date


def rows(url: str, sql: str, *args: Any) -> list[dict[str, Any]]:
    with connect_as(url, "leadly_analytics") as conn:
        return list(conn.cursor(row_factory=dict_row).execute(sql, args))


def iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
async def world(
    http: Any, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    a, b = await make_team(http, "Tasks A"), await make_team(http, "Tasks B")
    mate = await add_member(a, "user")
    now = datetime.now(UTC)
    ids: dict[str, str] = {}

    async def make(key: str, team: Team, **body: Any) -> str:
        r = await team.post("/api/v1/tasks", json={"title": key, **body})
        assert r.status_code == 201, r.text
        ids[key] = r.json()["id"]
        return ids[key]

    async def log(team: Team, key: str, hours: float) -> None:
        end = now - timedelta(minutes=5)
        r = await team.post(
            f"/api/v1/tasks/{ids[key]}/time-logs",
            json={"started_at": iso(end - timedelta(hours=hours)), "ended_at": iso(end)},
        )
        assert r.status_code == 201, r.text

    async def complete(team: Team, key: str) -> None:
        r = await team.patch(f"/api/v1/tasks/{ids[key]}", json={"status": "completed"})
        assert r.status_code == 200, r.text

    # Owner: on time with an estimate of 2 h and 4 h logged; late; no due date.
    await make("on_time", a, due_at=iso(now + timedelta(days=1)), estimated_hours=2)
    await log(a, "on_time", 4)
    await make("late", a, due_at=iso(now - timedelta(days=1)), assignee_ids=[a.member_id])
    await make("undated", a, assignee_ids=[a.member_id, mate.member_id], estimated_hours=1)
    await log(a, "undated", 1)
    await make("open", a, due_at=iso(now + timedelta(days=2)))
    await make("gone", a)
    for key in ("on_time", "late", "undated", "gone"):
        await complete(a, key)
    assert (await a.delete(f"/api/v1/tasks/{ids['gone']}")).status_code == 204
    # Written without completed_at (as an import or a seed may): still counted this week.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO app.tasks (team_id, id, title, status, assignee_ids, created_by) "
            "VALUES (%s, 'task_seeded_done', 'seeded', 'completed', ARRAY[%s], %s)",
            (a.team_id, mate.member_id, a.member_id),
        )
    await make("elsewhere", b)
    await complete(b, "elsewhere")

    tmp: Path = tmp_path_factory.mktemp("dbt_tasks")
    env = dbt_env(target_path=tmp / "target", log_path=tmp / "logs")
    run_dbt(["build", "--select", *SELECT], env=env)  # models, data tests and unit tests
    week = (now - timedelta(days=now.weekday())).date()
    yield World(database_url, a, b, mate.member_id, ids, week)


def test_fct_tasks(world: World) -> None:
    got = {
        r["task_id"]: r
        for r in rows(
            world.url,
            "SELECT * FROM analytics_marts.fct_tasks WHERE team_id = %s",
            world.a.team_id,
        )
    }
    assert world.ids["gone"] not in got
    on_time, late = got[world.ids["on_time"]], got[world.ids["late"]]
    assert on_time["is_on_time"] is True and late["is_on_time"] is False
    assert round(on_time["actual_hours"], 2) == Decimal("4.00")
    assert on_time["primary_assignee_id"] is None
    credits = rows(
        world.url,
        "SELECT task_id, member_id FROM analytics_marts.fct_task_credits WHERE team_id = %s",
        world.a.team_id,
    )
    by_task = {}
    for c in credits:
        by_task.setdefault(c["task_id"], set()).add(c["member_id"])
    assert by_task[world.ids["on_time"]] == {world.a.member_id}  # no assignee: the creator
    assert by_task[world.ids["undated"]] == {world.a.member_id, world.mate_id}
    assert got[world.ids["undated"]]["is_on_time"] is None
    assert got[world.ids["open"]]["is_completed"] is False
    assert on_time["completed_week"] == world.week


def test_rpt_task_throughput(world: World) -> None:
    got = {
        r["member_id"]: r
        for r in rows(
            world.url,
            "SELECT * FROM analytics_reporting.rpt_task_throughput WHERE team_id = %s",
            world.a.team_id,
        )
    }
    owner, mate = got[world.a.member_id], got[world.mate_id]
    assert owner["week_start"] == world.week
    assert (owner["tasks_completed"], owner["tasks_with_due_date"], owner["completed_on_time"]) == (
        3,
        2,
        1,
    )
    assert owner["on_time_rate"] == Decimal("0.5000")
    # on_time: 2 h estimated / 4 h logged; undated: 1 h / 1 h  → 3 / 5.
    assert owner["tasks_estimated"] == 2 and owner["estimate_accuracy"] == Decimal("0.6000")
    assert (mate["tasks_completed"], mate["tasks_with_due_date"], mate["on_time_rate"]) == (
        2,
        0,
        None,
    )
    assert mate["estimate_accuracy"] == Decimal("1.0000")


def test_reporting_row_level_security(world: World) -> None:
    table = "analytics_reporting.rpt_task_throughput"
    with connect_as(world.url, "leadly_dashboard") as conn:
        with conn.transaction():
            conn.execute("SELECT set_config('app.team_id', %s, true)", (world.b.team_id,))
            teams = {r[0] for r in conn.execute(f"SELECT team_id FROM {table}").fetchall()}
            assert teams == {world.b.team_id}
        with conn.transaction():  # no team set: nothing
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT 1 FROM analytics_marts.fct_tasks LIMIT 1")
