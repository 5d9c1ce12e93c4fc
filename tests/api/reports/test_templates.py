"""The seed's ten report types as templates: each saved and run, and the funnel, forecast
backtest, cohort and year-over-year numbers against independent SQL."""

from __future__ import annotations

from typing import Any

from tests.api.reports.conftest import World
from tests.conftest import assert_problem

KEYS = {
    "sales_funnel",
    "conversion_rates",
    "revenue_forecast",
    "team_performance",
    "activity_report",
    "lead_source_attribution",
    "deal_velocity",
    "win_loss",
    "cohort_analysis",
    "year_over_year",
}


async def saved_run(world: World, key: str) -> dict[str, Any]:
    r = await world.a.post(f"/api/v1/report-templates/{key}/reports", json={"visibility": "team"})
    assert r.status_code == 201, r.text
    report = r.json()
    assert report["template"] == key and report["visibility"] == "team"
    r = await world.a.post(f"/api/v1/reports/{report['id']}/run")
    assert r.status_code == 200, (key, r.text)
    return r.json()


async def test_every_template_saves_and_runs(world: World) -> None:
    r = await world.a.get("/api/v1/report-templates")
    assert {t["key"] for t in r.json()["data"]} == KEYS
    for key in sorted(KEYS):
        out = await saved_run(world, key)
        assert out["data_as_of"] is not None, key
    assert_problem(await world.a.post("/api/v1/report-templates/nope/reports"), 404)
    assert_problem(await world.guest.post("/api/v1/report-templates/sales_funnel/reports"), 403)


async def test_funnel(world: World) -> None:
    out = await saved_run(world, "sales_funnel")
    row = out["data"][0]
    live = world.sql(
        "SELECT count(*) AS n, count(*) FILTER (WHERE status = 'converted') AS c, "
        "count(*) FILTER (WHERE status IN ('contacted', 'qualified', 'converted')) AS reached "
        "FROM app.leads WHERE team_id = %s AND deleted_at IS NULL AND created_at >= current_date - 89",
        world.a.team_id,
    )[0]
    assert row["leads_created"] == live["n"] == 6
    assert row["leads_converted"] == live["c"] == 1
    assert row["leads_contacted"] == live["reached"]
    assert (
        row["leads_created"]
        >= row["leads_contacted"]
        >= row["leads_qualified"]
        >= row["leads_converted"]
    )


async def test_forecast_backtest(world: World) -> None:
    out = await saved_run(world, "revenue_forecast")
    deals = world.sql(
        "SELECT count(*) AS n, sum(value) AS v FROM app.deals WHERE team_id = %s AND deleted_at IS NULL",
        world.a.team_id,
    )[0]
    assert out["totals"]["forecast_deals"] == deals["n"] == 4
    assert float(out["totals"]["forecast_value"]) == float(deals["v"])
    # The forecast as of yesterday, from the daily snapshots: none of the deals existed yet.
    r = await world.a.post(
        "/api/v1/reports/run",
        json={
            "metrics": ["forecast_deals"],
            "filters": [{"dimension": "as_of_date", "op": "eq", "value": "today-1"}],
        },
    )
    assert r.json()["totals"]["forecast_deals"] == 0


async def test_cohort_matrix(world: World) -> None:
    out = await saved_run(world, "cohort_analysis")
    expected = world.sql(
        "SELECT date_trunc('month', l.created_at AT TIME ZONE 'UTC')::date AS cohort, "
        "((extract(year from e.occurred_at) - extract(year from l.created_at)) * 12 "
        " + extract(month from e.occurred_at) - extract(month from l.created_at))::int AS age, count(*) AS n "
        "FROM app.leads l JOIN app.events e ON e.team_id = l.team_id AND e.object_id = l.id AND e.action = 'converted' "
        "WHERE l.team_id = %s GROUP BY 1, 2",
        world.a.team_id,
    )
    got = {(r["created_date"], r["months_to_convert"]): r["leads_converted"] for r in out["data"]}
    assert got == {(e["cohort"].isoformat(), e["age"]): e["n"] for e in expected}


async def test_year_over_year(world: World) -> None:
    out = await saved_run(world, "year_over_year")
    month = world.sql("SELECT date_trunc('month', current_date)::date AS m")[0]["m"].isoformat()
    row = next(r for r in out["data"] if r["created_date"] == month)
    assert row["leads_created"] == 6 and row["leads_created_previous"] == 1
    assert row["leads_created_change"] == 5 and float(row["leads_created_change_pct"]) == 500.0
    assert float(row["deals_won_value"]) == 500 and float(row["deals_won_value_previous"]) == 0
