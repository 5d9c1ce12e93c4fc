"""Reports on the semantic layer against hand-written SQL, and the CSV export against COPY.

    uv run python bench/reports.py [--leads 1000000] [--runs 20]

A fresh database gets the real migrations and an empty dbt build of the semantic models; then
--leads rows of the measured team are generated set-based straight into the built
``rpt_sem_leads`` (and as many again for nine other teams, which row-level security keeps out),
and a year of daily forecast snapshots into ``rpt_sem_forecast``. Reports
read the built models, never the event log: the event history's size weighs on the dbt build
(bench/dbt_incremental.py), not on a report run.

Measured, each --runs times in one process, p95 of each and the ratio (target ≤ 1.5×):

- the funnel report (four lead metrics by source over 90 days) through
  ``api.reports.service.run`` (compile, the dashboard role's tenant transaction, the totals
  query) against the same numbers by a hand-written ``GROUP BY`` plus its totals, in the same
  role and tenant transaction;
- the forecast report (value, weighted value and deals by close month and category as of
  today) likewise.

Then the CSV export of a report with one row per owner (--leads distinct owners: --leads rows)
through the running API (``GET /api/v1/reports/{id}/export?format=csv``, uvicorn) against
``COPY (<the report's query>) TO STDOUT`` on a psycopg connection: MB/s of each and the ratio
(target ≥ 0.5×).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import psycopg

from bench._common import api_server, bench_database, libpq, pct
from bench._common import signup as team_signup

LEADS = """
INSERT INTO analytics_reporting.rpt_sem_leads
    (team_id, lead_id, full_name, company_name, source, status, owner_id, owner_name,
     created_at, contacted_at, qualified_at, converted_at, is_converted, months_to_convert)
SELECT
    CASE WHEN i %% 2 = 0 THEN %(team)s ELSE 'team_other_' || (i %% 9) END,
    'lead_bench_' || i,
    'Lead ' || i,
    'Company ' || (i %% 5000),
    (ARRAY['web', 'referral', 'import', 'event', 'partner', 'ads'])[1 + i %% 6],
    (ARRAY['new', 'contacted', 'qualified', 'unqualified', 'converted'])[1 + i %% 5],
    'mem_bench_' || (i / 2),
    'Owner ' || (i / 2),
    now() - make_interval(days => i %% 365),
    CASE WHEN i %% 5 >= 1 THEN now() - make_interval(days => i %% 365) + interval '1 day' END,
    CASE WHEN i %% 5 >= 2 THEN now() - make_interval(days => i %% 365) + interval '5 days' END,
    CASE WHEN i %% 5 = 4 THEN now() - make_interval(days => i %% 365) + interval '20 days' END,
    i %% 5 = 4,
    CASE WHEN i %% 5 = 4 THEN 0 END
FROM generate_series(1, %(n)s) AS i
"""

FORECAST = """
INSERT INTO analytics_reporting.rpt_sem_forecast
    (team_id, forecast_key, snapshot_date, pipeline_id, forecast_category, close_month, currency,
     deals, total_value, weighted_value)
SELECT %(team)s, md5(c || m::text), current_date - d, 'pipe_bench',
       c, date_trunc('month', current_date + make_interval(months => m))::date, 'USD',
       10 + m, 1000.0 * (m + 1), 400.0 * (m + 1)
FROM generate_series(0, 364) AS d,
     unnest(ARRAY['pipeline', 'best_case', 'commit', 'closed', 'omitted']) AS c,
     generate_series(0, 11) AS m
"""

FUNNEL = {
    "metrics": ["leads_created", "leads_contacted", "leads_qualified", "leads_converted"],
    "dimensions": ["lead_source"],
    "filters": [{"dimension": "created_date", "op": "between", "value": ["today-89", "today"]}],
}
FUNNEL_SQL = """
SELECT source AS lead_source, count(*) AS leads_created, count(contacted_at) AS leads_contacted,
       count(qualified_at) AS leads_qualified, count(*) FILTER (WHERE is_converted) AS leads_converted
FROM analytics_reporting.rpt_sem_leads
WHERE created_at >= current_date - 89 AND created_at < current_date + 1
GROUP BY 1 ORDER BY 1
"""
FUNNEL_TOTALS = """
SELECT count(*), count(contacted_at), count(qualified_at), count(*) FILTER (WHERE is_converted)
FROM analytics_reporting.rpt_sem_leads
WHERE created_at >= current_date - 89 AND created_at < current_date + 1
"""
FORECAST_DEF = {
    "metrics": ["forecast_deals", "forecast_value", "forecast_weighted_value"],
    "dimensions": ["close_date", "forecast_category"],
    "filters": [{"dimension": "as_of_date", "op": "eq", "value": "today"}],
    "time_grain": "month",
}
FORECAST_SQL = """
SELECT close_month, forecast_category, sum(deals), sum(total_value), sum(weighted_value)
FROM analytics_reporting.rpt_sem_forecast
WHERE snapshot_date = current_date
GROUP BY 1, 2 ORDER BY 1, 2
"""
FORECAST_TOTALS = """
SELECT sum(deals), sum(total_value), sum(weighted_value)
FROM analytics_reporting.rpt_sem_forecast WHERE snapshot_date = current_date
"""


async def timed_runs(
    actor: Any, definition: dict, hand: list[str], runs: int
) -> tuple[list[float], list[float]]:
    from sqlalchemy import text

    from api.reports import service
    from warehouse.db import engine, tenant_tx

    ours, theirs = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = await service.run(actor, definition)
        ours.append(time.perf_counter() - t0)
        assert out["data"], "the report found no rows"
        t0 = time.perf_counter()
        async with tenant_tx(engine("dashboard"), actor.team_id, actor.member_id) as conn:
            for q in hand:
                (await conn.execute(text(q))).fetchall()
        theirs.append(time.perf_counter() - t0)
    return ours, theirs


def report(name: str, ours: list[float], theirs: list[float], target: str) -> None:
    a, b = pct(ours, 95), pct(theirs, 95)
    print(f"{name}: report p95 {a * 1000:.1f} ms, hand-written SQL p95 {b * 1000:.1f} ms, "
          f"ratio {a / b:.2f}x (target {target})", flush=True)  # fmt: skip


async def main(args: argparse.Namespace) -> None:
    import aiohttp

    from api.reports.compiler import Definition, compile_query
    from leadly.actor import Actor
    from warehouse.dbt import run_dbt

    with bench_database("leadly_bench_reports", keep=args.keep) as db, api_server(1) as base:
        async with aiohttp.ClientSession(base) as http:
            signed = await team_signup(http, "Bench", "B", f"b-{db.name}@bench.io")
        team, member, token = signed["team"]["id"], signed["member"]["id"], signed["token"]
        t0 = time.perf_counter()
        run_dbt(["run", "--select", "+rpt_sem_leads", "+rpt_sem_forecast"])
        print(f"empty dbt build of the semantic models in {time.perf_counter() - t0:.1f}s")
        t0 = time.perf_counter()
        with psycopg.connect(libpq(db.url), autocommit=True) as conn:
            conn.execute(LEADS, {"team": team, "n": 2 * args.leads})
            conn.execute(FORECAST, {"team": team})
            conn.execute("ANALYZE analytics_reporting.rpt_sem_leads")
            conn.execute("ANALYZE analytics_reporting.rpt_sem_forecast")
        print(f"{args.leads:,} leads of the team (and as many of nine others) and a year of "
              f"forecast snapshots in {time.perf_counter() - t0:.1f}s", flush=True)  # fmt: skip
        actor = Actor(team, member, "owner")
        for name, definition, hand in (
            ("funnel", FUNNEL, [FUNNEL_SQL, FUNNEL_TOTALS]),
            ("forecast", FORECAST_DEF, [FORECAST_SQL, FORECAST_TOTALS]),
        ):
            await timed_runs(actor, definition, hand, 2)  # warm caches and pools
            report(name, *(await timed_runs(actor, definition, hand, args.runs)), "<= 1.5x")

        per_owner = {"name": "Leads per owner", "metrics": ["leads_created", "leads_converted"],
                     "dimensions": ["owner"], "sort": []}  # fmt: skip
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(base, headers=headers) as http:
            async with http.post("/api/v1/reports", json=per_owner) as r:
                report_id = (await r.json())["id"]
            t0 = time.perf_counter()
            size = 0
            async with http.get(f"/api/v1/reports/{report_id}/export?format=csv") as r:
                assert r.status == 200, await r.text()
                async for chunk in r.content.iter_chunked(1 << 16):
                    size += len(chunk)
            export_s = time.perf_counter() - t0
        compiled = compile_query(Definition.of(per_owner), neutralize=True)
        copy_size = 0
        t0 = time.perf_counter()
        from leadly.settings import get_settings

        with psycopg.connect(libpq(db.url)) as conn:  # as the reports read: role, team, RLS
            conn.execute(f"SET ROLE {get_settings().dashboard_db_role}")
            conn.execute("SELECT set_config('app.team_id', %s, true)", (team,))
            conn.execute("SELECT set_config('TimeZone', 'UTC', true)")
            sql = f"COPY ({compiled.sql}) TO STDOUT WITH (FORMAT csv, HEADER true)"
            with conn.cursor().copy(sql, compiled.params) as copy:
                for data in copy:
                    copy_size += len(data)
        copy_s = time.perf_counter() - t0
        rows = args.leads
        print(f"csv export of {rows:,} rows: API {size / export_s / 1e6:.1f} MB/s ({export_s:.2f}s), "
              f"COPY {copy_size / copy_s / 1e6:.1f} MB/s ({copy_s:.2f}s), "
              f"ratio {copy_s / export_s:.2f}x of COPY's speed (target >= 0.5x)")  # fmt: skip
        assert size == copy_size, (size, copy_size)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--keep", action="store_true")
    asyncio.run(main(parser.parse_args()))
