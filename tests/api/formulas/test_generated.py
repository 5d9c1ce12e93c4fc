"""Generated formulas: hypothesis writes well-typed expressions (operators and functions nested
in every combination, over fields that may be null) and the SQL compiler must compute what the
evaluator computes for generated rows, in PostgreSQL.

The examples are the same on every run; ``FORMULA_EXAMPLES=2000`` runs that many new random
ones (the way to look for a disagreement after changing the language)."""

from __future__ import annotations

import functools
import os
from typing import Any

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import literal_column

from api.formulas import FormulaError, check, evaluate, sql_text, to_sql
from tests.api.formulas.rows import COLUMNS, lookup_sql, related, row, same
from tests.api.formulas.world import PROJECTS

LEAVES: dict[str, list[str]] = {
    "number": [
        "hours",
        "count",
        "budget",
        "share",
        "client.rate",
        "cost",
        "0",
        "2",
        "0.5",
        "3.25",
        "100",
        "NULL",
    ],
    "text": ["title", "notes", "stage", "client.industry", "''", "'a'", "'Ab ß'", "NULL"],
    "boolean": ["done", "TRUE", "FALSE"],
    "date": ["due", "TODAY()"],
    "datetime": ["started_at", "NOW()"],
}
COMPARABLE = ("number", "text", "date", "datetime")


def infix(a: st.SearchStrategy[str], ops: list[str], b: st.SearchStrategy[str]) -> Any:
    return st.builds(lambda x, op, y: f"({x} {op} {y})", a, st.sampled_from(ops), b)


def call(names: list[str], *args: st.SearchStrategy[str]) -> Any:
    return st.builds(lambda fn, *xs: f"{fn}({', '.join(xs)})", st.sampled_from(names), *args)


@functools.cache
def expr(kind: str, depth: int) -> st.SearchStrategy[str]:
    leaf = st.sampled_from(LEAVES[kind])
    if depth == 0:
        return leaf
    sub = lambda k: expr(k, depth - 1)  # noqa: E731
    n, t, b, d, dt = (sub(k) for k in ("number", "text", "boolean", "date", "datetime"))
    shapes: dict[str, list[st.SearchStrategy[str]]] = {
        "number": [
            infix(n, ["+", "-", "*", "/"], n),
            infix(n, ["^"], st.sampled_from(["2", "0.5", "-1", "3", "count"])),
            st.builds(lambda x: f"-{x}", n),
            call(["ROUND"], n, st.sampled_from(["0", "2", "-1", "count"])),
            call(["ABS"], n),
            call(["MIN", "MAX"], n, n),
            call(["LEN", "VALUE"], t),
            call(["DATEDIFF"], d | dt, d | dt),
            infix(d, ["-"], d),
            infix(dt, ["-"], dt),
        ],
        "text": [
            infix(t, ["&"], t),
            call(["UPPER", "LOWER"], t),
            call(["TEXT"], n | d | dt | b),
            call(["BLANKVALUE"], t, t),
        ],
        "boolean": [
            infix(n, ["=", "<>", "<", "<=", ">", ">="], n),
            infix(t, ["=", "!=", "<", ">="], t),
            infix(d, ["=", "<"], d),
            call(["AND", "OR"], b, b),
            call(["NOT"], b),
            call(["ISBLANK"], t | n | d),
            call(["CONTAINS"], t, t),
            call(["CONTAINS"], st.just("tags"), t),
        ],
        "date": [infix(d, ["+", "-"], n), call(["MIN", "MAX"], d, d)],
        "datetime": [infix(dt, ["+", "-"], n)],
    }
    branches = [call(["IF"], b, sub(kind), sub(kind))]
    if kind in COMPARABLE:
        branches.append(
            st.builds(
                lambda s, x, y, z: f"CASE({s}, 'a', {x}, 'b', {y}, {z})",
                t,
                sub(kind),
                sub(kind),
                sub(kind),
            )
        )
    return st.one_of(leaf, *shapes[kind], *branches)


formula = st.one_of(*(expr(k, 3) for k in LEAVES))


@settings(
    max_examples=int(os.environ.get("FORMULA_EXAMPLES", "100")),
    derandomize=not os.environ.get("FORMULA_EXAMPLES"),
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(expression=formula, record=row)
def test_generated_formulas_agree(
    conn: psycopg.Connection, expression: str, record: dict[str, Any]
) -> None:
    try:
        checked = check(expression, PROJECTS)
    except FormulaError as e:  # e.g. a comparison with the NULL literal
        assert "NULL" in expression or "nests deeper" in e.message, (expression, e)
        return
    want = evaluate(checked, record, lookup=related, now=record["now_"], tz=record["tz_"])
    sql = sql_text(
        to_sql(
            checked,
            column=lambda n: f"r.{n}",
            lookup_sql=lookup_sql,
            now=literal_column("r.now_"),
            tz=literal_column("r.tz_"),
        )
    )
    values = ", ".join(f"CAST(%({c})s AS {t}) AS {c}" for c, t in COLUMNS.items())
    got = conn.execute(
        f"SELECT {sql.replace('%', '%%')} FROM (SELECT {values}) AS r", record
    ).fetchone()
    assert got is not None
    assert same(want, got[0]), (expression, want, got[0])
