"""Board endpoint latency with many deals in one pipeline, against the same queries in psycopg.

    uv run python bench/board.py [--deals 100000] [--requests 400] [--limit 20]

One team, its default pipeline, ``--deals`` deals spread over the open and closed stages
(inserted in committed chunks of 10,000, then VACUUM ANALYZE). Each measured request is one
column page: ``GET /api/v1/pipelines/{id}/board?stage=<key>&limit=20[&cursor=...]`` — the
column's count, total and weighted value plus a page of cards, first pages and pages reached by
following ``next_cursor``. The baseline runs what a column page needs straight from psycopg as
the API role in one tenant transaction (pipeline row, the column's aggregates on a first page —
later pages carry them in the cursor, as the API's do —, the keyset page, the page's contacts). Target from the issue: API p99 < 50 ms per column page.

Database: LEADLY_BENCH_DATABASE_URL (a server where a database can be created; default
postgresql://root@127.0.0.1:5432/postgres if reachable, else an embedded server). The database
is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time

import aiohttp
import psycopg

from bench._common import api_server, bench_database, pct
from bench._common import signup as team_signup

CHUNK = 10_000
PAGE_SQL = """
SELECT id, name, value, currency, value_type, probability, pipeline_id, stage, status,
       position, stage_changed_at, expected_close_date, actual_close_date, owner_id, lead_id,
       account_id, win_reason, loss_reason, competitor, next_step, source, custom, created_by,
       created_at, updated_at, version
FROM app.deals
WHERE team_id = %(t)s AND pipeline_id = %(p)s AND deleted_at IS NULL AND stage = %(s)s
  AND (position, id) > (%(pos)s, %(id)s)
ORDER BY position, id LIMIT %(n)s
"""
TOTALS_SQL = """
SELECT stage, count(*), coalesce(sum(value), 0),
       coalesce(round(sum(value * probability) / 100, 2), 0)
FROM app.deals
WHERE team_id = %(t)s AND pipeline_id = %(p)s AND deleted_at IS NULL AND stage = %(s)s
GROUP BY stage
"""


def load_deals(url: str, team_id: str, pipeline: dict, n: int) -> None:
    """``n`` deals over the pipeline's stages, in committed chunks (as the admin: no RLS)."""
    from ulid import ULID

    stages = pipeline["stages"]
    weights = [30, 22, 16, 12, 8, 7, 5][: len(stages)]
    rng = random.Random(7)
    position = dict.fromkeys((s["key"] for s in stages), 0)
    with psycopg.connect(url, autocommit=True) as conn:
        for start in range(0, n, CHUNK):
            rows = []
            for i in range(start, min(n, start + CHUNK)):
                st = rng.choices(stages, weights=weights)[0]
                position[st["key"]] += 1
                status = "won" if st["is_won"] else "lost" if st["is_lost"] else "open"
                rows.append(
                    (
                        team_id,
                        f"deal_{ULID()}",
                        f"Deal {i}",
                        rng.randrange(100, 100_000),
                        st["probability"],
                        pipeline["id"],
                        st["key"],
                        status,
                        float(position[st["key"]]),
                    )
                )
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO app.deals (team_id, id, name, value, probability, pipeline_id, "
                    "stage, status, position) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    rows,
                )
        conn.execute("VACUUM ANALYZE app.deals")


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--deals", type=int, default=100_000)
    p.add_argument("--requests", type=int, default=400)
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--explain", action="store_true", help="print the totals query's plan")
    args = p.parse_args()

    with bench_database() as db, api_server(1, {"LEADLY_REDIS_URL": ""}) as base:
        from leadly.settings import get_settings
        from warehouse.db import libpq_url

        url, dbname = db.url, db.name
        async with aiohttp.ClientSession(base) as http:
            signup = await team_signup(http, "Bench", "B", f"b-{dbname}@bench.io")
            team_id = signup["team"]["id"]
            headers = {"Authorization": f"Bearer {signup['token']}"}
            async with http.get("/api/v1/pipelines", headers=headers) as r:
                pipeline = (await r.json())["data"][0]
            t0 = time.perf_counter()
            load_deals(url, team_id, pipeline, args.deals)
            print(f"loaded {args.deals:,} deals in {time.perf_counter() - t0:.1f}s")
            keys = [s["key"] for s in pipeline["stages"]]
            board = f"/api/v1/pipelines/{pipeline['id']}/board"

            # The same walk for both sides: (stage, page depth) pairs.
            rng = random.Random(11)
            plan = [(rng.choice(keys), rng.choice([0, 0, 1, 2, 5])) for _ in range(args.requests)]

            async def api_walk() -> list[float]:
                lat: list[float] = []
                for stage, depth in plan:
                    cursor = None
                    for _ in range(depth + 1):
                        q = {"stage": stage, "limit": str(args.limit)}
                        if cursor:
                            q["cursor"] = cursor
                        t = time.perf_counter()
                        async with http.get(board, params=q, headers=headers) as r:
                            out = await r.json()
                        lat.append((time.perf_counter() - t) * 1000)
                        assert r.status == 200, out
                        cursor = out["columns"][0]["next_cursor"]
                        if not cursor:
                            break
                return lat

            settings = get_settings()
            raw = await psycopg.AsyncConnection.connect(
                libpq_url(url),
                options=f"-c role={settings.api_db_role} -c TimeZone=UTC",
                prepare_threshold=5,
            )

            async def raw_walk() -> list[float]:
                lat: list[float] = []
                for stage, depth in plan:
                    after: tuple[float, str] = (float("-inf"), "")
                    for _ in range(depth + 1):
                        t = time.perf_counter()
                        async with raw.transaction():
                            await raw.execute(
                                "SELECT set_config('app.team_id', %s, true)", (team_id,)
                            )
                            await raw.execute(
                                "SELECT id, stages FROM app.pipelines WHERE team_id = %s "
                                "AND id = %s AND deleted_at IS NULL",
                                (team_id, pipeline["id"]),
                            )
                            params = {"t": team_id, "p": pipeline["id"], "s": stage}
                            if after[1] == "":  # first page: the column's totals
                                await (await raw.execute(TOTALS_SQL, params)).fetchall()
                            page = await (
                                await raw.execute(
                                    PAGE_SQL,
                                    {
                                        **params,
                                        "pos": after[0],
                                        "id": after[1],
                                        "n": args.limit + 1,
                                    },
                                )
                            ).fetchall()
                            ids = [r[0] for r in page[: args.limit]]
                            await raw.execute(
                                "SELECT deal_id, id, role FROM app.deal_contacts "
                                "WHERE team_id = %s AND deal_id = ANY(%s)",
                                (team_id, ids),
                            )
                        lat.append((time.perf_counter() - t) * 1000)
                        if len(page) <= args.limit:
                            break
                        after = (page[args.limit - 1][9], page[args.limit - 1][0])
                return lat

            if args.explain:
                async with raw.transaction():
                    await raw.execute("SELECT set_config('app.team_id', %s, true)", (team_id,))
                    params = {"t": team_id, "p": pipeline["id"], "s": keys[0]}
                    plan_rows = await (
                        await raw.execute("EXPLAIN (ANALYZE, BUFFERS) " + TOTALS_SQL, params)
                    ).fetchall()
                print("\n".join(r[0] for r in plan_rows))
            await api_walk()  # warm-up: plans, caches, connection pools
            await raw_walk()
            api_lat = await api_walk()
            raw_lat = await raw_walk()
            await raw.close()
        a50, a99 = pct(api_lat, 50), pct(api_lat, 99)
        r50, r99 = pct(raw_lat, 50), pct(raw_lat, 99)
        print(f"column pages: {len(api_lat)} API requests, {len(raw_lat)} raw transactions")
        print(f"API  board column page: p50 {a50:6.2f} ms  p99 {a99:6.2f} ms")
        print(f"raw  same queries     : p50 {r50:6.2f} ms  p99 {r99:6.2f} ms")
        print(f"ratio API/raw: p50 {a50 / r50:.2f}x  p99 {a99 / r99:.2f}x")
        verdict = "meets" if a99 < 50 else "MISSES"
        print(f"target p99 < 50 ms per column page with {args.deals:,} deals: {verdict}")


if __name__ == "__main__":
    asyncio.run(main())
