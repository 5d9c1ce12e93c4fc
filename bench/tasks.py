""" "A member's tasks" under row-level security: the assignee mirror against the array filter.

    uv run python bench/tasks.py [--tasks 200000] [--members 200] [--repeat 20]

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

It prints the median time of each and the ratio (baseline / tasks) per member. Database:
LEADLY_BENCH_DATABASE_URL (default postgresql://root@127.0.0.1:5432/postgres if reachable, else
an embedded server); a fresh database is created and dropped.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=200_000)
    ap.add_argument("--members", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--explain", action="store_true", help="print each query's plan")
    args = ap.parse_args()

    admin = admin_url()
    name = f"leadly_bench_tasks_{secrets.token_hex(4)}"
    with psycopg.connect(libpq(admin), autocommit=True) as c:
        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    os.environ["LEADLY_DATABASE_URL"] = url
    os.environ.setdefault("LEADLY_SECRET_KEY", "bench")
    try:
        run(url, args)
    finally:
        with psycopg.connect(libpq(admin), autocommit=True) as c:
            c.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


# The service's rewrite of filter[assignee_ids__contains] (api/tasks/service.py).
MIRROR = (
    "id = ANY (ARRAY (SELECT task_id FROM app.task_assignees "
    "WHERE team_id = %(t)s AND member_id = %(m)s))"
)


def run(url: str, args: argparse.Namespace) -> None:
    from api.settings import get_settings
    from warehouse import migrate

    migrate.upgrade()
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


if __name__ == "__main__":
    main()
