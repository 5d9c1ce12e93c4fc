"""The dbt project against the test database: data written through the API, one `dbt build`
(models, snapshot, data tests, and every unit test of the project: a failing one fails the
build, so the suite), then the numbers, history, incremental runs and the reporting layer's
row-level security.

One build per module (module-scoped fixture); later runs select only the event-driven models.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import Team, make_team
from tests.plugin import moment
from warehouse.db import connect_as
from warehouse.dbt import dbt_env, run_dbt

# Models whose state depends on earlier runs (incremental) and what they feed.
EVENT_DRIVEN = ["int_field_changes+", "int_record_history+"]
# Bookkeeping columns of incremental models (when a row was loaded), left out of comparisons.
BOOKKEEPING = {
    "_loaded_at",
    "_loaded_xmin",
    "_history_loaded_at",
    "_snapshot_loaded_at",
    "_steps_loaded_at",
}
COMPARED = [
    "analytics_intermediate.int_field_changes",
    "analytics_intermediate.int_record_history",
    "analytics_intermediate.int_lead_funnel_steps",
    "analytics_marts.fct_daily_lead_snapshot",
    "analytics_marts.fct_lead_funnel",
    "analytics_marts.fct_daily_rollup",
    "analytics_reporting.rpt_lead_funnel",
    "analytics_reporting.rpt_daily_rollup",
    "analytics_reporting.rpt_lead_status_snapshot",
]


@dataclass
class World:
    url: str
    env: dict[str, str]
    a: Team
    b: Team
    leads: dict[str, dict[str, Any]]
    moments: dict[str, str] = field(default_factory=dict)
    snapshots: dict[str, dict[str, list[tuple[Any, ...]]]] = field(default_factory=dict)
    built: dict[str, str] = field(default_factory=dict)
    """Status of each node of the first `dbt build`, by unique id."""


async def ok(r: Any, status: int = 200) -> dict[str, Any]:
    assert r.status_code == status, r.text
    return r.json() if r.content else {}


async def lead(team: Team, **values: Any) -> dict[str, Any]:
    return await ok(await team.post("/api/v1/leads", json=values), 201)


async def patch(team: Team, lead_id: str, **values: Any) -> dict[str, Any]:
    return await ok(await team.patch(f"/api/v1/leads/{lead_id}", json=values))


async def seed_team_a(a: Team, w: dict[str, Any]) -> dict[str, dict[str, Any]]:
    me = a.member_id
    acc = await ok(await a.post("/api/v1/accounts", json={"name": "Acme", "owner_id": me}), 201)
    await ok(
        await a.post(
            "/api/v1/contacts",
            json={"first_name": "Ann", "email": "ann@acme.test", "account_id": acc["id"]},
        ),
        201,
    )
    leads = {
        # walks the whole funnel
        "l1": await lead(
            a,
            first_name="Lia",
            email="lia@one.test",
            company_name="One Co",
            source="web",
            owner_id=me,
            rating=4.1,
            reviews_count=10,
            website_score=50,
        ),
        # jumps from new to qualified (passes contacted)
        "l2": await lead(a, first_name="Leo", source="web", owner_id=me),
        # contacted, then unqualified; no owner
        "l3": await lead(a, first_name="Lu", source="referral"),
        # stays new: no source, no owner
        "l4": await lead(a, first_name="Lou"),
        # deleted: left out of the funnel
        "l5": await lead(a, first_name="Lee", source="web", owner_id=me),
        # created contacted
        "l6": await lead(a, first_name="Lin", source="web", owner_id=me, status="contacted"),
    }
    ids = {k: v["id"] for k, v in leads.items()}
    await patch(a, ids["l1"], status="contacted", rating=4.4, reviews_count=12)
    w["l1_contacted"] = await moment()
    await patch(a, ids["l1"], status="qualified", website_score=70)
    w["l1_qualified"] = await moment()
    await ok(await a.post(f"/api/v1/leads/{ids['l1']}/convert", json={}), 201)
    await patch(a, ids["l2"], status="qualified")
    await patch(a, ids["l3"], status="contacted")
    await patch(a, ids["l3"], status="unqualified")
    assert (await a.delete(f"/api/v1/leads/{ids['l5']}")).status_code == 204
    calls = [
        {"lead_id": ids["l1"], "member_id": me, "duration": 120, "outcome": "connected"},
        {"lead_id": ids["l3"], "member_id": me, "duration": 30, "outcome": "voicemail"},
        {"lead_id": ids["l2"], "member_id": me, "duration": 90, "outcome": "meeting_booked"},
    ]
    for c in calls:
        await ok(await a.post("/api/v1/call-logs", json=c), 201)
    # as the API shows them now (l5 is deleted: as created)
    return {
        k: await ok(await a.get(f"/api/v1/leads/{v}")) if k != "l5" else leads[k]
        for k, v in ids.items()
    }


def rows(url: str, table: str, team_ids: list[str]) -> list[tuple[Any, ...]]:
    """Every row of ``table`` of the given teams (other tests write to the same database
    meanwhile), without bookkeeping columns, sorted, as the analytics role."""
    with connect_as(url, "leadly_analytics") as conn:
        schema, name = table.split(".")
        cols = [
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
                (schema, name),
            )
            if r[0] not in BOOKKEEPING
        ]
        q = f"SELECT {', '.join(cols)} FROM {table} WHERE team_id = ANY(%s)"  # catalog names
        return sorted((tuple(map(str, r)) for r in conn.execute(q, (team_ids,))), key=repr)


def snapshot(url: str, *teams: Team) -> dict[str, list[tuple[Any, ...]]]:
    return {t: rows(url, t, [team.team_id for team in teams]) for t in COMPARED}


def query(url: str, sql: str, *args: Any) -> list[dict[str, Any]]:
    with connect_as(url, "leadly_analytics") as conn:
        cur = conn.cursor(row_factory=psycopg.rows.dict_row)
        return list(cur.execute(sql, args))


@pytest.fixture(scope="module")
async def world(
    http: Any, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    a, b = await make_team(http, "Analytics A"), await make_team(http, "Analytics B")
    moments: dict[str, Any] = {}
    leads = await seed_team_a(a, moments)
    bo = await lead(b, first_name="Bo", source="web", owner_id=b.member_id)
    await lead(b, first_name="Bea", source="referral", status="qualified")
    call = {"lead_id": bo["id"], "duration": 60, "outcome": "busy"}
    await ok(await b.post("/api/v1/call-logs", json=call), 201)

    tmp: Path = tmp_path_factory.mktemp("dbt")
    env = dbt_env(target_path=tmp / "target", log_path=tmp / "logs")
    assert env["LEADLY_DBT_DBNAME"] == database_url.rsplit("/", 1)[-1].split("?")[0]
    build = run_dbt(["build"], env=env)  # raises DbtError naming any failed node
    w = World(database_url, env, a, b, leads, moments)
    w.built = {r.node.unique_id: str(r.status) for r in build.result.results}
    w.snapshots["first"] = snapshot(database_url, a, b)

    # Nothing new: an incremental run changes nothing.
    run_dbt(["run", "--select", *EVENT_DRIVEN], env=env)
    w.snapshots["again"] = snapshot(database_url, a, b)

    # New activity, then an incremental run, then a full rebuild of the same models.
    await patch(a, leads["l4"]["id"], status="contacted", owner_id=a.member_id)
    await lead(a, first_name="Lars", source="web")
    assert (await a.delete(f"/api/v1/leads/{leads['l6']['id']}")).status_code == 204
    await ok(await a.post(f"/api/v1/leads/{leads['l5']['id']}/restore"))
    run_dbt(["run", "--select", *EVENT_DRIVEN], env=env)
    w.snapshots["incremental"] = snapshot(database_url, a, b)
    run_dbt(["run", "--full-refresh", "--select", *EVENT_DRIVEN], env=env)
    w.snapshots["full"] = snapshot(database_url, a, b)
    yield w


def test_build_succeeds_and_is_idempotent(world: World) -> None:
    first, again = world.snapshots["first"], world.snapshots["again"]
    for table in COMPARED:
        assert first[table], f"{table} is empty"
        assert again[table] == first[table], f"{table} changed on a run with no new events"


def test_build_runs_every_unit_test(world: World) -> None:
    manifest = json.loads((Path(world.env["DBT_TARGET_PATH"]) / "manifest.json").read_text())
    unit_tests = sorted(manifest["unit_tests"])
    assert len(unit_tests) >= 30, unit_tests
    assert {t: world.built.get(t) for t in unit_tests} == dict.fromkeys(unit_tests, "pass")


def test_incremental_run_matches_full_rebuild(world: World) -> None:
    inc, full = world.snapshots["incremental"], world.snapshots["full"]
    for table in COMPARED:
        assert inc[table] == full[table], f"{table}: incremental differs from a full rebuild"
    assert inc != world.snapshots["first"]


def test_funnel_counts(world: World) -> None:
    a = world.a
    got = query(
        world.url,
        "SELECT source, owner_id, owner_name, leads_created, leads_contacted, leads_qualified,"
        " leads_converted, contacted_rate, qualified_rate, converted_rate,"
        " avg_hours_to_contacted, avg_hours_to_converted"
        " FROM analytics_reporting.rpt_lead_funnel WHERE team_id = %s",
        a.team_id,
    )
    by_key = {(r["source"], r["owner_id"]): r for r in got}
    # After the second batch: l4 contacted and owned, l6 deleted, l5 restored, a new web lead.
    web = by_key[("web", a.member_id)]
    owner_name = web["owner_name"]
    assert owner_name and owner_name.startswith("Owner ")
    # web + owner: l1 (to converted), l2 (qualified), l5 (restored, new)
    assert (
        web["leads_created"],
        web["leads_contacted"],
        web["leads_qualified"],
        web["leads_converted"],
    ) == (3, 2, 2, 1)
    assert web["contacted_rate"] == Decimal("0.6667")
    assert web["converted_rate"] == Decimal("0.3333")
    assert web["avg_hours_to_contacted"] is not None and web["avg_hours_to_contacted"] >= 0
    ref = by_key[("referral", None)]  # l3: contacted, then unqualified
    assert (ref["leads_created"], ref["leads_contacted"], ref["leads_qualified"]) == (1, 1, 0)
    unknown = by_key[("unknown", a.member_id)]  # l4, owned and contacted in the second batch
    assert (unknown["leads_created"], unknown["leads_contacted"]) == (1, 1)
    new_web = by_key[("web", None)]  # the lead created in the second batch
    assert (new_web["leads_created"], new_web["leads_contacted"]) == (1, 0)
    assert new_web["avg_hours_to_contacted"] is None
    assert sum(r["leads_created"] for r in got) == 6  # l1 l2 l3 l4 l5 + new; not l6


def test_rollup_values(world: World) -> None:
    a, today = world.a, datetime.now(UTC).date()
    got = query(
        world.url,
        "SELECT metric, dimension_name, dimension_value, value"
        " FROM analytics_reporting.rpt_daily_rollup WHERE team_id = %s AND metric_date = %s",
        a.team_id,
        today,
    )
    v = {(r["metric"], r["dimension_name"], r["dimension_value"]): r["value"] for r in got}
    assert v[("leads_created", "all", "all")] == 6
    assert v[("leads_created", "source", "web")] == 4
    assert v[("leads_created", "source", "unknown")] == 1
    assert v[("leads_contacted", "all", "all")] == 4  # l1, l2 (via qualified), l3, l4
    assert v[("leads_qualified", "all", "all")] == 2
    assert v[("leads_converted", "all", "all")] == 1
    assert v[("leads_converted", "owner_id", a.member_id)] == 1
    assert v[("calls_logged", "all", "all")] == 3
    assert v[("calls_connected", "all", "all")] == 2  # connected + meeting_booked
    assert v[("call_minutes", "owner_id", a.member_id)] == Decimal("4.0000")
    assert v[("contacts_created", "all", "all")] == 2  # Ann + the converted lead's contact
    assert v[("accounts_created", "all", "all")] == 2  # Acme + One Co from the conversion
    assert ("calls_logged", "source", "web") not in v  # source is for lead metrics


def test_daily_snapshot_and_marts(world: World) -> None:
    a = world.a
    snap = query(
        world.url,
        "SELECT l.lead_id, l.status, l.rating, l.website_score, l.is_deleted"
        " FROM analytics_marts.fct_daily_lead_snapshot l"
        " WHERE l.team_id = %s AND l.snapshot_date = (now() AT TIME ZONE 'UTC')::date",
        a.team_id,
    )
    by_id = {r["lead_id"]: r for r in snap}
    l1 = by_id[world.leads["l1"]["id"]]
    assert (l1["status"], l1["rating"], l1["website_score"]) == ("converted", Decimal("4.4"), 70)
    assert by_id[world.leads["l6"]["id"]]["is_deleted"] is True  # deleted today: its last day
    assert len(snap) == 7
    fct = query(
        world.url,
        "SELECT lead_id, status, contacted_at, converted_at FROM analytics_marts.fct_leads"
        " WHERE team_id = %s",
        a.team_id,
    )
    assert len(fct) == 6
    l1f = next(r for r in fct if r["lead_id"] == world.leads["l1"]["id"])
    assert l1f["status"] == "converted" and l1f["contacted_at"] <= l1f["converted_at"]
    secrets = query(
        world.url,
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema LIKE 'analytics%%'"
        " AND column_name IN ('password_hash', 'token_hash', 'key_hash', 'request_hash', 'body')",
    )
    assert secrets == []


async def test_history_rebuilds_past_state_like_the_api(world: World) -> None:
    a = world.a
    lead_id = world.leads["l1"]["id"]
    for name in ("l1_contacted", "l1_qualified"):
        t = world.moments[name]
        (hist,) = query(
            world.url,
            "SELECT version, state FROM analytics_intermediate.int_record_history"
            " WHERE team_id = %s AND object_type = 'lead' AND object_id = %s"
            " AND valid_from <= %s AND (valid_to > %s OR valid_to IS NULL)",
            a.team_id,
            lead_id,
            t,
            t,
        )
        api = await ok(await a.get(f"/api/v1/leads/{lead_id}", params={"as_of": t}))
        assert hist["version"] == api["version"]
        state = hist["state"]
        assert state["status"] == api["status"] == name.removeprefix("l1_")
        for key, value in state.items():
            if key.endswith("_at") and value is not None:
                assert datetime.fromisoformat(value) == datetime.fromisoformat(api[key]), key
            else:
                assert value == api[key], key


def test_reporting_rows_are_scoped_to_the_team(world: World) -> None:
    a, b = world.a, world.b
    tables = [
        "analytics_reporting.rpt_lead_funnel",
        "analytics_reporting.rpt_daily_rollup",
        "analytics_reporting.rpt_lead_status_snapshot",
    ]
    for table in tables:
        teams = {r["team_id"] for r in query(world.url, f"SELECT DISTINCT team_id FROM {table}")}
        assert {a.team_id, b.team_id} <= teams, table
    with connect_as(world.url, "leadly_dashboard") as conn:
        for table in tables:
            with conn.transaction():
                conn.execute("SELECT set_config('app.team_id', %s, true)", (a.team_id,))
                got = conn.execute(f"SELECT * FROM {table}").fetchall()  # a hand-written query
                assert got, table
                assert {r[0] for r in got} == {a.team_id}, table
                count_b = conn.execute(
                    f"SELECT count(*) FROM {table} WHERE team_id = %s", (b.team_id,)
                ).fetchone()[0]
                assert count_b == 0, table
            with conn.transaction():  # no team set: nothing
                assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
        # The dashboard role reads the reporting layer only.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT 1 FROM analytics_marts.fct_leads LIMIT 1")


def test_dbt_env_points_at_the_test_database(world: World) -> None:
    env = world.env
    assert env["DBT_SEND_ANONYMOUS_USAGE_STATS"] == "false"
    assert env["LEADLY_DBT_USER"] == "leadly_analytics"
    assert Path(env["DBT_PROFILES_DIR"], "profiles.yml").exists()
    assert (Path(env["DBT_TARGET_PATH"]) / "manifest.json").exists()
