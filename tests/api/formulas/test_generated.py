"""Generated formulas: hypothesis writes well-typed expressions (operators and functions nested
in every combination, over fields that may be null) and the SQL compiler must compute what the
evaluator computes for generated rows, in PostgreSQL."""

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


@functools.cache
def expr(kind: str, depth: int) -> st.SearchStrategy[str]:
    leaf = st.sampled_from(LEAVES[kind])
    if depth == 0:
        return leaf
    sub = lambda k: expr(k, depth - 1)  # noqa: E731
    f = st.builds
    shapes: dict[str, list[st.SearchStrategy[str]]] = {
        "number": [
            f(
                lambda a, op, b: f"({a} {op} {b})",
                sub("number"),
                st.sampled_from(["+", "-", "*", "/"]),
                sub("number"),
            ),
            f(
                lambda a, b: f"({a} ^ {b})",
                sub("number"),
                st.sampled_from(["2", "0.5", "-1", "3", "count"]),
            ),
            f(lambda a: f"-{a}", sub("number")),
            f(
                lambda a, d: f"ROUND({a}, {d})",
                sub("number"),
                st.sampled_from(["0", "2", "-1", "count"]),
            ),
            f(lambda a: f"ABS({a})", sub("number")),
            f(
                lambda fn, a, b: f"{fn}({a}, {b})",
                st.sampled_from(["MIN", "MAX"]),
                sub("number"),
                sub("number"),
            ),
            f(lambda a: f"LEN({a})", sub("text")),
            f(lambda a: f"VALUE({a})", sub("text")),
            f(
                lambda a, b: f"DATEDIFF({a}, {b})",
                sub("date") | sub("datetime"),
                sub("date") | sub("datetime"),
            ),
            f(lambda a, b: f"({a} - {b})", sub("date"), sub("date")),
            f(lambda a, b: f"({a} - {b})", sub("datetime"), sub("datetime")),
        ],
        "text": [
            f(lambda a, b: f"({a} & {b})", sub("text"), sub("text")),
            f(lambda fn, a: f"{fn}({a})", st.sampled_from(["UPPER", "LOWER"]), sub("text")),
            f(
                lambda a: f"TEXT({a})",
                sub("number") | sub("date") | sub("datetime") | sub("boolean"),
            ),
            f(lambda a, b: f"BLANKVALUE({a}, {b})", sub("text"), sub("text")),
        ],
        "boolean": [
            f(
                lambda a, op, b: f"({a} {op} {b})",
                sub("number"),
                st.sampled_from(["=", "<>", "<", "<=", ">", ">="]),
                sub("number"),
            ),
            f(
                lambda a, op, b: f"({a} {op} {b})",
                sub("text"),
                st.sampled_from(["=", "!=", "<", ">="]),
                sub("text"),
            ),
            f(
                lambda a, op, b: f"({a} {op} {b})",
                sub("date"),
                st.sampled_from(["=", "<"]),
                sub("date"),
            ),
            f(
                lambda fn, a, b: f"{fn}({a}, {b})",
                st.sampled_from(["AND", "OR"]),
                sub("boolean"),
                sub("boolean"),
            ),
            f(lambda a: f"NOT({a})", sub("boolean")),
            f(lambda a: f"ISBLANK({a})", sub("text") | sub("number") | sub("date")),
            f(lambda a, b: f"CONTAINS({a}, {b})", sub("text"), sub("text")),
            f(lambda b: f"CONTAINS(tags, {b})", sub("text")),
        ],
        "date": [
            f(
                lambda a, op, b: f"({a} {op} {b})",
                sub("date"),
                st.sampled_from(["+", "-"]),
                sub("number"),
            ),
            f(
                lambda fn, a, b: f"{fn}({a}, {b})",
                st.sampled_from(["MIN", "MAX"]),
                sub("date"),
                sub("date"),
            ),
        ],
        "datetime": [
            f(
                lambda a, op, b: f"({a} {op} {b})",
                sub("datetime"),
                st.sampled_from(["+", "-"]),
                sub("number"),
            ),
        ],
    }
    branches = [
        f(lambda c, a, b: f"IF({c}, {a}, {b})", sub("boolean"), sub(kind), sub(kind)),
    ]
    if kind in COMPARABLE:
        branches.append(
            f(
                lambda s, a, r1, d: f"CASE({s}, 'a', {a}, 'b', {r1}, {d})",
                sub("text"),
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
