"""apps/fmt.py, the one place the workspace formats labels, names, money, numbers, dates in the
member's zone and record links; apps/objects.py's descriptions (no server needed)."""

from __future__ import annotations

import datetime as dt

import pytest
from streamlit.testing.v1 import AppTest

from apps import fmt, objects


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("owner_id", "Owner"),
        ("win_reason", "Win reason"),
        ("expected_close_date", "Expected close date"),
        ("in_progress", "In progress"),
        ("one_off", "One-off"),
        ("id", "ID"),
        ("call_logs", "Call logs"),
        ("", "—"),
        (None, "—"),
    ],
)
def test_labels_are_words(key: str | None, words: str) -> None:
    assert fmt.label(key) == words


def test_money_has_its_currency_grouping_and_never_loses_digits() -> None:
    assert fmt.money("1234567.5", "USD") == "$1,234,567.50"
    assert fmt.money("1234567.5", "usd") == "$1,234,567.50"
    assert fmt.money("-42", "EUR") == "-€42.00"
    assert fmt.money("99.999", "CHF") == "100.00 CHF"
    assert fmt.money("12", None) == "12.00"
    assert fmt.money(None, "USD") == fmt.money("", "USD") == fmt.money("nope", "USD") == "—"
    assert fmt.money("1234567.5", "USD", compact=True) == "$1.23M"
    assert fmt.money("98765", "GBP", compact=True) == "£98.8K"
    assert fmt.money("250000000000", "USD", compact=True) == "$250B"
    assert fmt.money("512", "USD", compact=True) == "$512"
    assert fmt.money("-2500", "SEK", compact=True) == "-2.50K SEK"


def test_numbers_and_percents() -> None:
    assert fmt.number(1234567) == "1,234,567"
    assert fmt.number("3.14159", 2) == "3.14"
    assert fmt.number(1_500_000, compact=True) == "1.50M"
    assert fmt.number(None) == "—"
    assert fmt.percent(0.256) == "26%"
    assert fmt.percent(0.256, 1) == "25.6%"


def test_times_are_in_the_members_zone() -> None:
    # 15:00 UTC on Tue 8 Dec 2026 is 09:00 in Chicago (CST, UTC-6) and 16:00 in Paris.
    assert fmt.when("2026-12-08T15:00:00Z", "America/Chicago") == "Tue 08 Dec 2026 09:00"
    assert fmt.when("2026-12-08T15:00:00+00:00", "Europe/Paris") == "Tue 08 Dec 2026 16:00"
    at = dt.datetime(2026, 7, 1, 12, 30, 5, tzinfo=dt.UTC)
    assert fmt.when(at, "America/Chicago", seconds=True) == "Wed 01 Jul 2026 07:30:05"
    assert fmt.when("2026-12-08T15:00:00", "Not/AZone") == "Tue 08 Dec 2026 15:00"  # UTC
    assert fmt.when(None) == "—"
    assert fmt.when("yesterday") == "yesterday"


def test_days_months_durations() -> None:
    assert fmt.day("2026-12-08") == "Tue 08 Dec 2026"
    assert fmt.day(dt.date(2027, 1, 15)) == "Fri 15 Jan 2027"
    assert fmt.month("2026-12-01") == "Dec 2026"
    assert fmt.duration(754) == "12 min 34 s"
    assert fmt.duration(3725) == "1 h 2 min"
    assert fmt.duration(9) == "9 s"


def test_names_links_and_values() -> None:
    assert fmt.person({"first_name": "Ada", "last_name": "Lovelace"}) == "Ada Lovelace"
    assert fmt.person({"first_name": None, "email": "ada@example.com"}) == "ada@example.com"
    assert fmt.record_url("deal_01ABC") == "/Record?id=deal_01ABC"
    assert fmt.link("Big [deal]", "deal_01ABC") == r"[Big \[deal\]](/Record?id=deal_01ABC)"
    assert fmt.link("No id", None) == "No id"
    assert fmt.value("won", "choice") == "Won"
    assert fmt.value(True, "bool") == "Yes"
    assert fmt.value("1500", "money", currency="USD") == "$1,500.00"
    assert fmt.value("2026-12-08T15:00:00Z", "datetime", zone="America/Chicago").endswith("09:00")
    assert fmt.value(None, "text") == "—"


def test_objects_are_found_by_id_prefix_and_named() -> None:
    assert objects.of_id("lead_01J0000000000000000000000").api_name == "leads"
    assert objects.of_id("cont_01J0000000000000000000000").api_name == "contacts"
    assert objects.of_id("call_01J0000000000000000000000").path == "/call-logs"
    assert objects.of_id("nope") is None and objects.of_id("zzz_01") is None
    assert objects.of_type("deal") is objects.of_type("deals") is objects.OBJECTS["deals"]
    leads = objects.OBJECTS["leads"]
    assert leads.name({"first_name": "Ada", "last_name": "L", "company_name": "Acme"}) == (
        "Ada L · Acme"
    )
    assert objects.OBJECTS["accounts"].name({"id": "acct_01XYZ123", "name": None}) == (
        "Account XYZ123"
    )
    for desc in objects.OBJECTS.values():
        assert "id" in desc.list_fields
        for f in desc.fields:
            assert f.kind in objects.KINDS, (desc.api_name, f.name)
            assert f.kind != "ref" or f.ref in objects.OBJECTS
        for rel in desc.related:
            assert rel.object in objects.OBJECTS


def _kpis() -> None:
    import streamlit as st

    from apps import fmt

    st.metric("Pipeline", fmt.money("12345678.9", "USD", compact=True))
    st.markdown(fmt.link("Acme *renewal*", "deal_01ABC"))
    st.caption(fmt.when("2026-12-08T15:00:00Z", "America/Chicago"))


def test_formatted_values_render_in_a_page() -> None:
    """AppTest: a KPI card shows the compact amount (nothing to truncate), a record's name is
    a link to its page with its Markdown escaped, a time in the member's zone."""
    at = AppTest.from_function(_kpis).run()
    assert not at.exception
    assert at.metric[0].value == "$12.3M"
    assert at.markdown[0].value == r"[Acme \*renewal\*](/Record?id=deal_01ABC)"
    assert at.caption[0].value == "Tue 08 Dec 2026 09:00"


def test_the_builders_conditions_round_trip() -> None:
    import pandas as pd

    from apps.deal_board import CONDITION_COLUMNS, conditions, rule_text

    rows = pd.DataFrame(
        [
            {"field": "value", "op": "gte", "value": "5000"},
            {"activity": "call", "outcome": "connected", "min_count": 2.0, "within_days": 30.0},
            {"field": None, "op": None, "value": ""},  # an empty row of the editor
        ],
        columns=CONDITION_COLUMNS,
    )
    conds = conditions(rows)
    assert conds == [
        {"field": "value", "op": "gte", "value": "5000"},
        {"activity": "call", "outcome": "connected", "min_count": 2, "within_days": 30},
    ]
    assert rule_text({"auto_advance": {"all": conds}}) == (
        "value gte 5000; 2× call (connected) in 30 days"
    )
    assert rule_text({"auto_advance": None}) == ""
