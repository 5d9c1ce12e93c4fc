"""Formulas: the evaluator against hand-written Python, the compiled SQL against hand-written SQL.

    uv run python bench/formulas.py [--records 100000] [--repeat 5]

``--records`` generated records (about one value in ten null, a few zero divisors, dates on
either side of a DST change) and three formulas of the kinds admins write:

- ``margin``: ``IF(hours * rate > budget, ROUND((hours * rate - budget) / budget * 100, 2), 0)``
- ``label``: ``UPPER(title) & " (" & TEXT(count) & ")"``
- ``age``: ``DATEDIFF(started_at, due)`` in Europe/Paris

Python: :func:`api.formulas.evaluate_many` over every record (and :func:`api.formulas.evaluate`
called once per record) against a hand-written lambda with the same semantics (nulls, Decimal,
division by zero, the team's zone); prints the median of ``--repeat`` runs of each and the
ratios (evaluator / lambda). Check and compilation happen once, outside the timing, as a list
view or an export does.

SQL: the records in a table of their own; ``SELECT sum(...)`` (``max`` for text, ``sum`` of
the day counts) of the formula as :func:`api.formulas.to_sql` compiles it against the same
aggregate over the SQL one would write by hand; prints the medians and the ratio
(compiled / hand-written). Both answers are checked equal before timing.

Database: LEADLY_BENCH_DATABASE_URL (a server where a database can be created; default
postgresql://root@127.0.0.1:5432/postgres if reachable, else an embedded server). The database
is dropped at the end.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from api.formulas import Field, Schema, check, evaluate, evaluate_many, sql_text, to_sql
from bench._common import bench_database, libpq

SCHEMA = Schema.of(
    "projects",
    [
        Field("hours", "decimal"),
        Field("rate", "currency"),
        Field("budget", "currency"),
        Field("title", "text"),
        Field("count", "integer"),
        Field("started_at", "datetime"),
        Field("due", "date"),
    ],
)
ZONE = "Europe/Paris"
PARIS = ZoneInfo(ZONE)


def _margin(r: dict[str, Any]) -> Decimal | None:
    hours, rate, budget = r["hours"], r["rate"], r["budget"]
    if hours is None or rate is None or budget is None or not hours * rate > budget:
        return Decimal(0)  # IF's condition is null or false
    cost = hours * rate
    if not budget:
        return None
    q = ((cost - budget) / budget).quantize(Decimal("1e-20"), ROUND_HALF_UP).normalize()
    return (q * 100).quantize(Decimal("0.01"), ROUND_HALF_UP)


def _label(r: dict[str, Any]) -> str:
    title, count = r["title"], r["count"]
    return (
        (title.upper() if title is not None else "")
        + " ("
        + (str(count) if count is not None else "")
        + ")"
    )


def _age(r: dict[str, Any]) -> Decimal | None:
    start, due = r["started_at"], r["due"]
    if start is None or due is None:
        return None
    return Decimal((due - start.astimezone(PARIS).date()).days)


FORMULAS: dict[str, tuple[str, Callable[[dict[str, Any]], Any], str, str]] = {
    # name: (formula, hand-written Python, hand-written SQL, aggregate)
    "margin": (
        "IF(hours * rate > budget, ROUND((hours * rate - budget) / budget * 100, 2), 0)",
        _margin,
        "CASE WHEN hours * rate > budget "
        "THEN round((hours * rate - budget) / NULLIF(budget, 0) * 100, 2) ELSE 0 END",
        "sum",
    ),
    "label": (
        "UPPER(title) & ' (' & TEXT(count) & ')'",
        _label,
        "coalesce(upper(title), '') || ' (' || coalesce(count::text, '') || ')'",
        "max",
    ),
    "age": (
        "DATEDIFF(started_at, due)",
        _age,
        f"due - (started_at AT TIME ZONE '{ZONE}')::date",
        "sum",
    ),
}


def records(n: int) -> list[dict[str, Any]]:
    rng = random.Random(14)
    start = datetime(2026, 3, 20, tzinfo=UTC)

    def maybe(v: Any) -> Any:
        return None if rng.random() < 0.1 else v

    return [
        {
            "hours": maybe(Decimal(rng.randint(0, 4000)) / 10),
            "rate": maybe(Decimal(rng.randint(2000, 20000)) / 100),
            "budget": maybe(Decimal(rng.choice([0, rng.randint(100, 500_000)]))),
            "title": maybe(rng.choice(["roof", "Façade", "Ærø", "window"]) + str(i % 97)),
            "count": maybe(rng.randint(0, 50)),
            "started_at": maybe(start + timedelta(minutes=rng.randint(0, 30 * 24 * 60))),
            "due": maybe(date(2026, 3, 1) + timedelta(days=rng.randint(0, 90))),
        }
        for i in range(n)
    ]


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def python_side(rows: list[dict[str, Any]], repeat: int) -> None:
    print(f"Python: {len(rows)} records, median of {repeat}")
    now = datetime(2026, 6, 1, tzinfo=UTC)
    for name, (formula, by_hand, _, _) in FORMULAS.items():
        checked = check(formula, SCHEMA)
        evaluate(checked, rows[0], now=now, tz=ZONE)  # compiled once, as a list view does
        one, got = timed(lambda c=checked: [evaluate(c, r, now=now, tz=ZONE) for r in rows], repeat)
        ours, many = timed(lambda c=checked: evaluate_many(c, rows, now=now, tz=ZONE), repeat)
        theirs, want = timed(lambda f=by_hand: [f(r) for r in rows], repeat)
        assert got == want == many, name
        print(
            f"  {name:7} evaluate_many {ours * 1000:7.1f} ms   evaluate per record "
            f"{one * 1000:7.1f} ms   lambda {theirs * 1000:7.1f} ms   "
            f"ratio {ours / theirs:5.2f} (per record {one / theirs:5.2f})"
        )


def sql_side(url: str, rows: list[dict[str, Any]], repeat: int) -> None:
    print(f"SQL: {len(rows)} rows, median of {repeat}")
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE bench_formulas (hours numeric, rate numeric, budget numeric, "
            "title text, count integer, started_at timestamptz, due date)"
        )
        with conn.cursor().copy("COPY bench_formulas FROM STDIN") as copy:
            for r in rows:
                copy.write_row(tuple(r.values()))
        conn.execute("VACUUM ANALYZE bench_formulas")
        for name, (formula, _, by_hand, agg) in FORMULAS.items():
            compiled = sql_text(to_sql(check(formula, SCHEMA), column=lambda f: f, tz=ZONE))
            ours_sql = f"SELECT {agg}({compiled}) FROM bench_formulas"
            theirs_sql = f"SELECT {agg}({by_hand}) FROM bench_formulas"
            ours, got = timed(lambda q=ours_sql: conn.execute(q).fetchone(), repeat)
            theirs, want = timed(lambda q=theirs_sql: conn.execute(q).fetchone(), repeat)
            assert got == want, (name, got, want)
            print(
                f"  {name:7} compiled {ours * 1000:8.1f} ms   by hand {theirs * 1000:8.1f} ms   "
                f"ratio {ours / theirs:5.2f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rows = records(args.records)
    python_side(rows, args.repeat)
    with bench_database("leadly_bench_formulas") as db:
        sql_side(db.url, rows, args.repeat)


if __name__ == "__main__":
    main()
