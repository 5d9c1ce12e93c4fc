"""Timeline pages and activity search at scale, against a primary-key read in the same run.

    uv run python bench/timeline.py [--activities 10000000] [--records 100000] [--chunk 500000]
    uv run python bench/timeline.py --database leadly_bench_timeline_xxxxxx   # reuse a --keep one

A fresh database (migrated to head) gets ``--activities`` timeline entries spread evenly over
``--records`` leads of one team (plus 10 % in a second team, so row-level security has something
to hide), with subjects, descriptions and call metadata drawn from word lists. Rows are generated
by ``INSERT ... SELECT generate_series`` in committed chunks (``--chunk``), with the secondary
indexes (timeline, member, date, the GIN full-text index) built after the load, then ANALYZE.

Timed, through the code the API runs (a tenant transaction as the API role, row-level security
on, :func:`api.activities.service.timeline` / :func:`~api.activities.service.search`):

- baseline: one activity read by primary key in the same kind of transaction;
- timeline: the first page (50 entries, newest first) of a random lead's timeline, and a page
  deep in a timeline (cursor);
- search: ``q=`` with a rare word (~1 in 50,000 entries), a name plus a topic (3,000-31,000 matches at 10M),
  and a common word (~1 in 50).

It prints p50/p99 in ms of each and its ratio to the baseline, against the targets (p99 < 20 ms
for a timeline page, < 100 ms for search). Database: LEADLY_BENCH_DATABASE_URL (default
postgresql://root@127.0.0.1:5432/postgres if reachable, else an embedded server); the database
is created and dropped (``--keep`` keeps it). ``--database NAME`` times an already-loaded bench
database instead (one an earlier run kept): no generation; it is first migrated to head (so a
new migration applies to 10M rows: an upgrade on data), vacuumed and analysed, and kept.

Search at scale: the GIN indexes hold team-tagged lexemes (one posting list per team and word),
the activities' index also each entry's date (blocks of days), and ``app.activity_search``
reads back in time windows to the 1,000 most recent matches (see docs/timeline.md, "Search").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TEAM = "team_bench_timeline"
OTHER = "team_bench_other"
MEMBERS = 20
NAMES = [
    "Alvarez",
    "Bennett",
    "Chen",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ivanova",
    "Jensen",
    "Kowalski",
    "Larsen",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Petrov",
    "Quinn",
    "Rossi",
    "Santos",
    "Tanaka",
    "Ueda",
    "Varga",
    "Weber",
    "Xu",
    "Yilmaz",
    "Zhang",
    "Abbott",
    "Barros",
    "Costa",
    "Dimitrov",
    "Evans",
    "Ferrari",
    "Gomez",
    "Horvat",
    "Ito",
    "Jovanovic",
    "Kim",
    "Lopez",
    "Meyer",
    "Novak",
    "Olsen",
    "Park",
    "Rahman",
    "Silva",
    "Torres",
    "Umar",
    "Vega",
    "Walsh",
    "Young",
    "Ziegler",
]
TOPICS = [
    "renewal",
    "pricing",
    "onboarding",
    "integration",
    "security",
    "compliance",
    "migration",
    "roadmap",
    "discount",
    "contract",
    "invoice",
    "support",
    "training",
    "rollout",
    "pilot",
    "expansion",
    "budget",
    "procurement",
    "legal",
    "feedback",
    "demo",
    "architecture",
    "analytics",
    "reporting",
    "dashboard",
    "licence",
    "upgrade",
    "downgrade",
    "churn",
    "referral",
    "partnership",
    "webinar",
    "conference",
    "workshop",
    "hiring",
    "timeline",
    "proposal",
    "quote",
    "shipping",
    "warehouse",
    "logistics",
    "payroll",
    "benefits",
    "insurance",
    "hardware",
    "software",
    "network",
    "backup",
    "storage",
    "latency",
    "uptime",
]
WORDS = [
    "the",
    "customer",
    "asked",
    "about",
    "next",
    "steps",
    "and",
    "wants",
    "a",
    "follow",
    "up",
    "call",
    "with",
    "their",
    "team",
    "regarding",
    "budget",
    "approval",
    "timing",
    "we",
    "agreed",
    "to",
    "send",
    "a",
    "summary",
    "email",
    "including",
    "pricing",
    "options",
    "for",
    "the",
    "annual",
    "plan",
    "they",
    "mentioned",
    "a",
    "competitor",
    "offering",
    "lower",
    "rates",
    "but",
    "value",
    "our",
    "support",
    "quality",
    "decision",
    "expected",
    "by",
    "end",
    "of",
    "quarter",
    "champion",
    "is",
    "supportive",
    "procurement",
    "needs",
    "legal",
    "review",
    "of",
    "the",
    "master",
    "agreement",
    "technical",
    "questions",
    "about",
    "single",
    "sign",
    "on",
    "data",
    "export",
    "api",
    "limits",
    "and",
    "sandbox",
    "access",
    "were",
    "answered",
    "during",
    "the",
    "session",
]
SUBJECTS = ["Call with", "Email to", "Meeting with", "Note about", "Follow-up with",
            "Demo for", "Check-in with", "Proposal for"]  # fmt: skip
TYPES = ["call", "email", "meeting", "note", "call", "status_change", "field_update", "system"]
CALL_OUTCOMES = ["connected", "voicemail", "no answer", "busy", "meeting_booked"]


def admin_url() -> str:
    url = os.environ.get("LEADLY_BENCH_DATABASE_URL")
    if url:
        return url
    try:
        psycopg.connect("postgresql://root@127.0.0.1:5432/postgres", connect_timeout=2).close()
        return "postgresql://root@127.0.0.1:5432/postgres"
    except psycopg.OperationalError:
        from warehouse import embedded

        d = Path(tempfile.mkdtemp(prefix="leadly-bench-"))
        os.chmod(d, 0o755)
        return embedded.start(d, "postgres")


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _array(values: list[str]) -> str:
    return "ARRAY[" + ",".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def generate(url: str, n: int, records: int, chunk: int) -> dict[str, float]:
    """Teams, members, leads and ``n`` activities (committed per chunk); indexes after."""
    times: dict[str, float] = {}
    with psycopg.connect(libpq(url), autocommit=True) as c:
        c.execute("SET session_replication_role = replica")  # no FK triggers: valid by design
        for team in (TEAM, OTHER):
            c.execute(
                "INSERT INTO app.teams (id, name, slug) VALUES (%s, %s, %s)", (team, team, team)
            )
            c.execute(
                "INSERT INTO app.roles (team_id, id, key, name, is_system) "
                "VALUES (%s, %s, 'owner', 'Owner', true)",
                (team, f"rol_{team}"),
            )
            c.execute(
                "INSERT INTO app.team_members (team_id, id, email, name, role_id) "
                "SELECT %s, 'mem_' || %s || '_' || g, %s || g || '@bench.example.com', "
                "'Member ' || g, %s FROM generate_series(0, %s) g",
                (team, team, team, f"rol_{team}", MEMBERS - 1),
            )
            c.execute(
                "INSERT INTO app.leads (team_id, id, first_name, status) "
                "SELECT %s, 'lead_' || %s || '_' || g, 'Lead ' || g, 'new' "
                "FROM generate_series(0, %s) g",
                (team, team, records - 1),
            )
        indexes = [
            r[0]
            for r in c.execute(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = 'app' "
                "AND tablename = 'activities' AND indexname <> 'pk_activities'"
            )
        ]
        for name in [
            r[0]
            for r in c.execute(
                "SELECT indexname FROM pg_indexes WHERE schemaname = 'app' "
                "AND tablename = 'activities' AND indexname <> 'pk_activities'"
            )
        ]:
            c.execute(sql.SQL("DROP INDEX app.{}").format(sql.Identifier(name)))
        insert = f"""
            INSERT INTO app.activities (team_id, id, type, subject, description,
                related_to_type, related_to_id, actor_type, member_id, occurred_at, metadata,
                created_at, updated_at)
            SELECT team, 'act_b' || lpad(g::text, 10, '0'), typ,
                   ({_array(SUBJECTS)})[1 + g %% {len(SUBJECTS)}] || ' '
                     || ({_array(NAMES)})[1 + (g / 7) %% {len(NAMES)}] || ' re '
                     || ({_array(TOPICS)})[1 + (g / 3) %% {len(TOPICS)}],
                   '<p>' || w[1 + g %% {len(WORDS)}] || ' ' || w[1 + (g / 5) %% {len(WORDS)}] || ' '
                     || w[1 + (g / 11) %% {len(WORDS)}] || ' ' || w[1 + (g / 13) %% {len(WORDS)}]
                     || ' <b>' || w[1 + (g / 17) %% {len(WORDS)}] || '</b> '
                     || w[1 + (g / 19) %% {len(WORDS)}] || ' ref k' || ((g * 7919) %% 50000)
                     || '</p>',
                   'lead', 'lead_' || team || '_' || (abs(hashint8(g)) %% {records}),
                   'member', 'mem_' || team || '_' || (g %% {MEMBERS}),
                   timestamptz '2024-01-01' + g * interval '2 seconds',
                   CASE WHEN typ = 'call' THEN jsonb_build_object(
                       'duration', (g * 37) %% 1800,
                       'outcome', ({_array(CALL_OUTCOMES)})[1 + g %% {len(CALL_OUTCOMES)}])
                   ELSE '{{}}'::jsonb END,
                   now(), now()
            FROM (
                SELECT g, CASE WHEN g %% 10 = 0 THEN '{OTHER}' ELSE '{TEAM}' END AS team,
                       ({_array(TYPES)})[1 + g %% {len(TYPES)}] AS typ,
                       {_array(WORDS)} AS w
                FROM generate_series(%s::bigint, %s::bigint) g
            ) s
        """
        t0 = time.perf_counter()
        for lo in range(0, n, chunk):
            hi = min(n, lo + chunk) - 1
            c.execute(insert, (lo, hi))  # autocommit: one committed transaction per chunk
            done = hi + 1
            rate = done / (time.perf_counter() - t0)
            print(f"  {done:,} activities ({rate:,.0f}/s)", flush=True)
        times["load"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        c.execute("SET maintenance_work_mem = '1GB'")
        for ddl in indexes:
            t1 = time.perf_counter()
            c.execute(ddl)
            print(f"  {ddl.split(' ON ')[0]} in {time.perf_counter() - t1:.1f}s", flush=True)
        c.execute("VACUUM ANALYZE app.activities")
        c.execute("ANALYZE app.leads")
        times["index"] = time.perf_counter() - t0
    return times


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


async def measure(
    label: str, fn: Callable[[int], Awaitable[Any]], n: int, warmup: int = 30
) -> tuple[float, float]:
    for i in range(warmup):
        await fn(i)
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        await fn(i)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), pct(times, 99)


async def run_queries(n_records: int, iterations: int, search_iterations: int) -> None:
    from api.activities import objects, service
    from api.common.context import Actor
    from warehouse.db import api_engine, tenant_tx

    engine = api_engine()
    member = f"mem_{TEAM}_0"
    actor = Actor(team_id=TEAM, member_id=member, role="owner")
    obj = objects.TIMELINE_OBJECTS["leads"]
    rnd = random.Random(7)
    records = [f"lead_{TEAM}_{rnd.randrange(n_records)}" for _ in range(iterations + 100)]
    async with tenant_tx(engine, TEAM, member) as conn:
        from sqlalchemy import text

        ids = list(
            (
                await conn.execute(
                    text(
                        "SELECT id FROM app.activities TABLESAMPLE SYSTEM (1) "
                        "WHERE team_id = :t LIMIT 2000"
                    ),
                    {"t": TEAM},
                )
            ).scalars()
        )
        deep = (
            await service.timeline(conn, actor, obj, records[0], service.TimelineQuery(limit=200))
        )["next_cursor"]

    async def baseline(i: int) -> None:
        async with tenant_tx(engine, TEAM, member) as conn:
            await activity_by_id(conn, ids[i % len(ids)])

    async def activity_by_id(conn: Any, aid: str) -> Any:
        from sqlalchemy import select

        t = service.activities
        return (
            await conn.execute(
                select(*service.ACTIVITY_COLUMNS).where(t.c.team_id == TEAM, t.c.id == aid)
            )
        ).first()

    async def page(i: int) -> None:
        async with tenant_tx(engine, TEAM, member) as conn:
            out = await service.timeline(
                conn, actor, obj, records[i % len(records)], service.TimelineQuery(limit=50)
            )
            assert out["data"], "empty timeline"

    async def deep_page(i: int) -> None:
        async with tenant_tx(engine, TEAM, member) as conn:
            await service.timeline(
                conn, actor, obj, records[0], service.TimelineQuery(limit=50, cursor=deep)
            )

    def searcher(queries: list[str]) -> Callable[[int], Awaitable[None]]:
        async def go(i: int) -> None:
            async with tenant_tx(engine, TEAM, member) as conn:
                await service.search(
                    conn, actor, queries[i % len(queries)], service.TimelineQuery(limit=20)
                )

        return go

    rare = [f"k{rnd.randrange(50000)}" for _ in range(200)]
    name_topic = [f"{rnd.choice(NAMES)} {rnd.choice(TOPICS)}" for _ in range(200)]
    common = ["pricing", "budget", "customer", "support", "procurement"]

    from api.settings import get_settings
    from warehouse.db import connect_as

    results: list[tuple[str, float, float, float | None]] = []
    with connect_as(os.environ["LEADLY_DATABASE_URL"], get_settings().api_db_role) as rc:
        times = []
        for i in range(iterations + 30):
            t0 = time.perf_counter()
            with rc.transaction():
                rc.execute("SELECT set_config('app.team_id', %s, true)", (TEAM,))
                rc.execute(
                    "SELECT * FROM app.activities WHERE team_id = %s AND id = %s",
                    (TEAM, ids[i % len(ids)]),
                ).fetchone()
            if i >= 30:
                times.append((time.perf_counter() - t0) * 1000)
        results.append(("raw psycopg PK read", statistics.median(times), pct(times, 99), None))

    base50, base99 = await measure("baseline", baseline, iterations)
    results.append(("baseline: PK read (service path)", base50, base99, None))
    for label, fn, n, target in [
        ("timeline page 1 (50)", page, iterations, 20.0),
        ("timeline deep page (cursor)", deep_page, iterations, 20.0),
        ("search: rare word", searcher(rare), search_iterations, 100.0),
        ("search: name + topic", searcher(name_topic), search_iterations, 100.0),
        ("search: common word", searcher(common), max(20, search_iterations // 5), 100.0),
    ]:
        p50, p99 = await measure(label, fn, n, warmup=10)
        results.append((label, p50, p99, target))
    await engine.dispose()

    print()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine load average (1, 5, 15 min) after the timings: {load} on {os.cpu_count()} CPUs")
    raw50, raw99 = results[0][1], results[0][2]
    print(
        "ratios: /base = against the PK read through the same service path (tenant transaction, "
        "SQLAlchemy); /raw = against a raw psycopg PK read"
    )
    print(
        f"{'query':36} {'p50 ms':>8} {'p99 ms':>8} {'p50/base':>9} {'p99/base':>9} "
        f"{'p50/raw':>8} {'p99/raw':>8}  target"
    )
    for label, p50, p99, target in results:
        verdict = "" if target is None else (
            f"p99 < {target:.0f} ms: {'met' if p99 < target else 'NOT met'}"
        )  # fmt: skip
        print(
            f"{label:36} {p50:8.2f} {p99:8.2f} {p50 / base50:9.1f} {p99 / base99:9.1f} "
            f"{p50 / raw50:8.1f} {p99 / raw99:8.1f}  {verdict}"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--activities", type=int, default=10_000_000)
    p.add_argument("--records", type=int, default=100_000, help="leads the entries spread over")
    p.add_argument("--chunk", type=int, default=500_000, help="rows per committed INSERT")
    p.add_argument("--iterations", type=int, default=1000, help="timed timeline reads")
    p.add_argument("--search-iterations", type=int, default=300, help="timed searches per kind")
    p.add_argument("--keep", action="store_true", help="keep the bench database")
    p.add_argument(
        "--database",
        metavar="NAME",
        help="time an already-loaded bench database (migrated to head first; kept)",
    )
    a = p.parse_args()

    admin = admin_url()
    dbname = a.database or f"leadly_bench_timeline_{secrets.token_hex(3)}"
    if not a.database:
        with psycopg.connect(libpq(admin), autocommit=True) as c:
            c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    url = make_url(admin).set(database=dbname).render_as_string(hide_password=False)
    try:
        os.environ["LEADLY_DATABASE_URL"] = url
        from api.settings import get_settings

        get_settings.cache_clear()
        from warehouse import migrate

        if a.database:
            t0 = time.perf_counter()
            migrate.upgrade()
            with psycopg.connect(libpq(url), autocommit=True) as c:
                c.execute("VACUUM ANALYZE app.activities")
                n = c.execute("SELECT count(*) FROM app.activities").fetchone()
            print(
                f"database {dbname}: {n[0] if n else 0:,} activities, migrated to head, vacuumed "
                f"and analysed in {time.perf_counter() - t0:.1f}s",
                flush=True,
            )
        else:
            print(
                f"database {dbname}: {a.activities:,} activities over {a.records:,} leads",
                flush=True,
            )
            migrate.upgrade()
            times = generate(url, a.activities, a.records, a.chunk)
            print(
                f"loaded in {times['load']:.1f}s ({a.activities / times['load']:,.0f} rows/s), "
                f"indexes + analyze in {times['index']:.1f}s",
                flush=True,
            )
        asyncio.run(run_queries(a.records, a.iterations, a.search_iterations))
    finally:
        if not a.keep and not a.database:
            with psycopg.connect(libpq(admin), autocommit=True) as c:
                c.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(dbname)
                    )
                )


if __name__ == "__main__":
    main()
