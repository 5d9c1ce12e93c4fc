"""Rows for comparing the evaluator with PostgreSQL: the columns a row has, the related
records its lookups reach (as SQL and as Python), and hypothesis strategies for rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

COLUMNS = {
    "title": "text",
    "notes": "text",
    "stage": "text",
    "phone": "text",
    "client": "text",
    "hours": "numeric",
    "count": "numeric",
    "budget": "numeric",
    "share": "numeric",
    "due": "date",
    "started_at": "timestamptz",
    "done": "boolean",
    "tags": "text[]",
    "now_": "timestamptz",
    "tz_": "text",
}
ACCOUNTS = [
    ("acc_1", "Acme", "tech", Decimal("80.00"), "mem_1"),
    ("acc_2", "Zeta", None, Decimal("-0.5"), "mem_gone"),
    ("acc_3", None, "", None, None),
]
MEMBERS = [("mem_1", "Ada", "EMEA")]


def lookup_sql(path: tuple[str, ...]) -> str:
    """A field across lookups as a scalar subquery (what a caller gives the compiler)."""
    *hops, name = path
    key = f"r.{hops[0]}"
    tables = {"client": "f_accounts", "owner": "f_members"}
    for i, hop in enumerate(hops):
        alias = f"l{i}"
        select_ = name if i == len(hops) - 1 else hops[i + 1]
        key = f"(SELECT {alias}.{select_} FROM {tables[hop]} {alias} WHERE {alias}.id = {key})"
    return key


def related(obj: str, key: str) -> dict[str, Any] | None:
    if obj == "accounts":
        rows = {
            a[0]: dict(zip(("id", "name", "industry", "rate", "owner"), a, strict=True))
            for a in ACCOUNTS
        }
    else:
        rows = {m[0]: dict(zip(("id", "name", "region"), m, strict=True)) for m in MEMBERS}
    return rows.get(key)


ALPHABET = "aAbmzZ 09.-+_'\"\\%éÉßİıǅǆΣσςЖж🙂\t\n"
text = st.one_of(
    st.none(),
    st.text(alphabet=ALPHABET, max_size=12),
    st.sampled_from(["", "12.50", " -3 ", ".5", "1e5", "open", "won", "red"]),
)
number = st.one_of(
    st.none(),
    st.decimals(min_value=-1000, max_value=1000, places=2),
    st.decimals(min_value=-(10**7), max_value=10**7, places=0),
    st.decimals(min_value=-1, max_value=1, places=6),
    st.sampled_from(
        [
            Decimal(0),
            Decimal("0.5"),
            Decimal("-2.5"),
            Decimal("1.005"),
            Decimal("100"),
            Decimal("999999.9"),
            Decimal("-1000000"),
            Decimal("99999.99"),
            Decimal("21"),
            Decimal("-20"),
        ]
    ),
)
DST = [
    datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
    datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
    datetime(2026, 3, 8, 7, 0, tzinfo=UTC),
    datetime(2026, 11, 1, 5, 30, tzinfo=UTC),
    datetime(2011, 12, 30, 10, 0, tzinfo=UTC),
]
moment = st.one_of(
    st.sampled_from(DST),
    st.builds(
        lambda d, m: d + timedelta(minutes=m), st.sampled_from(DST), st.integers(-1500, 1500)
    ),
    st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    ),
)
row = st.fixed_dictionaries(
    {
        "title": text,
        "notes": text,
        "stage": text,
        "phone": text,
        "client": st.sampled_from([None, "acc_1", "acc_2", "acc_3", "acc_gone"]),
        "hours": number,
        "count": number,
        "budget": number,
        "share": number,
        "due": st.one_of(st.none(), st.dates(), st.builds(lambda d: d.date(), moment)),
        "started_at": st.one_of(st.none(), moment),
        "done": st.one_of(st.none(), st.booleans()),
        "tags": st.one_of(
            st.none(), st.lists(st.sampled_from(["red", "blue", "open", ""]), max_size=3)
        ),
        "now_": moment,
        "tz_": st.sampled_from(
            [
                "UTC",
                "Europe/Paris",
                "America/New_York",
                "Pacific/Apia",
                "Asia/Kolkata",
                "Australia/Lord_Howe",
            ]
        ),
    }
)


def same(a: Any, b: Any) -> bool:
    if isinstance(a, Decimal) and isinstance(b, Decimal):
        return a == b and str(a) == str(b)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return list(a) == list(b)
    return a == b and type(a) is type(b)
