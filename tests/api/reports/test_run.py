"""Running definitions over the semantic layer: numbers against independent SQL, every filter
operator, pages, totals, comparisons, drill-down, the 400s, tenant isolation."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.reports.conftest import World
from tests.conftest import assert_problem

REQUIRED_METRICS = {
    "leads_created",
    "leads_converted",
    "lead_conversion_rate",
    "deals_won",
    "deals_won_value",
    "pipeline_value",
    "weighted_pipeline_value",
    "calls_logged",
    "activities_logged",
    "tasks_completed",
}
REQUIRED_DIMENSIONS = {
    "lead_source",
    "lead_status",
    "owner",
    "deal_stage",
    "pipeline",
    "created_date",
}


async def run(
    world: World, body: dict[str, Any], team: Any = None, **params: Any
) -> dict[str, Any]:
    r = await (team or world.a).post("/api/v1/reports/run", json=body, params=params)
    assert r.status_code == 200, r.text
    out = r.json()
    assert set(out) >= {"columns", "data", "next_cursor", "has_more", "totals", "data_as_of"}
    return out


def recent(world: World) -> dict[str, Any]:
    return {"dimension": "created_date", "op": "between", "value": [world.week_ago, world.today]}


async def test_catalogue(world: World) -> None:
    r = await world.a.get("/api/v1/semantic/metrics")
    assert r.status_code == 200, r.text
    metrics = {m["name"]: m for m in r.json()["data"]}
    assert set(metrics) >= REQUIRED_METRICS
    assert all({"name", "label", "description", "type"} <= set(m) for m in metrics.values())
    assert metrics["lead_conversion_rate"]["type"] == "percent"
    r = await world.a.get("/api/v1/semantic/dimensions")
    dims = {d["name"]: d for d in r.json()["data"]}
    assert set(dims) >= REQUIRED_DIMENSIONS
    assert dims["created_date"]["type"] == "time"
    assert (await world.a.http.get("/api/v1/semantic/metrics")).status_code == 401


async def test_leads_by_source_match_the_app_tables(world: World) -> None:
    out = await run(
        world,
        {
            "metrics": ["leads_created", "leads_converted", "lead_conversion_rate"],
            "dimensions": ["lead_source"],
            "filters": [recent(world)],
        },
    )
    got = {r["lead_source"]: (r["leads_created"], r["leads_converted"]) for r in out["data"]}
    expected = world.sql(
        "SELECT coalesce(nullif(source, ''), 'unknown') AS s, count(*) AS n, "
        "count(*) FILTER (WHERE status = 'converted') AS c FROM app.leads "
        "WHERE team_id = %s AND deleted_at IS NULL AND created_at >= now() - interval '8 days' GROUP BY 1",
        world.a.team_id,
    )
    assert got == {e["s"]: (e["n"], e["c"]) for e in expected}
    web = next(r for r in out["data"] if r["lead_source"] == "web")
    assert web["leads_created"] == 3 and web["lead_conversion_rate"] == pytest.approx(1 / 3)
    assert out["totals"]["leads_created"] == sum(e["n"] for e in expected)
    assert out["data_as_of"] is not None
    assert [c["name"] for c in out["columns"]] == [
        "lead_source",
        "leads_created",
        "leads_converted",
        "lead_conversion_rate",
    ]


async def test_metrics_of_several_models_by_owner(world: World) -> None:
    out = await run(
        world,
        {
            "metrics": [
                "deals_won_value",
                "pipeline_value",
                "weighted_pipeline_value",
                "deals_won",
                "calls_logged",
                "tasks_completed",
                "activities_logged",
            ],
            "dimensions": ["owner"],
        },
    )
    mine = next(r for r in out["data"] if r["owner"] == world.a.member_id)
    assert mine["deals_won"] == 1 and float(mine["deals_won_value"]) == 500
    assert float(mine["pipeline_value"]) == 1250.50
    weighted = world.sql(
        "SELECT sum(value * probability / 100.0) AS w FROM app.deals WHERE team_id = %s AND status = 'open' AND deleted_at IS NULL",
        world.a.team_id,
    )[0]["w"]
    assert float(mine["weighted_pipeline_value"]) == pytest.approx(float(weighted), abs=0.01)
    assert mine["calls_logged"] == 3 and mine["tasks_completed"] == 1
    assert out["totals"]["activities_logged"] >= 1


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({"op": "eq", "value": "web"}, {"web"}),
        ({"op": "ne", "value": "web"}, {"referral", "=HYPERLINK(1)"}),
        ({"op": "in", "value": ["web", "referral"]}, {"web", "referral"}),
        ({"op": "not_in", "value": ["web"]}, {"referral", "=HYPERLINK(1)"}),
        ({"op": "contains", "value": "FERR"}, {"referral"}),
        ({"op": "gt", "value": "referral"}, {"web"}),
        ({"op": "gte", "value": "referral"}, {"web", "referral"}),
        ({"op": "lt", "value": "referral"}, {"=HYPERLINK(1)"}),
        ({"op": "lte", "value": "referral"}, {"referral", "=HYPERLINK(1)"}),
        ({"op": "between", "value": ["a", "s"]}, {"referral"}),
        ({"op": "is_null", "value": False}, {"web", "referral", "=HYPERLINK(1)"}),
    ],
)
async def test_every_filter_operator(world: World, flt: dict[str, Any], expected: set[str]) -> None:
    out = await run(
        world,
        {
            "metrics": ["leads_created"],
            "dimensions": ["lead_source"],
            "filters": [{"dimension": "lead_source", **flt}, recent(world)],
        },
    )
    assert {r["lead_source"] for r in out["data"]} == expected


async def test_time_grain_and_pages(world: World) -> None:
    body = {
        "metrics": ["leads_created"],
        "dimensions": ["created_date", "lead_status"],
        "time_grain": "year",
        "sort": ["-leads_created"],
    }
    whole = await run(world, body)
    assert all(r["created_date"].endswith("-01-01") for r in whole["data"])
    seen, cursor = [], None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = await run(world, body, **params)
        seen += page["data"]
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        cursor = page["next_cursor"]
    assert seen == whole["data"] and len(seen) >= 3
    assert [r["leads_created"] for r in seen] == sorted(
        (r["leads_created"] for r in seen), reverse=True
    )
    assert (
        whole["subtotals"]
        and sum(s["leads_created"] for s in whole["subtotals"]) == whole["totals"]["leads_created"]
    )
    r = await world.a.post(
        "/api/v1/reports/run", json={**body, "sort": []}, params={"cursor": cursor}
    )
    assert_problem(r, 400)


async def test_same_period_last_year(world: World) -> None:
    year_ago = world.sql("SELECT (now() - interval '365 days')::date AS d")[0]["d"]
    out = await run(
        world,
        {
            "metrics": ["leads_created"],
            "compare_to": "same_period_last_year",
            "filters": [
                {
                    "dimension": "created_date",
                    "op": "between",
                    "value": [world.week_ago, world.today],
                },
                {"dimension": "lead_source", "op": "eq", "value": "web"},
            ],
        },
    )
    row = out["data"][0]
    assert row["leads_created"] == 3
    previous = world.sql(
        "SELECT count(*) AS n FROM app.leads WHERE team_id = %s AND source = 'web' AND deleted_at IS NULL "
        "AND created_at >= (now() - interval '1 year')::date - 7 AND created_at < (now() - interval '1 year')::date + 1",
        world.a.team_id,
    )[0]["n"]
    assert previous == 1, year_ago
    assert row["leads_created_previous"] == previous
    assert row["leads_created_change"] == 2 and float(row["leads_created_change_pct"]) == 200.0
    out = await run(
        world,
        {"metrics": ["leads_created"], "compare_to": "previous_period", "filters": [recent(world)]},
    )
    assert out["data"][0]["leads_created_previous"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"metrics": ["revenue_from_space"]}, "metrics[0]"),
        ({"metrics": []}, "metrics"),
        (
            {"metrics": ["leads_created"], "dimensions": ["source; DROP TABLE app.leads"]},
            "dimensions[0]",
        ),
        ({"metrics": ["leads_created"], "dimensions": ["deal_stage"]}, "dimensions[0]"),
        (
            {
                "metrics": ["leads_created"],
                "filters": [{"dimension": 'lead_source" OR 1=1 --', "op": "eq", "value": "x"}],
            },
            "filters[0].dimension",
        ),
        (
            {
                "metrics": ["leads_created"],
                "filters": [{"dimension": "lead_source", "op": "eq", "value": 5}],
            },
            "filters[0].value",
        ),
        (
            {
                "metrics": ["leads_created"],
                "filters": [{"dimension": "lead_source", "op": "in", "value": "web"}],
            },
            "filters[0].value",
        ),
        (
            {
                "metrics": ["leads_created"],
                "filters": [{"dimension": "created_date", "op": "gt", "value": "yesterday"}],
            },
            "filters[0].value",
        ),
        (
            {
                "metrics": ["leads_created"],
                "filters": [{"dimension": "lead_source", "op": "like", "value": "%"}],
            },
            "filters[0].op",
        ),
        ({"metrics": ["leads_created"], "sort": ["-leads_created; SELECT 1"]}, "sort[0]"),
        ({"metrics": ["leads_created"], "compare_to": "previous_period"}, "compare_to"),
    ],
)
async def test_bad_definitions_are_400_naming_the_field(
    world: World, body: dict[str, Any], field: str
) -> None:
    r = await world.a.post("/api/v1/reports/run", json=body)
    problem = assert_problem(r, 400)
    assert problem["errors"][0]["field"] == field, problem


async def test_injection_in_a_value_is_only_a_value(world: World) -> None:
    out = await run(
        world,
        {
            "metrics": ["leads_created"],
            "filters": [{"dimension": "lead_source", "op": "eq", "value": "web' OR '1'='1"}],
        },
    )
    assert out["data"][0]["leads_created"] == 0
    assert (
        world.sql("SELECT count(*) AS n FROM app.leads WHERE team_id = %s", world.a.team_id)[0]["n"]
        > 0
    )


async def test_another_teams_rows_never_count(world: World) -> None:
    out_b = await run(
        world, {"metrics": ["leads_created", "deals_won_value", "calls_logged"]}, team=world.b
    )
    assert out_b["data"][0]["leads_created"] == 2  # one web lead + the formula-looking one
    assert float(out_b["data"][0]["deals_won_value"]) == 500
    out_a = await run(world, {"metrics": ["leads_created"]})
    assert out_a["data"][0]["leads_created"] == 7


async def test_every_metric_runs_with_its_dimensions(world: World) -> None:
    metrics = (await world.a.get("/api/v1/semantic/metrics")).json()["data"]
    for m in metrics:
        dims = [d for d in m["dimensions"] if d != "created_date"][:2]
        out = await run(world, {"metrics": [m["name"]], "dimensions": dims, "time_grain": "month"})
        assert out["totals"] is not None and m["name"] in out["totals"], m["name"]
