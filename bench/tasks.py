""" "A member's tasks" under row-level security (assignee mirror vs array filter); bulk changes.

    uv run python bench/tasks.py [--tasks 200000] [--members 200] [--repeat 20]
                                 [--sections assignee,bulk] [--bulk-ids 1000] [--bulk-repeat 5]

A team with ``--tasks`` tasks, each assigned to one of ``--members`` members (a "light" member
also gets every 40,000th task), is written in chunks (the trigger fills ``app.task_assignees``)
and analysed. Then, as the API role with the team set (forced RLS, as the API runs), the list
query of ``filter[assignee_ids__contains]=<m>`` (first page, 50 rows, newest first) is timed for
a busy member and for the light one, two ways:

- baseline: ``assignee_ids @> ARRAY[m]`` — the common Lister's array filter; PostgreSQL keeps
  this non-leakproof operator out of the GIN index under RLS, so it filters the team's rows
  along the sort index until a page is full (cheap when the member's tasks are dense, a scan
  of the whole team when they are few);
- tasks: the service's rewrite, ``id = ANY(ARRAY(SELECT task_id FROM app.task_assignees WHERE
  team_id = ... AND member_id = ...))`` — B-tree look-ups, in proportion to the member's tasks.

It prints the median time of each and the ratio (baseline / tasks) per member.

Bulk section (``--bulk-ids 1000``, ``--bulk-repeat 5``; ``--sections bulk`` runs only it): a
second team holds ``--bulk-ids`` tasks shaped like a real team's (each assigned to one of 20
members in various zones, with a due date; every 20th waits for a completed task, every 50th
has a subtask, every 100th recurs weekly). Bulk ``complete``, ``assign`` (replace, to a member
in another zone), ``reschedule`` (``shift_by`` P1D) and ``delete`` of all of them are timed
through the service path (``TaskService.bulk`` on the API engine with the tenant set, as
``POST /api/v1/tasks/bulk`` runs it: locks, rules, rows, events, next occurrences) against a raw
psycopg set-based ``UPDATE ... WHERE id = ANY(...)`` of the same rows as the API role (tenant
set, row-level security on). Each run is one transaction, rolled back, so every repeat sees the
same rows; the two sides alternate. It prints the median of each and the ratio (service / raw).

Database: LEADLY_BENCH_DATABASE_URL (default postgresql://root@127.0.0.1:5432/postgres if
reachable, else an embedded server); a fresh database is created and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import psycopg

from bench._common import bench_database, libpq


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=200_000)
    ap.add_argument("--members", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--explain", action="store_true", help="print each query's plan")
    ap.add_argument("--sections", default="assignee,bulk", help="assignee, bulk or both")
    ap.add_argument("--bulk-ids", type=int, default=1000)
    ap.add_argument("--bulk-repeat", type=int, default=5)
    args = ap.parse_args()

    with bench_database("leadly_bench_tasks") as db:
        run(db.url, args)


# The service's rewrite of filter[assignee_ids__contains] (api/tasks/service.py).
MIRROR = (
    "id = ANY (ARRAY (SELECT task_id FROM app.task_assignees "
    "WHERE team_id = %(t)s AND member_id = %(m)s))"
)


def run(url: str, args: argparse.Namespace) -> None:
    sections = {s.strip() for s in args.sections.split(",")}
    if "assignee" in sections:
        assignee_section(url, args)
    if "bulk" in sections:
        asyncio.run(bulk_section(url, args))


def assignee_section(url: str, args: argparse.Namespace) -> None:
    from leadly.settings import get_settings

    team = "team_bench"
    t0 = time.perf_counter()
    with psycopg.connect(libpq(url), autocommit=True) as c:
        c.execute("INSERT INTO app.teams (id, name, slug) VALUES (%s, 'Bench', %s)", (team, team))
        chunk = 20_000
        for lo in range(1, args.tasks + 1, chunk):  # one transaction per chunk
            hi = min(lo + chunk - 1, args.tasks)
            c.execute(
                """INSERT INTO app.tasks (team_id, id, title, due_at, assignee_ids, created_at)
                SELECT %s, 'task_b' || g, 'T' || g, now() + g * interval '1 minute',
                       CASE WHEN g %% 40000 = 0 THEN ARRAY['mem_light', 'mem_' || (g %% %s::int)]
                            ELSE ARRAY['mem_' || (g %% %s::int)] END,
                       now() - g * interval '1 second'
                FROM generate_series(%s::int, %s::int) g""",
                (team, args.members, args.members, lo, hi),
            )
        c.execute("ANALYZE app.tasks")
        c.execute("ANALYZE app.task_assignees")
    print(
        f"{args.tasks} tasks for {args.members} members written in {time.perf_counter() - t0:.1f}s"
    )

    role = get_settings().api_db_role
    base = (
        "SELECT id, title, due_at FROM app.tasks WHERE team_id = %(t)s AND deleted_at IS NULL "
        "AND {cond} ORDER BY created_at DESC, id DESC LIMIT 51"
    )
    queries = {
        "baseline (assignee_ids @> ARRAY[m])": base.format(cond="assignee_ids @> ARRAY[%(m)s]"),
        "tasks (assignee mirror)": base.format(cond=MIRROR),
    }
    who = {
        f"busy member ({args.tasks // args.members} tasks)": lambda i: (
            f"mem_{(i * 7) % args.members}"
        ),
        f"light member ({args.tasks // 40000} tasks)": lambda i: "mem_light",
    }
    with psycopg.connect(libpq(url)) as c:
        c.execute(f"SET ROLE {role}")
        c.execute("SELECT set_config('app.team_id', %s, false)", (team,))
        for profile, member in who.items():
            medians = {}
            for label, q in queries.items():
                times = []
                for i in range(args.repeat):
                    t = time.perf_counter()
                    rows = c.execute(q, {"t": team, "m": member(i)}).fetchall()
                    times.append(time.perf_counter() - t)
                    assert rows, label
                medians[label] = statistics.median(times)
                if args.explain:
                    plan = c.execute("EXPLAIN ANALYZE " + q, {"t": team, "m": member(0)})
                    print("\n".join(r[0] for r in plan.fetchall()))
                print(f"{profile:22s} {label:38s} median {medians[label] * 1000:8.2f} ms")
            a, b = medians.values()
            print(f"{profile:22s} ratio baseline / tasks: {a / b:.2f}x")


# ---------------------------------------------------------------------------------- bulk

BULK_TEAM = "team_bulk"
BULK_OWNER = "mem_bulk_owner"
ZONES = ("UTC", "America/New_York", "Europe/Berlin", "Asia/Tokyo", "Australia/Sydney")


def load_bulk(url: str, n: int) -> list[str]:
    """A team with ``n`` tasks to change in bulk (see the module docstring); their ids."""
    t = BULK_TEAM
    with psycopg.connect(libpq(url), autocommit=True) as c:
        c.execute("INSERT INTO app.teams (id, name, slug) VALUES (%s, 'Bulk', %s)", (t, t))
        c.execute(
            "INSERT INTO app.roles (team_id, id, key, name) VALUES (%s, 'role_bulk', 'owner', 'O')",
            (t,),
        )
        c.execute(
            """INSERT INTO app.team_members (team_id, id, email, email_normalized, name, role_id,
                                             time_zone)
            SELECT %s, CASE WHEN g = 0 THEN %s ELSE 'mem_bulk' || g END,
                   'bulk' || g || '@bench.example.com', 'bulk' || g || '@bench.example.com',
                   'Member ' || g, 'role_bulk', (%s::text[])[1 + g %% 5]
            FROM generate_series(0, 20) g""",
            (t, BULK_OWNER, list(ZONES)),
        )
        c.execute(
            """INSERT INTO app.tasks (team_id, id, title, status, completed_at, started_at)
            VALUES (%s, 'task_kdone', 'Done', 'completed', now(), now())""",
            (t,),
        )
        c.execute(
            """INSERT INTO app.tasks (team_id, id, title, due_at, due_set_at, assignee_ids,
                                      time_zone, created_by, recurrence_rule, series_id,
                                      series_start_at, occurrence_at)
            SELECT %(t)s, 'task_k' || lpad(g::text, 6, '0'), 'Follow up ' || g, d, now(),
                   ARRAY['mem_bulk' || (1 + g %% 20)], (%(z)s::text[])[1 + (1 + g %% 20) %% 5],
                   %(o)s, r, CASE WHEN r IS NOT NULL THEN 'task_k' || lpad(g::text, 6, '0') END,
                   CASE WHEN r IS NOT NULL THEN d END, CASE WHEN r IS NOT NULL THEN d END
            FROM generate_series(1, %(n)s) g,
                 LATERAL (SELECT '2027-03-01T09:00:00Z'::timestamptz + g * interval '1 hour' AS d,
                                 CASE WHEN g %% 100 = 0 THEN 'FREQ=WEEKLY' END AS r) x""",
            {"t": t, "z": list(ZONES), "o": BULK_OWNER, "n": n},
        )
        c.execute(
            """INSERT INTO app.tasks (team_id, id, title, parent_task_id, assignee_ids)
            SELECT %s, 'task_k' || lpad(g::text, 6, '0') || '_sub', 'Sub ' || g,
                   'task_k' || lpad(g::text, 6, '0'), ARRAY['mem_bulk1']
            FROM generate_series(50, %s, 50) g""",
            (t, n),
        )
        c.execute(
            """INSERT INTO app.task_dependencies (team_id, id, task_id, depends_on_task_id)
            SELECT %s, 'tdep_k' || g, 'task_k' || lpad(g::text, 6, '0'), 'task_kdone'
            FROM generate_series(20, %s, 20) g""",
            (t, n),
        )
        c.execute("ANALYZE")
    return [f"task_k{g:06d}" for g in range(1, n + 1)]


# The raw side: one set-based UPDATE of the same rows (what each action changes).
RAW_BULK = {
    "complete": (
        "UPDATE app.tasks SET status = 'completed', completed_at = now(), "
        "started_at = coalesce(started_at, now()), version = version + 1, updated_at = now() "
        "WHERE team_id = %(t)s AND id = ANY(%(ids)s)"
    ),
    "assign": (
        "UPDATE app.tasks SET assignee_ids = ARRAY[%(m)s], time_zone = %(z)s, "
        "version = version + 1, updated_at = now() WHERE team_id = %(t)s AND id = ANY(%(ids)s)"
    ),
    "reschedule": (
        "UPDATE app.tasks SET due_at = due_at + interval '1 day', due_set_at = now(), "
        "version = version + 1, updated_at = now() WHERE team_id = %(t)s AND id = ANY(%(ids)s)"
    ),
    "delete": (
        "UPDATE app.tasks SET deleted_at = now(), version = version + 1, updated_at = now() "
        "WHERE team_id = %(t)s AND id = ANY(%(ids)s)"
    ),
}


async def bulk_section(url: str, args: argparse.Namespace) -> None:
    from api.tasks.bulk import bulk_action, parse_shift
    from leadly.actor import Actor
    from leadly.settings import get_settings
    from warehouse.db import api_engine, connect_as, set_tenant

    t0 = time.perf_counter()
    ids = load_bulk(url, args.bulk_ids)
    print(f"\nbulk: {len(ids)} tasks written in {time.perf_counter() - t0:.1f}s")
    actor = Actor(BULK_TEAM, BULK_OWNER, "owner")
    engine = api_engine()
    target = "mem_bulk7"  # Asia/Tokyo: every assigned task changes zone too
    opts = {
        "complete": {},
        "assign": {"assignee_ids": [target], "mode": "replace"},
        "reschedule": {"shift": parse_shift("P1D")},
        "delete": {},
    }

    async def service(action: str) -> float:
        async with engine.connect() as conn:
            await conn.begin()
            await set_tenant(conn, BULK_TEAM, BULK_OWNER)
            t = time.perf_counter()
            results, ok = await bulk_action(conn, actor, action, ids, opts[action])
            elapsed = time.perf_counter() - t
            await conn.rollback()
        assert ok and len(results) == len(ids), [r for r in results if r["status"] != 200][:3]
        return elapsed

    params = {"t": BULK_TEAM, "ids": ids, "m": target, "z": "Asia/Tokyo"}
    with connect_as(url, get_settings().api_db_role) as raw_conn:

        def raw(action: str) -> float:
            raw_conn.execute("SELECT set_config('app.team_id', %s, true)", (BULK_TEAM,))
            t = time.perf_counter()
            cur = raw_conn.execute(RAW_BULK[action], params)
            elapsed = time.perf_counter() - t
            assert cur.rowcount == len(ids), cur.rowcount
            raw_conn.rollback()
            return elapsed

        for action in opts:
            times: dict[str, list[float]] = {"service": [], "raw": []}
            await service(action)  # warm-up: statement caches, plans
            raw(action)
            for i in range(args.bulk_repeat):
                order = ("service", "raw") if i % 2 == 0 else ("raw", "service")
                for side in order:
                    times[side].append(await service(action) if side == "service" else raw(action))
            s, r = statistics.median(times["service"]), statistics.median(times["raw"])
            print(
                f"bulk {action:10s} {len(ids)} ids  service {s * 1000:8.1f} ms   "
                f"raw UPDATE {r * 1000:7.1f} ms   ratio service / raw {s / r:6.1f}x"
            )
    await engine.dispose()


if __name__ == "__main__":
    main()
