"""Lead import throughput through the import path, against a raw COPY of the same file.

    uv run python bench/import.py [--rows 1000000] [--batch-size 10000] [--keep-file]

A lead CSV of ``--rows`` rows (HubSpot-like headers, unique emails) is generated, then:

- baseline: ``COPY`` of the file into an unindexed table of text columns (psycopg, same server);
- import path: what ``leadly import leads FILE`` runs — checksum and copy of the file into the
  data folder, DuckDB parse/validate/dedupe, COPY of the accepted rows into ``raw``, then the
  set-based batches into ``app.leads`` with one ``created`` event per lead (10,000 rows per
  transaction), as the API role under row-level security.

It prints rows/s of both, the ratio (target from the issue: ≥ 0.5× raw), where the import's
time goes, and the floor: the same rows and events written with bare ``INSERT ... SELECT`` into
copies of ``app.leads`` (nine indexes) and ``app.events`` (four), which no import path that keeps
those indexes and one event per lead can beat (``--no-floor`` skips it). Database: LEADLY_BENCH_DATABASE_URL (a server where a database can be created; default
postgresql://root@127.0.0.1:5432/postgres if reachable, else an embedded server); a fresh
database is created and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path

import psycopg

from bench._common import bench_database

HEADER = ["First Name", "Last Name", "Email", "Company Name", "Phone Number", "Job Title",
          "Original Source", "Lead Status", "Rating", "Reviews", "Website URL", "Website Score",
          "Industry", "City", "Country/Region"]  # fmt: skip


def generate(path: Path, rows: int) -> None:
    """A realistic lead file, written by DuckDB (fast even for millions of rows)."""
    import duckdb

    statuses = "['New', 'Open', 'Working - Contacted', 'Qualified', 'Unqualified', 'NURTURE']"
    industries = "['SaaS', 'Retail', 'Healthcare', 'Banking', 'Logistics', NULL]"
    cities = "['Lisbon', 'Berlin', 'Austin', 'Paris', 'Toronto', NULL]"
    with duckdb.connect() as db:
        db.execute(f"""
        COPY (
          SELECT 'First' || i AS "First Name", 'Last' || (i % 9973) AS "Last Name",
                 'lead' || i || '@company' || (i % 50000) || '.example' AS "Email",
                 'Company ' || (i % 50000) AS "Company Name",
                 '+1 555 ' || lpad((i % 10000000)::VARCHAR, 7, '0') AS "Phone Number",
                 CASE i % 4 WHEN 0 THEN 'CEO' WHEN 1 THEN 'CTO' WHEN 2 THEN NULL ELSE 'VP Sales' END
                   AS "Job Title",
                 CASE i % 3 WHEN 0 THEN 'ORGANIC_SEARCH' WHEN 1 THEN 'PAID_SOCIAL' ELSE 'REFERRALS' END
                   AS "Original Source",
                 {statuses}[1 + i % 6] AS "Lead Status",
                 CASE WHEN i % 10 = 0 THEN 'N/A' ELSE ((i * 7) % 51 / 10.0)::VARCHAR END AS "Rating",
                 ((i * 13) % 900)::VARCHAR AS "Reviews",
                 'https://www.company' || (i % 50000) || '.example' AS "Website URL",
                 ((i * 17) % 101)::VARCHAR AS "Website Score",
                 {industries}[1 + i % 6] AS "Industry",
                 {cities}[1 + i % 6] AS "City",
                 'Portugal' AS "Country/Region"
          FROM range({rows}) t(i)
        ) TO '{path}' (HEADER, DELIMITER ',')
        """)  # fmt: skip


def raw_copy(url: str, path: Path) -> float:
    """Seconds to COPY the file into a fresh unindexed table (text columns)."""
    cols = ", ".join(f'"{h}" text' for h in HEADER)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            f"DROP TABLE IF EXISTS public.bench_raw_copy; CREATE TABLE public.bench_raw_copy ({cols})"
        )
        conn.execute("CHECKPOINT")
        start = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY public.bench_raw_copy FROM STDIN WITH (FORMAT csv, HEADER true)"
            ) as copy,
            path.open("rb") as f,
        ):
            while chunk := f.read(1 << 20):
                copy.write(chunk)
        seconds = time.perf_counter() - start
        conn.execute("DROP TABLE public.bench_raw_copy")
        conn.execute("CHECKPOINT")
    return seconds


def floor(url: str, chunk_batches: int = 10) -> dict[str, float]:
    """Seconds of the two writes no import can avoid, measured on the rows the import landed:
    INSERT ... SELECT into a copy of ``app.leads`` with its nine indexes (no row-level security,
    no triggers, no look-ups) and into a copy of ``app.events`` (its indexes) of the events the
    import wrote, both as the owner, a few batches per transaction."""
    cols = ", ".join(
        ("first_name", "last_name", "email", "phone", "title", "company_name", "source",
         "rating", "reviews_count", "website", "website_score", "industry", "location")
    )  # fmt: skip
    out = {"leads": 0.0, "events": 0.0}
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE public.floor_leads (LIKE app.leads INCLUDING ALL);"
            "CREATE TABLE public.floor_events (LIKE app.events INCLUDING ALL)"
        )
        batches = conn.execute("SELECT max(batch_no) + 1 FROM raw.lead_import_rows").fetchone()
        events = conn.execute(
            "SELECT min(id), max(id) FROM app.events WHERE object_type = 'lead'"
        ).fetchone()
        n, (lo, hi) = int(batches[0] or 0), events
        step = max(1, (hi - lo + 1) * chunk_batches // max(n, 1))
        for b in range(0, n, chunk_batches):
            start = time.perf_counter()
            conn.execute(
                f"INSERT INTO public.floor_leads (team_id, id, status, custom, {cols}) "
                f"SELECT team_id, lead_id, coalesce(status, 'new'), '{{}}', {cols} "
                "FROM raw.lead_import_rows WHERE batch_no >= %s AND batch_no < %s",
                (b, b + chunk_batches),
            )
            out["leads"] += time.perf_counter() - start
        for first in range(lo, hi + 1, step):
            start = time.perf_counter()
            conn.execute(
                "INSERT INTO public.floor_events (team_id, actor_type, actor_id, object_type, "
                "object_id, action, changes, data, request_id) "
                "SELECT team_id, actor_type, actor_id, object_type, object_id, action, changes, "
                "data, request_id FROM app.events WHERE id >= %s AND id < %s",
                (first, first + step),
            )
            out["events"] += time.perf_counter() - start
        conn.execute("DROP TABLE public.floor_leads, public.floor_events")
    return out


async def import_path(path: Path, batch: int) -> tuple[float, dict[str, float], dict[str, object]]:
    from api.auth.service import signup
    from ingestion import cli as import_cli
    from ingestion.runner import run_import
    from warehouse.db import api_engine

    out = await signup("Bench", "Bench Owner", f"bench-{secrets.token_hex(3)}@bench.io",
                       "bench-password-1", "UTC")  # fmt: skip
    team_id = out["team"]["id"]
    timings: dict[str, float] = {}
    start = time.perf_counter()
    row, _ = await import_cli.prepare(
        team_id=team_id, object_name="leads", path=path, override=None, policy="skip",
        batch_size=batch, resume=False,
    )  # fmt: skip
    timings["upload (checksum, copy, probe)"] = time.perf_counter() - start
    final = await run_import(team_id, row["id"], timings=timings)
    total = time.perf_counter() - start
    await api_engine().dispose()
    return total, timings, final


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--batch-size", type=int, default=10_000)
    p.add_argument("--keep-file", action="store_true", help="Leave the generated CSV in /tmp.")
    p.add_argument("--keep-db", action="store_true", help="Do not drop the database (to inspect).")
    p.add_argument(
        "--no-floor",
        dest="floor",
        action="store_false",
        help="Skip measuring the floor (bare INSERT ... SELECT of the same rows and events).",
    )
    args = p.parse_args()

    os.environ["LEADLY_REDIS_URL"] = ""
    work = Path(tempfile.mkdtemp(prefix="leadly-bench-file-"))
    csv_path = work / "leads.csv"
    try:
        with bench_database(keep=args.keep_db) as db:
            url = db.url
            t = time.perf_counter()
            generate(csv_path, args.rows)
            size = csv_path.stat().st_size
            print(
                f"generated {args.rows:,} rows ({size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f}s"
            )

            load_before = os.getloadavg()[0]
            raw_s = raw_copy(url, csv_path)
            total, timings, final = asyncio.run(import_path(csv_path, args.batch_size))
            load_after = os.getloadavg()[0]
            assert final["status"] == "completed", final
            assert final["imported"] == args.rows, final
            floors = floor(url) if args.floor else {}
    finally:
        if not args.keep_file:
            shutil.rmtree(work, ignore_errors=True)

    n = args.rows
    raw_rate, imp_rate = n / raw_s, n / total
    print(f"\nlead import, {n:,} rows, batch size {args.batch_size:,}")
    print(f"{'path':<44} {'seconds':>8} {'rows/s':>10}")
    print(f"{'raw COPY into an unindexed table':<44} {raw_s:>8.1f} {raw_rate:>10,.0f}")
    print(f"{'import path (end to end)':<44} {total:>8.1f} {imp_rate:>10,.0f}")
    for phase, label in (
        ("upload (checksum, copy, probe)", "  file into the data folder + probe"),
        ("parse", "  DuckDB parse, validate, dedupe"),
        ("copy", "  COPY accepted rows + rejects into raw"),
        ("load", "  app.leads + events, set-based batches"),
    ):
        s = timings.get(phase, 0.0)
        print(f"{label:<44} {s:>8.1f} {n / s if s else 0:>10,.0f}")
    if floors:
        print(
            f"{'floor: rows into a copy of app.leads (9 idx)':<44} {floors['leads']:>8.1f} "
            f"{n / floors['leads']:>10,.0f}"
        )
        print(
            f"{'floor: their events into a copy of events':<44} {floors['events']:>8.1f} "
            f"{n / floors['events']:>10,.0f}"
        )
        best = raw_s / (floors["leads"] + floors["events"])
        print(f"{'  floor/raw on one connection':<44} {best:>8.2f}x (two cores: at most ~2x that)")  # fmt: skip
    print(f"load average (other work on the machine): {load_before:.1f} before, "
          f"{load_after:.1f} after the import; {os.cpu_count()} cores")  # fmt: skip
    ratio = imp_rate / raw_rate
    flag = "ok" if ratio >= 0.5 else "BELOW TARGET"
    print(f"\nimport/raw throughput = {ratio:.2f}x (target ≥ 0.5x: {flag})")
    copy_ratio = raw_s / timings["copy"] if timings.get("copy") else 0
    print(f"COPY into raw (the landing step alone)/raw = {copy_ratio:.2f}x")


if __name__ == "__main__":
    main()
