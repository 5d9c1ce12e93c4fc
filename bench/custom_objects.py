"""Custom objects at scale, through the real HTTP server, against standard objects in the same run.

    uv run python bench/custom_objects.py [--records 100000] [--full] [--queries 300]
                                          [--creates 1000] [--clients 8]

``--full`` is the issue's size: 1,000,000 records of a custom object with 20 fields (and as many
leads). Three measures, each printed with its ratio against the baseline measured here:

1. filter plus sort on an indexed custom field (``filter[code__lt]=X&sort=code``) against the
   same query on a lead's native indexed column (``company_name``): p50/p99 and their ratio
   (target: p99 ≤ 2×);
2. create throughput of custom records against lead creation, same client concurrency
   (target ≥ 0.7×);
3. indexing a field of the custom object (``t1``, a value in every record) while writers keep creating its records: the
   longest write while the index builds (target: no write waits longer than 1 s).

Database: LEADLY_BENCH_DATABASE_URL (a server where a database can be created; default
postgresql://root@127.0.0.1:5432/postgres if reachable, else an embedded server).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from typing import Any

import aiohttp
import psycopg

from bench._common import api_server, bench_database, libpq, pct, signup

FIELDS: list[dict[str, Any]] = [
    {"api_name": "code", "type": "text", "indexed": True},
    {"api_name": "amount", "type": "currency"},
    {"api_name": "hours", "type": "integer"},
    {"api_name": "due", "type": "date"},
    {"api_name": "billable", "type": "boolean"},
    {"api_name": "stage", "type": "picklist", "options": [{"value": v} for v in "abcde"]},
    *({"api_name": f"t{i}", "type": "text"} for i in range(14)),
]


def record(i: int) -> dict[str, Any]:
    return {
        "name": f"Rec {i}",
        "code": f"C{random.randrange(10**9):09d}",
        "amount": f"{i % 1000}.50",
        "hours": i % 40,
        "due": "2026-05-01",
        "billable": i % 2 == 0,
        "stage": "abcde"[i % 5],
        **{f"t{k}": f"text {k} of {i}" for k in range(14)},
    }


SEED_RECORDS = """
INSERT INTO app.custom_records (team_id, id, object_id, name, data, created_by)
SELECT %(team)s, 'rec_' || lpad(upper(to_hex(i)), 26, '0'), %(object)s, 'Rec ' || i,
       jsonb_build_object(
         'code', 'C' || lpad((hashint4(i)::bigint & 1073741823)::text, 9, '0'),
         'amount', (i %% 1000)::text || '.50', 'hours', i %% 40, 'due', '2026-05-01',
         'billable', i %% 2 = 0, 'stage', substr('abcde', i %% 5 + 1, 1))
       || (SELECT jsonb_object_agg('t' || k, 'text ' || k || ' of ' || i)
           FROM generate_series(0, 13) k),
       %(member)s
FROM generate_series(1, %(n)s) i
"""
SEED_LEADS = """
INSERT INTO app.leads (team_id, id, first_name, company_name, email, created_by)
SELECT %(team)s, 'lead_' || lpad(upper(to_hex(i)), 26, '0'), 'Lead ' || i,
       'C' || lpad((hashint4(i)::bigint & 1073741823)::text, 9, '0'),
       'l' || i || '@seed.example.com', %(member)s
FROM generate_series(1, %(n)s) i
"""


async def timed(op: Any, total: int, clients: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    counter = iter(range(total))

    async def worker() -> None:
        for i in counter:
            t0 = time.perf_counter()
            await op(i)
            latencies.append((time.perf_counter() - t0) * 1000)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return total / (time.perf_counter() - t0), latencies


async def main(args: argparse.Namespace) -> None:
    n = 1_000_000 if args.full else args.records
    with bench_database("leadly_bench_custom", keep=args.keep) as db, api_server() as base:
        async with aiohttp.ClientSession(base) as http:
            team = await signup(http, "Bench", "Bench Owner", "bench-custom@example.com")
            auth = {"Authorization": f"Bearer {team['token']}"}
            member, team_id = team["member"]["id"], team["team"]["id"]

            async def call(method: str, url: str, body: Any = None) -> Any:
                async with http.request(method, url, json=body, headers=auth) as r:
                    payload = await r.json()
                    assert r.status < 300, (r.status, payload)
                    return payload

            obj = await call(
                "POST",
                "/api/v1/metadata/objects",
                {"api_name": "project", "label": "Project", "plural_label": "Projects"},
            )
            for f in FIELDS:
                await call("POST", "/api/v1/metadata/objects/project/fields",
                           {"label": f["api_name"], **f})  # fmt: skip
            t0 = time.perf_counter()
            with psycopg.connect(libpq(db.url), autocommit=True) as c:
                params = {"team": team_id, "object": obj["id"], "member": member, "n": n}
                c.execute(SEED_RECORDS, params)
                c.execute(SEED_LEADS, params)
                c.execute("ANALYZE app.custom_records")
                c.execute("ANALYZE app.leads")
            print(f"seeded {n:,} project records (20 fields) and {n:,} leads in "
                  f"{time.perf_counter() - t0:.1f}s", flush=True)  # fmt: skip

            # 1. filter + sort on an indexed field, custom vs native.
            async def query(url: str, field: str) -> list[float]:
                async def one(i: int) -> None:
                    bound = f"C{random.randrange(10**9):09d}"
                    await call("GET", f"{url}?filter[{field}__lt]={bound}&sort={field}&limit=50")

                return (await timed(one, args.queries, 1))[1]

            await query("/api/v1/leads", "company_name")  # warm both
            await query("/api/v1/objects/project", "code")
            native = await query("/api/v1/leads", "company_name")
            custom = await query("/api/v1/objects/project", "code")
            for label, values in (
                ("leads.company_name (native)", native),
                ("project.code (custom)", custom),
            ):
                print(f"  filter+sort {label:30s} p50 {pct(values, 50):7.2f} ms  "
                      f"p99 {pct(values, 99):7.2f} ms")  # fmt: skip
            print(f"filter+sort p99 ratio custom/native: {pct(custom, 99) / pct(native, 99):.2f}x "
                  "(target <= 2x)")  # fmt: skip

            # 2. create throughput, custom vs leads.
            async def lead(i: int) -> None:
                await call("POST", "/api/v1/leads",
                           {"first_name": f"B{i}", "email": f"b{i}-{random.random()}@x.io"})  # fmt: skip

            async def project(i: int) -> None:
                await call("POST", "/api/v1/objects/project", record(i))

            lead_rate, _ = await timed(lead, args.creates, args.clients)
            custom_rate, _ = await timed(project, args.creates, args.clients)
            print(f"creates: leads {lead_rate:.0f}/s, project records {custom_rate:.0f}/s: "
                  f"{custom_rate / lead_rate:.2f}x (target >= 0.7x)")  # fmt: skip

            # 3. an indexed field added while writes continue.
            done = asyncio.Event()
            waits: list[float] = []

            async def writer() -> None:
                i = 0
                while not done.is_set():
                    t = time.perf_counter()
                    await project(10**7 + i)
                    waits.append((time.perf_counter() - t) * 1000)
                    i += 1

            writers = [asyncio.create_task(writer()) for _ in range(args.clients)]
            await asyncio.sleep(1)
            t0 = time.perf_counter()
            await call("PATCH", "/api/v1/metadata/objects/project/fields/t1", {"indexed": True})
            build = time.perf_counter() - t0
            done.set()
            await asyncio.gather(*writers)
            print(f"field t1 indexed in {build:.1f}s while {len(waits)} records were written; "
                  f"longest write {max(waits):.0f} ms, p99 {pct(waits, 99):.0f} ms "
                  "(target: none over 1000 ms)")  # fmt: skip


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--records", type=int, default=100_000)
    p.add_argument("--full", action="store_true", help="1,000,000 records (the issue's size)")
    p.add_argument("--queries", type=int, default=300)
    p.add_argument("--creates", type=int, default=1000)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--keep", action="store_true", help="keep the database (to look at plans)")
    asyncio.run(main(p.parse_args()))
