"""Incremental dbt build after 10,000 new events on a long event history, against a full rebuild.

    uv run python bench/dbt_incremental.py [--events 10000000] [--new-events 10000]

A fresh database gets the real migrations, then a generated history is inserted set-based
(INSERT ... SELECT generate_series, as the superuser) straight into app.events: leads with a
created event carrying every field and later updates (status steps, owner and score changes)
spread over --days, plus call logs. The dbt project is built once (the first, full build), then
--new-events more events arrive (updates of existing leads and a few new leads) and the timed
runs follow on the same data:

- incremental: ``dbt run`` (every model; the event-driven ones are incremental),
- full rebuild: ``dbt run --full-refresh`` (skip with --no-full-refresh: the first build is the
  baseline then).

Each time is the wall time of the in-process dbt invocation (partial parsing warm, like a
scheduled run) and, in brackets, the sum of the models' own execution times. Target from the
issue: incremental < 15 s on 10,000,000 events.

Database: LEADLY_BENCH_DATABASE_URL (a server where a database can be created; default
postgresql://root@127.0.0.1:5432/postgres if reachable, else an embedded server). The bench
database is dropped afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from bench._common import bench_database, libpq

TEAMS = 10
MEMBERS_PER_TEAM = 5
EVENTS_PER_LEAD = 10
CALL_SHARE = 0.1  # of the events: call log creations

# One lead's events: j = 0 created (every field), then updates. Status steps at j = 3, 6, 9 for
# the leads whose depth (a hash of the lead number) takes them that far; other updates change
# the owner or the score inputs. occurred_at spreads the events from creation to now.
LEAD_EVENTS = """
INSERT INTO app.events (team_id, occurred_at, actor_type, actor_id, object_type, object_id,
                        action, changes)
SELECT
    'team_bench_' || (1 + i % {teams}),
    l.created_at + j * l.step,
    'member',
    l.actor,
    'lead',
    'lead_bench_' || i,
    CASE WHEN j = 0 THEN 'created' ELSE 'updated' END,
    CASE
        WHEN j = 0 THEN jsonb_build_object(
            'id', jsonb_build_array(null, 'lead_bench_' || i),
            'first_name', jsonb_build_array(null, 'First' || i),
            'last_name', jsonb_build_array(null, 'Last' || (i % 977)),
            'email', jsonb_build_array(null, 'lead' || i || '@bench.example'),
            'company_name', jsonb_build_array(null, 'Company ' || (i % 5003)),
            'source', jsonb_build_array(null, (ARRAY['web', 'referral', 'google_maps',
                                                     'linkedin', 'import'])[1 + l.h % 5]),
            'status', jsonb_build_array(null, 'new'),
            'owner_id', jsonb_build_array(null, l.owner),
            'rating', jsonb_build_array(null, round(3 + (l.h % 20) / 10.0, 1)),
            'reviews_count', jsonb_build_array(null, l.h % 400),
            'website_score', jsonb_build_array(null, l.h % 101),
            'custom', jsonb_build_array(null, '{{}}'::jsonb),
            'created_by', jsonb_build_array(null, l.actor),
            'created_at', jsonb_build_array(null, to_jsonb(l.created_at)))
        WHEN j = 3 AND l.depth >= 4 THEN '{{"status": ["new", "contacted"]}}'::jsonb
        WHEN j = 6 AND l.depth >= 7 THEN '{{"status": ["contacted", "qualified"]}}'::jsonb
        WHEN j = 9 AND l.depth >= 9 THEN '{{"status": ["qualified", "converted"]}}'::jsonb
        WHEN j = 8 AND l.depth = 6 THEN '{{"status": ["contacted", "unqualified"]}}'::jsonb
        WHEN j % 3 = 1 THEN jsonb_build_object(
            'rating', jsonb_build_array(round(3 + (l.h % 20) / 10.0, 1),
                                        round(3 + ((l.h + j) % 20) / 10.0, 1)),
            'reviews_count', jsonb_build_array(l.h % 400, l.h % 400 + j))
        WHEN j % 3 = 2 THEN jsonb_build_object(
            'website_score', jsonb_build_array(l.h % 101, (l.h + 7 * j) % 101))
        ELSE jsonb_build_object(
            'owner_id', jsonb_build_array(l.owner, 'mem_bench_' || (1 + i % {teams}) || '_'
                                                   || (1 + (l.h + j) % {members})),
            'phone', jsonb_build_array(null, '+1555' || lpad((i % 10000000)::text, 7, '0')))
    END
FROM generate_series({first}, {last}) AS i
CROSS JOIN LATERAL (
    SELECT
        (hashint4(i) & 2147483647) AS h,
        (hashint4(i + 7919) & 2147483647) % 10 AS depth,
        'mem_bench_' || (1 + i % {teams}) || '_' || (1 + (hashint4(i) & 2147483647) % {members}) AS owner,
        'mem_bench_' || (1 + i % {teams}) || '_1' AS actor,
        {start} + ((hashint4(i + 104729) & 2147483647) % {span_seconds}) * interval '1 second'
            AS created_at
) AS l0
CROSS JOIN LATERAL (
    SELECT l0.*, ({end} - l0.created_at) / {per_lead} AS step
) AS l
CROSS JOIN generate_series(0, {per_lead} - 1) AS j
"""

CALL_EVENTS = """
INSERT INTO app.events (team_id, occurred_at, actor_type, actor_id, object_type, object_id,
                        action, changes)
SELECT
    'team_bench_' || (1 + i % {teams}),
    c.started_at,
    'member',
    c.member,
    'call_log',
    'call_bench_' || i,
    'created',
    jsonb_build_object(
        'id', jsonb_build_array(null, 'call_bench_' || i),
        'lead_id', jsonb_build_array(null, 'lead_bench_' || (1 + c.h % {leads})),
        'member_id', jsonb_build_array(null, c.member),
        'direction', jsonb_build_array(null, 'outbound'),
        'duration', jsonb_build_array(null, c.h % 900),
        'outcome', jsonb_build_array(null, (ARRAY['connected', 'voicemail', 'no_answer',
                                                  'meeting_booked'])[1 + c.h % 4]),
        'started_at', jsonb_build_array(null, to_jsonb(c.started_at)),
        'created_at', jsonb_build_array(null, to_jsonb(c.started_at)))
FROM generate_series({first}, {last}) AS i
CROSS JOIN LATERAL (
    SELECT
        (hashint4(i) & 2147483647) AS h,
        'mem_bench_' || (1 + i % {teams}) || '_' || (1 + (hashint4(i) & 2147483647) % {members}) AS member,
        {start} + ((hashint4(i + 15485863) & 2147483647) % {span_seconds}) * interval '1 second'
            AS started_at
) AS c
"""

# New activity: updates of existing leads (status steps and score changes), now.
LEAD_UPDATES = """
INSERT INTO app.events (team_id, occurred_at, actor_type, actor_id, object_type, object_id,
                        action, changes)
SELECT
    'team_bench_' || (1 + x % {teams}),
    now(),
    'member',
    'mem_bench_' || (1 + x % {teams}) || '_1',
    'lead',
    'lead_bench_' || x,
    'updated',
    CASE WHEN k % 2 = 0
        THEN jsonb_build_object('website_score', jsonb_build_array(null, k % 101))
        ELSE '{{"status": ["new", "contacted"]}}'::jsonb
    END
FROM generate_series(1, {n}) AS k
CROSS JOIN LATERAL (SELECT 1 + (hashint4(k + {salt}) & 2147483647) % {leads} AS x) AS pick
"""


def ts(value: str) -> str:
    return f"'{value}'::timestamptz"


def generate(url: str, events: int, days: int) -> dict[str, int]:
    """Insert teams, members and ``events`` events; returns the sizes."""
    calls = int(events * CALL_SHARE)
    leads = max(1, (events - calls) // EVENTS_PER_LEAD)
    calls = events - leads * EVENTS_PER_LEAD
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '256MB'")
        now = conn.execute("SELECT now()").fetchone()[0]
        conn.execute(
            "INSERT INTO app.teams (id, name, slug) SELECT 'team_bench_' || t, 'Bench ' || t,"
            " 'bench-' || t FROM generate_series(1, %s) t",
            (TEAMS,),
        )
        conn.execute(
            "INSERT INTO app.roles (team_id, id, key, name) SELECT 'team_bench_' || t,"
            " 'role_bench_' || t, 'user', 'User' FROM generate_series(1, %s) t",
            (TEAMS,),
        )
        conn.execute(
            "INSERT INTO app.team_members (team_id, id, email, name, role_id, email_normalized)"
            " SELECT 'team_bench_' || t, 'mem_bench_' || t || '_' || m, e, 'Rep ' || t || '-' || m,"
            " 'role_bench_' || t, e FROM generate_series(1, %s) t, generate_series(1, %s) m,"
            " LATERAL (SELECT 'rep' || t || '_' || m || '@bench.example' AS e) AS address",
            (TEAMS, MEMBERS_PER_TEAM),
        )
        args: dict[str, Any] = {
            "teams": TEAMS,
            "members": MEMBERS_PER_TEAM,
            "per_lead": EVENTS_PER_LEAD,
            "leads": leads,
            "start": ts((now.replace(microsecond=0)).isoformat()) + f" - interval '{days} days'",
            "end": ts(now.isoformat()),
            "span_seconds": days * 86400,
        }
        # The event log's secondary indexes are built once after loading (bench database only).
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'app'"
            " AND tablename = 'events' AND indexname <> 'pk_events'"
        ).fetchall()
        for name, _ in indexes:
            conn.execute(sql.SQL("DROP INDEX app.{}").format(sql.Identifier(name)))
        # In chunks, so memory stays flat and progress shows.
        chunk = 200_000
        for first in range(1, leads + 1, chunk):
            last = min(leads, first + chunk - 1)
            conn.execute(LEAD_EVENTS.format(first=first, last=last, **args))
            print(f"\r  lead events: {last * EVENTS_PER_LEAD:,}   ", end="", flush=True)
        for first in range(1, calls + 1, chunk * EVENTS_PER_LEAD):
            last = min(calls, first + chunk * EVENTS_PER_LEAD - 1)
            conn.execute(CALL_EVENTS.format(first=first, last=last, **args))
        print(f"\r  events: {leads * EVENTS_PER_LEAD + calls:,} ({leads:,} leads, "
              f"{calls:,} calls)      ")  # fmt: skip
        for _, ddl in indexes:
            conn.execute(ddl)
        conn.execute("ANALYZE app.events")
    return {"leads": leads, "calls": calls}


def add_events(url: str, n: int, leads: int) -> None:
    """``n`` new events in one transaction: updates of existing leads and a few new leads."""
    new_leads = max(1, n // 10 // EVENTS_PER_LEAD)
    updates = n - new_leads * EVENTS_PER_LEAD
    with psycopg.connect(libpq(url)) as conn, conn.transaction():
        now = conn.execute("SELECT now()").fetchone()[0]
        conn.execute(LEAD_UPDATES.format(n=updates, teams=TEAMS, leads=leads, salt=31337))
        conn.execute(
            LEAD_EVENTS.format(
                first=leads + 1,
                last=leads + new_leads,
                teams=TEAMS,
                members=MEMBERS_PER_TEAM,
                per_lead=EVENTS_PER_LEAD,
                start=ts(now.isoformat()) + " - interval '1 hour'",
                end=ts(now.isoformat()),
                span_seconds=3600,
            )
        )


def timed_dbt(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time of ``dbt <args>`` and the sum of its models' times; prints the slowest."""
    from warehouse.dbt import run_dbt

    t0 = time.perf_counter()
    result = run_dbt(args, env=env)
    wall = time.perf_counter() - t0
    timings = sorted(
        ((getattr(r, "execution_time", 0.0) or 0.0, r.node.name) for r in result.result.results),
        reverse=True,
    )
    print("    slowest: " + ", ".join(f"{name} {t:.1f}s" for t, name in timings[:4]))
    return wall, sum(t for t, _ in timings)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--events", type=int, default=10_000_000, help="history size (events)")
    p.add_argument("--new-events", type=int, default=10_000, help="events before the timed run")
    p.add_argument("--days", type=int, default=30, help="days the history spreads over")
    p.add_argument("--threads", type=int, default=2, help="dbt threads")
    p.add_argument(
        "--first-build-threads",
        type=int,
        help="dbt threads of the untimed-baseline first build (default --threads; 1 spares a core)",
    )
    p.add_argument("--no-full-refresh", action="store_true",
                   help="skip the timed --full-refresh (compare with the first build)")  # fmt: skip
    p.add_argument("--keep", action="store_true", help="keep the bench database")
    a = p.parse_args()

    with bench_database("leadly_bench_dbt", keep=a.keep) as db:
        url = db.url
        from leadly.settings import get_settings
        from warehouse.dbt import dbt_env, run_dbt

        settings = get_settings()
        t0 = time.perf_counter()
        sizes = generate(url, a.events, a.days)
        print(f"generated in {time.perf_counter() - t0:.1f}s", flush=True)

        # dbt's target and logs: in the bench's data folder (removed at the end), or kept.
        tmp = Path(tempfile.mkdtemp(prefix="leadly-bench-dbt-") if a.keep else settings.data_dir)
        env = dbt_env(settings, target_path=tmp / "target", log_path=tmp / "logs")
        env["LEADLY_DBT_THREADS"] = str(a.threads)
        env["DBT_QUIET"] = "true"  # errors only
        run_dbt(["parse"], env=env)  # warm: imports and the partial-parse state

        print("first build ...", flush=True)
        first, first_models = timed_dbt(
            ["run", "--threads", str(a.first_build_threads or a.threads)], env
        )
        print(f"first build (full):    {first:8.1f}s  [models {first_models:.1f}s]")

        add_events(url, a.new_events, sizes["leads"])
        inc, inc_models = timed_dbt(["run"], env)
        print(f"incremental build:     {inc:8.1f}s  [models {inc_models:.1f}s]"
              f"  after {a.new_events:,} new events on {a.events:,}")  # fmt: skip

        if a.no_full_refresh:
            full, full_models, label = first, first_models, "first build"
        else:
            full, full_models = timed_dbt(["run", "--full-refresh"], env)
            label = "full rebuild"
            print(f"full rebuild:          {full:8.1f}s  [models {full_models:.1f}s]")
        with psycopg.connect(libpq(url)) as c:
            counts = {
                t: c.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in (
                    "analytics_intermediate.int_field_changes",
                    "analytics_intermediate.int_record_history",
                    "analytics_marts.fct_daily_lead_snapshot",
                )
            }
        print("rows: " + ", ".join(f"{t.split('.')[1]} {n:,}" for t, n in counts.items()))
        print(f"incremental / {label}: {inc / full:.3f}  (speed-up {full / inc:.1f}x; "
              f"models only {inc_models / max(full_models, 1e-9):.3f}); "
              f"target: incremental < 15 s on 10,000,000 events -> "
              f"{'met' if inc < 15 else 'NOT met'} at {a.events:,}")  # fmt: skip


if __name__ == "__main__":
    main()
