"""Create-lead and read-lead throughput/latency through the real HTTP server, against raw psycopg.

    uv run python bench/api_write.py [--requests 2000] [--clients 1,8,32] [--workers 2]

The baseline runs the same statements the API's write path runs — set the tenant, insert the
lead row, insert its event, in one transaction — straight from psycopg on the same database, as
the same role. Both sides run in this process with the same client concurrency, so the ratio is
what the API layer (HTTP, auth, validation, SQLAlchemy, JSON) costs. Targets from the issue:
API ≥ 0.6× raw for writes, ≥ 0.5× for reads, p99 < 25 ms at 32 clients.

Database: LEADLY_BENCH_DATABASE_URL (a server where a database can be created; default
postgresql://root@127.0.0.1:5432/postgres if reachable, else an embedded server).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

import aiohttp
from psycopg_pool import AsyncConnectionPool

from bench._common import api_server, bench_database
from bench._common import signup as team_signup

Op = Callable[[int], Awaitable[None]]


async def measure(op: Op, total: int, clients: int) -> tuple[float, float, float]:
    """Run ``total`` operations over ``clients`` concurrent workers → (ops/s, p50 ms, p99 ms)."""
    latencies: list[float] = []
    counter = iter(range(total))

    async def worker() -> None:
        for i in counter:
            t0 = time.perf_counter()
            await op(i)
            latencies.append((time.perf_counter() - t0) * 1000)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    elapsed = time.perf_counter() - start
    q = statistics.quantiles(latencies, n=100)
    return total / elapsed, q[49], q[98]


def lead_body(i: int, tag: str) -> dict[str, object]:
    return {
        "first_name": f"Bench{i}",
        "last_name": "Lead",
        "email": f"b{tag}{i}@bench.io",
        "company_name": f"Bench {i} Ltd",
        "source": "bench",
        "rating": 4.2,
        "reviews_count": 17,
        "website_score": 61,
        "industry": "Software",
        "location": "Lisbon",
    }


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--clients", default="1,8,32")
    p.add_argument("--workers", type=int, default=2, help="API worker processes")
    args = p.parse_args()
    levels = [int(c) for c in args.clients.split(",")]

    with (
        bench_database() as db,
        api_server(args.workers, {"LEADLY_REDIS_URL": ""}) as base,
    ):
        from leadly.settings import get_settings
        from warehouse.db import libpq_url

        url, dbname = db.url, db.name
        conn = aiohttp.TCPConnector(limit=max(levels) + 4)
        async with aiohttp.ClientSession(base, connector=conn) as http:
            signup = await team_signup(http, "Bench", "Bench", f"bench-{dbname}@bench.io")
            team_id, member_id = signup["team"]["id"], signup["member"]["id"]
            headers = {"Authorization": f"Bearer {signup['token']}"}
            settings = get_settings()
            pool = AsyncConnectionPool(
                libpq_url(url),
                min_size=max(levels),
                max_size=max(levels),
                open=False,
                kwargs={
                    "options": f"-c role={settings.api_db_role} -c TimeZone=UTC",
                    "prepare_threshold": 5,
                },
            )
            await pool.open(wait=True)
            from leadly.ids import new_id

            results: dict[str, dict[int, tuple[float, float, float]]] = {}
            read_ids: list[str] = []

            async def api_create(i: int, tag: str) -> None:
                async with http.post("/api/v1/leads", json=lead_body(i, tag), headers=headers) as r:
                    body = await r.read()
                    assert r.status == 201, body
                    if len(read_ids) < 500:
                        read_ids.append(r.headers["Location"].rsplit("/", 1)[1])

            async def raw_create(i: int, tag: str) -> None:
                b = lead_body(i, tag)
                lid = new_id("lead")
                async with pool.connection() as c, c.transaction():
                    await c.execute(
                        "SELECT set_config('app.team_id', %s, true), "
                        "set_config('app.member_id', %s, true)",
                        (team_id, member_id),
                    )
                    await c.execute(
                        "INSERT INTO app.leads (team_id, id, first_name, last_name, email, "
                        "company_name, source, rating, reviews_count, website_score, industry, "
                        "location, created_by) VALUES "
                        "(%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) RETURNING *",
                        (
                            team_id,
                            lid,
                            b["first_name"],
                            b["last_name"],
                            b["email"],
                            b["company_name"],
                            b["source"],
                            b["rating"],
                            b["reviews_count"],
                            b["website_score"],
                            b["industry"],
                            b["location"],
                            member_id,
                        ),
                    )
                    await c.execute(
                        "INSERT INTO app.events (team_id, actor_type, actor_id, object_type, "
                        "object_id, action, changes) VALUES (%s,'member',%s,'lead',%s,'created',"
                        "%s::jsonb)",
                        (team_id, member_id, lid, '{"first_name":[null,"x"]}'),
                    )

            async def api_read(i: int) -> None:
                async with http.get(
                    f"/api/v1/leads/{read_ids[i % len(read_ids)]}", headers=headers
                ) as r:
                    await r.read()
                    assert r.status == 200

            async def raw_read(i: int) -> None:
                async with pool.connection() as c, c.transaction():
                    await c.execute("SELECT set_config('app.team_id', %s, true)", (team_id,))
                    cur = await c.execute(
                        "SELECT * FROM app.leads WHERE team_id = %s AND id = %s "
                        "AND deleted_at IS NULL",
                        (team_id, read_ids[i % len(read_ids)]),
                    )
                    await cur.fetchone()

            # warm-up both paths
            await measure(lambda i: api_create(i, "w"), 200, 8)
            await measure(lambda i: raw_create(i, "wr"), 200, 8)
            for n in levels:
                tag = f"c{n}"
                results.setdefault("api write", {})[n] = await measure(
                    lambda i, t=tag: api_create(i, t), args.requests, n
                )
                results.setdefault("raw write", {})[n] = await measure(
                    lambda i, t=tag: raw_create(i, t + "r"), args.requests, n
                )
                results.setdefault("api read", {})[n] = await measure(api_read, args.requests, n)
                results.setdefault("raw read", {})[n] = await measure(raw_read, args.requests, n)
            await pool.close()

    print(f"\ncreate/read lead, {args.requests} requests per level, API workers={args.workers}")
    print(f"{'path':<10} {'clients':>7} {'ops/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for path, by_level in results.items():
        for n, (ops, p50, p99) in by_level.items():
            print(f"{path:<10} {n:>7} {ops:>9.0f} {p50:>8.2f} {p99:>8.2f}")
    print()
    for kind, target in (("write", 0.6), ("read", 0.5)):
        for n in levels:
            api, raw = results[f"api {kind}"][n], results[f"raw {kind}"][n]
            ratio = api[0] / raw[0]
            flag = "ok" if ratio >= target else "BELOW TARGET"
            print(
                f"{kind:<5} clients={n:<3} API/raw throughput = {ratio:.2f}x "
                f"(target ≥ {target}x: {flag}); API p99 {api[2]:.1f} ms"
            )
    p99_32 = results["api write"].get(32, (0, 0, 0))[2]
    if 32 in levels:
        print(
            f"write p99 at 32 clients = {p99_32:.1f} ms (target < 25 ms: "
            f"{'ok' if p99_32 < 25 else 'ABOVE TARGET'})"
        )


if __name__ == "__main__":
    asyncio.run(main())
