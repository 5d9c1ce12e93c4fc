"""The activity models against the test database: activities logged through the API (and
entries derived from events), one `dbt build` of the activity models (views, fct_activities,
rpt_activity_by_member_daily, their data and unit tests), then the numbers and the reporting
layer's row-level security."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.api.activities.conftest import derive, log, new_lead
from tests.conftest import Team, make_team
from tests.dispatcher.conftest import add_member
from warehouse.db import connect_as
from warehouse.dbt import dbt_env, run_dbt

SELECT = [
    "+rpt_activity_by_member_daily",
    "stg_app__activities",
    "stg_app__activity_comments",
    "stg_app__mentions",
]
DAY = "2026-03-02"


@dataclass
class World:
    url: str
    a: Team
    b: Team
    mate_id: str
    ids: dict[str, str]


def rows(url: str, sql: str, *args: Any) -> list[dict[str, Any]]:
    with connect_as(url, "leadly_analytics") as conn:
        return list(conn.cursor(row_factory=dict_row).execute(sql, args))


@pytest.fixture(scope="module")
async def world(
    http: Any, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    a, b = await make_team(http, "Timeline A"), await make_team(http, "Timeline B")
    mate = await add_member(http, a, "user")
    mate_id = (await mate.get("/api/v1/me")).json()["member"]["id"]
    lead = await new_lead(a, status="new")
    at = f"{DAY}T10:00:00Z"
    ids = {}
    for key, who, body in [
        ("c1", a, {"type": "call", "metadata": {"duration": 120, "outcome": "connected"}}),
        ("c2", a, {"type": "call", "metadata": {"duration": 30, "outcome": "voicemail"}}),
        ("c3", mate, {"type": "call", "metadata": {"duration": 60}}),
        ("e1", a, {"type": "email", "metadata": {"status": "sent"}}),
        ("m1", a, {"type": "meeting", "metadata": {"starts_at": at, "status": "completed"}}),
        ("n1", mate, {"type": "note", "description": f"cc @[A]({a.member_id})"}),
        ("gone", a, {"type": "note"}),
    ]:
        ids[key] = (await log(who, lead, "lead", occurred_at=at, **body))["id"]
    assert (await a.delete(f"/api/v1/activities/{ids['gone']}")).status_code == 204
    r = await a.post(f"/api/v1/activities/{ids['c1']}/comments", json={"text": "nice"})
    assert r.status_code == 201
    await a.patch(f"/api/v1/leads/{lead['id']}", json={"status": "contacted"})
    await derive(a.team_id)
    other = await new_lead(b)
    await log(b, other, "lead", type="call", occurred_at=at, metadata={"duration": 5})

    tmp: Path = tmp_path_factory.mktemp("dbt_activities")
    env = dbt_env(target_path=tmp / "target", log_path=tmp / "logs")
    run_dbt(["build", "--select", *SELECT], env=env)  # models, data tests and unit tests
    yield World(database_url, a, b, mate_id, ids)


def check_fct_activities(world: World) -> None:
    got = {
        r["activity_id"]: r
        for r in rows(
            world.url,
            "SELECT * FROM analytics_marts.fct_activities WHERE team_id = %s",
            world.a.team_id,
        )
    }
    assert world.ids["gone"] not in got  # deleted entries are left out
    c1 = got[world.ids["c1"]]
    assert (c1["call_duration_seconds"], c1["call_outcome"], c1["is_connected_call"]) == (
        120,
        "connected",
        True,
    )
    assert c1["comments_count"] == 1 and str(c1["activity_date"]) == DAY
    assert got[world.ids["n1"]]["mentions_count"] == 1
    assert got[world.ids["m1"]]["meeting_status"] == "completed"
    derived = [r for r in got.values() if r["is_derived"]]
    assert {r["activity_type"] for r in derived} >= {"system", "status_change"}


def check_rpt_activity_by_member_daily(world: World) -> None:
    got = {
        r["member_id"]: r
        for r in rows(
            world.url,
            "SELECT * FROM analytics_reporting.rpt_activity_by_member_daily "
            "WHERE team_id = %s AND activity_date = %s",
            world.a.team_id,
            DAY,
        )
    }
    owner, mate = got[world.a.member_id], got[world.mate_id]
    assert (owner["calls"], owner["emails"], owner["meetings"], owner["notes"]) == (2, 1, 1, 0)
    assert owner["calls_connected"] == 1 and owner["call_duration_seconds"] == 150
    assert owner["avg_call_duration_seconds"] == Decimal("75.0")
    assert owner["call_outcomes"] == {"connected": 1, "voicemail": 1}
    assert (mate["calls"], mate["notes"], mate["call_outcomes"]) == (1, 1, {"unknown": 1})


def check_reporting_row_level_security(world: World) -> None:
    table = "analytics_reporting.rpt_activity_by_member_daily"
    with connect_as(world.url, "leadly_dashboard") as conn:
        with conn.transaction():
            conn.execute("SELECT set_config('app.team_id', %s, true)", (world.b.team_id,))
            teams = {r[0] for r in conn.execute(f"SELECT team_id FROM {table}").fetchall()}
            assert teams == {world.b.team_id}
        with conn.transaction():  # no team set: nothing
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT 1 FROM analytics_marts.fct_activities LIMIT 1")


def test_activity_models(world: World) -> None:
    """One test (one build): with pytest 9 `--dist loadgroup` no longer keeps a module's tests
    on one worker, and each worker would build the models again."""
    check_fct_activities(world)
    check_rpt_activity_by_member_daily(world)
    check_reporting_row_level_security(world)
