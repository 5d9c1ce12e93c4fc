"""The deal models against the test database: deals written through the API, then `dbt build`
of the deal models (their data tests and unit tests), the numbers, and the forecast backtest:
the forecast of a past day computed now equals the live forecast of that day.

"That day" is made by writing deals, reading the live forecast from the app tables, then moving
the team's events three days back (superuser, triggers off); the changes made afterwards are
today's. One build per module.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.conftest import Team, make_team
from warehouse.dbt import dbt_env, run_dbt

pytestmark = pytest.mark.xdist_group("deals_dbt")

DEAL_MODELS = [
    "stg_app__pipelines",
    "stg_app__deals",
    "stg_app__deal_contacts",
    "stg_app__deal_stage_history",
    "int_pipeline_stages",
    "fct_deal_stage_transitions",
    "fct_deal_velocity",
    "fct_daily_pipeline_snapshot",
    "rpt_forecast",
    "rpt_weighted_pipeline",
    "rpt_win_loss",
]
SHIFT_DAYS = 3

LIVE_FORECAST = """
SELECT d.pipeline_id, coalesce(st.s ->> 'forecast_category', 'unknown') AS forecast_category,
       date_trunc('month', CASE WHEN d.status = 'open' THEN d.expected_close_date
                                ELSE coalesce(d.actual_close_date, d.expected_close_date) END
       )::date AS close_month,
       d.currency, count(*)::int AS deals, coalesce(sum(d.value), 0)::numeric(18, 2) AS total_value,
       round(coalesce(sum(d.value * d.probability / 100.0), 0), 2)::numeric(18, 2) AS weighted_value
FROM app.deals d
JOIN app.pipelines p ON p.team_id = d.team_id AND p.id = d.pipeline_id
LEFT JOIN LATERAL (SELECT e FROM jsonb_array_elements(p.stages) e WHERE e ->> 'key' = d.stage)
     AS st (s) ON true
WHERE d.team_id = %s AND d.deleted_at IS NULL
GROUP BY 1, 2, 3, 4
"""
FORECAST_ROWS = """
SELECT pipeline_id, forecast_category, close_month, currency, deals, total_value, weighted_value
FROM analytics_reporting.rpt_forecast WHERE team_id = %s AND snapshot_date = %s
"""


def _key(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted(tuple(str(v) for v in r.values()) for r in rows)


@dataclass
class World:
    url: str
    a: Team
    b: Team
    deals: dict[str, dict[str, Any]]
    then: list[dict[str, Any]]
    now: list[dict[str, Any]]
    today: date
    env: dict[str, str]


def sql(url: str, query: str, *args: Any) -> list[dict[str, Any]]:
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        return list(conn.execute(query, args))  # type: ignore[arg-type]


async def deal(team: Team, **values: Any) -> dict[str, Any]:
    r = await team.post("/api/v1/deals", json={"name": "D", **values})
    assert r.status_code == 201, r.text
    return r.json()


async def move(team: Team, deal_id: str, stage: str, **body: Any) -> dict[str, Any]:
    r = await team.post(f"/api/v1/deals/{deal_id}/move", json={"stage": stage, **body})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="module")
async def world(http: Any, database_url: str, tmp_path_factory: pytest.TempPathFactory) -> World:
    url = os.environ["LEADLY_DATABASE_URL"]
    a, b = await make_team(http, "Deals A"), await make_team(http, "Deals B")
    close = (datetime.now(UTC).date() + timedelta(days=40)).isoformat()
    d = {
        "d1": await deal(a, value="1000", owner_id=a.member_id, expected_close_date=close),
        "d2": await deal(a, value="500.25", stage="negotiation", expected_close_date=close),
        "d3": await deal(a, value="200", currency="EUR", source="referral"),
        "d4": await deal(a, value="80", competitor="HubSpot"),
        "d5": await deal(a, value="30"),
        "d6": await deal(a),
    }
    await move(a, d["d3"]["id"], "won", win_reason="Fit")
    await move(a, d["d4"]["id"], "lost", loss_reason="Price")
    await move(a, d["d5"]["id"], "contact_made")
    await deal(b, value="99999")  # another team: never in team A's numbers
    then = sql(url, LIVE_FORECAST, a.team_id)
    # Everything so far happened SHIFT_DAYS ago.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")  # the append-only trigger
        conn.execute(
            "UPDATE app.events SET occurred_at = occurred_at - make_interval(days => %s) "
            "WHERE team_id = %s",
            (SHIFT_DAYS, a.team_id),
        )
    # Today: moves, value changes, a deletion, a new deal and a re-categorised stage.
    await move(a, d["d1"]["id"], "proposal_made")
    r = await a.patch(f"/api/v1/deals/{d['d2']['id']}", json={"value": "750"})
    assert r.status_code == 200, r.text
    assert (await a.delete(f"/api/v1/deals/{d['d5']['id']}")).status_code == 204
    await deal(a, value="42", expected_close_date=close)
    pid = d["d1"]["pipeline_id"]
    r = await a.patch(
        f"/api/v1/pipelines/{pid}/stages/negotiation", json={"forecast_category": "best_case"}
    )
    assert r.status_code == 200, r.text
    now = sql(url, LIVE_FORECAST, a.team_id)

    tmp: Path = tmp_path_factory.mktemp("dbt_deals")
    env = dbt_env(target_path=tmp / "target", log_path=tmp / "logs")
    run_dbt(["run", "--select", "stg_app__events", "int_record_history"], env=env)
    run_dbt(["build", "--select", *DEAL_MODELS], env=env)
    return World(url, a, b, d, then, now, datetime.now(UTC).date(), env)


def test_forecast_backtest_equals_that_days_live_forecast(world: World) -> None:
    past = world.today - timedelta(days=SHIFT_DAYS)
    assert world.then != world.now  # the later changes did change the forecast
    assert _key(sql(world.url, FORECAST_ROWS, world.a.team_id, past)) == _key(world.then)
    assert _key(sql(world.url, FORECAST_ROWS, world.a.team_id, world.today)) == _key(world.now)
    # The days between keep the past state.
    between = past + timedelta(days=1)
    assert _key(sql(world.url, FORECAST_ROWS, world.a.team_id, between)) == _key(world.then)


def test_snapshot_rows_per_deal_per_day(world: World) -> None:
    rows = sql(
        world.url,
        "SELECT deal_id, count(*) AS days, min(snapshot_date) AS first, bool_or(is_deleted) AS gone "
        "FROM analytics_marts.fct_daily_pipeline_snapshot WHERE team_id = %s GROUP BY deal_id",
        world.a.team_id,
    )
    by = {r["deal_id"]: r for r in rows}
    d1 = by[world.deals["d1"]["id"]]
    assert d1["days"] == SHIFT_DAYS + 1 and d1["first"] == world.today - timedelta(days=SHIFT_DAYS)
    assert by[world.deals["d5"]["id"]]["gone"] is True
    stage = sql(
        world.url,
        "SELECT snapshot_date, stage, forecast_category FROM analytics_marts.fct_daily_pipeline_snapshot "
        "WHERE deal_id = %s ORDER BY snapshot_date",
        world.deals["d2"]["id"],
    )
    cats = [r["forecast_category"] for r in stage]
    assert cats == ["commit"] * SHIFT_DAYS + ["best_case"]


async def test_weighted_pipeline_matches_the_board(world: World) -> None:
    a = world.a
    pid = world.deals["d1"]["pipeline_id"]
    board = (await a.get(f"/api/v1/pipelines/{pid}/board")).json()
    rows = sql(
        world.url,
        "SELECT stage, sum(open_deals) AS n, sum(total_value) AS total, sum(weighted_value) AS w "
        "FROM analytics_reporting.rpt_weighted_pipeline "
        "WHERE team_id = %s AND snapshot_date = %s AND pipeline_id = %s GROUP BY stage",
        a.team_id,
        world.today,
        pid,
    )
    got = {r["stage"]: (int(r["n"]), Decimal(r["total"]), Decimal(r["w"])) for r in rows}
    want = {
        c["stage"]: (c["count"], Decimal(c["total_value"]), Decimal(c["weighted_value"]))
        for c in board["columns"]
        if c["count"] and c["stage"] not in ("won", "lost")
    }
    assert got == want
    assert not sql(
        world.url,
        "SELECT 1 FROM analytics_reporting.rpt_weighted_pipeline WHERE team_id = %s "
        "AND pipeline_id = %s",
        world.b.team_id,
        pid,
    )


def test_win_loss_and_transitions(world: World) -> None:
    rows = sql(
        world.url,
        "SELECT outcome, reason, competitor, source, currency, deals, total_value "
        "FROM analytics_reporting.rpt_win_loss WHERE team_id = %s ORDER BY outcome",
        world.a.team_id,
    )
    assert [(r["outcome"], r["reason"], r["competitor"], r["source"], r["currency"], r["deals"],
             str(r["total_value"])) for r in rows] == [
        ("lost", "Price", "HubSpot", "unknown", "USD", 1, "80.00"),
        ("won", "Fit", "none", "referral", "EUR", 1, "200.00"),
    ]  # fmt: skip
    t = sql(
        world.url,
        "SELECT from_stage, to_stage, is_creation, is_forward FROM "
        "analytics_marts.fct_deal_stage_transitions WHERE deal_id = %s ORDER BY changed_at",
        world.deals["d1"]["id"],
    )
    assert [(r["from_stage"], r["to_stage"], r["is_creation"], r["is_forward"]) for r in t] == [
        (None, "qualified", True, None),
        ("qualified", "proposal_made", False, True),
    ]
    v = sql(
        world.url,
        "SELECT stage, transitions FROM analytics_marts.fct_deal_velocity WHERE team_id = %s "
        "ORDER BY stage",
        world.a.team_id,
    )
    assert sum(r["transitions"] for r in v) == 4  # d3, d4, d5 moved once each, d1 today


SNAPSHOT_ROWS = """
SELECT team_id, deal_id, snapshot_date, version, pipeline_id, stage, status, forecast_category,
       value, currency, value_type, probability, weighted_value, expected_close_date,
       actual_close_date, close_month, owner_id, is_deleted
FROM analytics_marts.fct_daily_pipeline_snapshot ORDER BY team_id, deal_id, snapshot_date
"""


async def test_incremental_snapshot_matches_a_full_rebuild(world: World) -> None:
    """Runs last in the module: it changes the data the other tests read."""
    a, d = world.a, world.deals
    await move(a, d["d1"]["id"], "negotiation")
    await move(a, d["d6"]["id"], "contact_made")
    assert (await a.delete(f"/api/v1/deals/{d['d2']['id']}")).status_code == 204
    r = await a.patch(
        f"/api/v1/pipelines/{d['d1']['pipeline_id']}/stages/contact_made",
        json={"forecast_category": "commit"},
    )
    assert r.status_code == 200, r.text
    # d3 (won) does not change today: only its pipeline does.
    r = await a.patch(
        f"/api/v1/pipelines/{d['d1']['pipeline_id']}/stages/won",
        json={"forecast_category": "commit"},
    )
    assert r.status_code == 200, r.text
    run_dbt(["run", "--select", "int_record_history", "fct_daily_pipeline_snapshot"], env=world.env)
    incremental = sql(world.url, SNAPSHOT_ROWS)
    run_dbt(["run", "--full-refresh", "--select", "fct_daily_pipeline_snapshot"], env=world.env)
    assert sql(world.url, SNAPSHOT_ROWS) == incremental
    today = {r["deal_id"]: r for r in incremental if r["snapshot_date"] == world.today}
    assert today[d["d1"]["id"]]["stage"] == "negotiation"
    assert today[d["d6"]["id"]]["forecast_category"] == "commit"
    assert today[d["d2"]["id"]]["is_deleted"] is True
    past = world.today - timedelta(days=SHIFT_DAYS)
    earlier = {r["deal_id"]: r for r in incremental if r["snapshot_date"] == past}
    assert earlier[d["d1"]["id"]]["stage"] == "qualified"  # the past stays the past
    assert today[d["d3"]["id"]]["forecast_category"] == "commit"
    assert earlier[d["d3"]["id"]]["forecast_category"] == "closed"
