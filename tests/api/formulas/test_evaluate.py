"""The evaluator's semantics: nulls, division by zero, Decimal arithmetic, rounding, dates
across DST in the team's zone, lookups, formulas of formulas, validation rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest

from api.formulas import Field, Schema, check, check_rule, evaluate
from leadly import clock
from tests.api.formulas.world import NOW, PROJECTS, RECORD, lookup


def run(expression: str, record: dict | None = None, **kw: Any) -> Any:
    kw.setdefault("now", NOW)
    kw.setdefault("lookup", lookup)
    return evaluate(check(expression, PROJECTS), RECORD if record is None else record, **kw)


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("1 + 2 * 3", D(7)),
        ("(1 + 2) * 3", D(9)),
        ("2 ^ 3 ^ 2", D(512)),
        ("2 ^ 0.5 * 1.0", D("1.41421356237309504880")),
        ("-2 ^ 2", D(-4)),
        ("2 ^ -1", D("0.5")),
        ("0.1 + 0.2 = 0.3", True),
        ("10 - 2 - 3", D(5)),
        ("1 / 3", D("0.33333333333333333333")),
        ("2 / 3", D("0.66666666666666666667")),
        ("hours * 2", D("21.0")),
        ("count + 1", D(4)),
        ("budget * share / 100", D("125")),
        ("'a' & \"b\" & 'it\\'s'", "ab" + "it's"),
        ("title & ' ' & TEXT(count)", "Roof 3"),
        ("1 == 1", True),
        ("1 <> 1", False),
        ("2 >= 3", False),
        ("'a' < 'b'", True),
        ("TRUE = NOT(FALSE)", True),
        ("if(done, 'yes', 'no')", "no"),
        ("IF(done, 'yes')", None),
        ("CASE(stage, 'won', 1, 'open', 2, 0)", D(2)),
        ("CASE(count, 1, 'one', 3, 'three', 'many')", "three"),
        ("AND(TRUE, done)", False),
        ("OR(done, TRUE)", True),
        ("NOT(done)", True),
        ("LEN('héllo')", D(5)),
        ("UPPER('straße é')", "STRAßE É"),
        ("LOWER('ÀB İ')", "àb i"),
        ("LOWER('ΣΑΣ')", "σασ"),
        ("UPPER('ǆ ﬁ é')", "Ǆ ﬁ É"),
        ("LOWER('ǅ ÉTÉ')", "ǆ été"),
        ("CONTAINS(title, 'oo')", True),
        ("CONTAINS(title, '')", True),
        ("CONTAINS(tags, 'red')", True),
        ("CONTAINS(tags, 're')", False),
        ("VALUE(' 12.50 ')", D("12.50")),
        ("VALUE('1e5')", None),
        ("VALUE('abc')", None),
        ("VALUE('٣')", None),
        ("TEXT(1.50)", "1.50"),
        ("TEXT(0 - 0.00)", "0.00"),
        ("TEXT(done)", "false"),
        ("TEXT(due)", "2026-12-24"),
        ("TEXT(started_at)", "2026-12-01T09:00:00Z"),
        ("TEXT(ROUND(1234.5, -2))", "1200"),
        ("TEXT(ROUND(1234.5, -2) * 1.10)", "1320.00"),
        ("TEXT(1 / 4)", "0.25"),
        ("TEXT(10 / 2)", "5"),
        ("TEXT(1000 / 1)", "1000"),
        ("ROUND(2.5)", D(3)),
        ("ROUND(-2.5)", D(-3)),
        ("ROUND(1.005, 2)", D("1.01")),
        ("ROUND(2.345, 2.9)", D("2.35")),
        ("ROUND(1, 21)", None),
        ("ABS(0 - budget)", D("1000.00")),
        ("MIN(3, 1, 2)", D(1)),
        ("MAX(due, TODAY())", date(2026, 12, 24)),
        ("ISBLANK(notes)", True),
        ("ISBLANK(title)", False),
        ("ISBLANK('')", True),
        ("ISBLANK(tags)", False),
        ("BLANKVALUE(notes, 'none')", "none"),
        ("BLANKVALUE(title, 'none')", "Roof"),
        ("due + 7", date(2026, 12, 31)),
        ("due - 24", date(2026, 11, 30)),
        ("due + 1.9", date(2026, 12, 25)),
        ("due - 1.9", date(2026, 12, 23)),
        ("due - due", D(0)),
        ("started_at + 0.5", datetime(2026, 12, 1, 21, 0, tzinfo=UTC)),
        ("NOW() - started_at", D("6.27083333333333333333")),
        ("TODAY()", date(2026, 12, 7)),
        ("DATEDIFF(started_at, due)", D(23)),
        ("cost", D("840.000")),
        ("client.industry & '/' & client.owner.region", "tech/EMEA"),
        ("client.discounted", D("72.000")),
        ("2 ^ 0.5", D("1.4142135623730950488")),
        ("(0 - 8) ^ (1 / 3)", None),
        ("0 ^ -1", None),
        ("0 ^ 0", D(1)),
        ("10 ^ 101", None),
        ("due + 1000000", None),
        ("due - 999999", None),
        ("due + 1000000 - 1000000", None),
        ("TEXT(due - 739000)", "0003-09-01"),
    ],
    ids=str,
)
def test_values(expression: str, value: Any) -> None:
    assert run(expression) == value
    if isinstance(value, D):
        assert str(run(expression)) == str(value)  # same scale, not only the same value


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("notes & 'x'", "x"),  # & reads null as ''
        ("hours + 1", None),  # arithmetic with null
        ("-hours", None),
        ("hours * 0", None),
        ("hours > 1", None),  # comparisons with null
        ("IF(hours > 1, 'a', 'b')", "b"),  # a null condition takes the else branch
        ("AND(hours > 1, FALSE)", False),  # three-valued logic
        ("AND(hours > 1, TRUE)", None),
        ("OR(hours > 1, TRUE)", True),
        ("OR(hours > 1, FALSE)", None),
        ("NOT(hours > 1)", None),
        ("CASE(stage, 'open', 1, 2)", D(2)),
        ("LEN(notes)", None),
        ("UPPER(notes)", None),
        ("TEXT(hours)", None),
        ("ROUND(hours, 2)", None),
        ("ROUND(1.5, hours)", None),
        ("MIN(hours, 2)", D(2)),
        ("MAX(hours, hours)", None),
        ("DATEDIFF(due, TODAY())", None),
        ("due + 1", None),
        ("ISBLANK(hours)", True),
        ("BLANKVALUE(hours, 0)", D(0)),
        ("CONTAINS(tags, 'x')", None),
        ("ISBLANK(tags)", True),
        ("client.rate", None),
        ("cost", None),
        ("1 / 0", None),
        ("budget / (count - count)", None),
    ],
    ids=str,
)
def test_nulls(expression: str, value: Any) -> None:
    empty: dict[str, Any] = {"count": 3, "budget": D(10)}
    assert run(expression, empty) == value


def test_division_by_zero_is_null_not_an_error() -> None:
    assert run("budget / (hours - 10.5)") is None
    assert run("IF(ISBLANK(budget / 0), 'none', 'some')") == "none"


def test_dates_across_dst_count_calendar_days_in_the_team_zone() -> None:
    # Paris moves to summer time on 29 March 2026: that day has 23 hours.
    record = {
        "started_at": datetime(2026, 3, 28, 22, 30, tzinfo=UTC),  # 23:30 on the 28th in Paris
        "due": date(2026, 3, 30),
    }
    end = datetime(2026, 3, 29, 21, 30, tzinfo=UTC)  # 23:30 on the 29th in Paris (UTC+2)
    c = check("DATEDIFF(started_at, NOW())", PROJECTS)
    assert evaluate(c, record, now=end, tz="Europe/Paris") == D(1)
    assert evaluate(c, record, now=end, tz="UTC") == D(1)
    assert evaluate(c, record, now=end + timedelta(hours=1), tz="Europe/Paris") == D(2)
    assert evaluate(c, record, now=end + timedelta(hours=1), tz="UTC") == D(1)
    # Datetime arithmetic counts 24-hour days: 23 hours is 23/24 of a day.
    span = check("NOW() - started_at", PROJECTS)
    assert evaluate(span, record, now=end) == D("0.95833333333333333333")
    diff = check("DATEDIFF(started_at, due)", PROJECTS)
    assert evaluate(diff, record, tz="Europe/Paris") == D(2)
    # TODAY is the team's date: 23:30 UTC on the 7th is already the 8th in Tokyo.
    late = datetime(2026, 12, 7, 23, 30, tzinfo=UTC)
    today = check("TODAY()", PROJECTS)
    assert evaluate(today, {}, now=late, tz="Asia/Tokyo") == date(2026, 12, 8)
    assert evaluate(today, {}, now=late, tz="America/New_York") == date(2026, 12, 7)


def test_now_comes_from_the_injectable_clock() -> None:
    with clock.frozen(datetime(2030, 1, 2, 3, 4, tzinfo=UTC)):
        assert evaluate(check("TODAY()", PROJECTS), {}) == date(2030, 1, 2)


def test_values_arrive_as_the_api_gives_them() -> None:
    record = {
        "hours": "2.5",
        "count": 2,
        "due": "2026-01-31",
        "started_at": "2026-01-01T00:00:00",
        "tags": ("a",),
        "budget": 1.1,
    }
    assert run("hours * count", record) == D("5.0")
    assert run("due + 1", record) == date(2026, 2, 1)
    assert run("TEXT(started_at)", record) == "2026-01-01T00:00:00Z"
    assert run("CONTAINS(tags, 'a')", record) is True
    assert run("budget * 3", record) == D("3.3")


def counted(fn: Any, calls: list[tuple[str, str]]) -> Any:
    """``fn`` noting each (object, id) it is asked for in ``calls``."""

    def counting(obj: str, key: str) -> dict | None:
        calls.append((obj, key))
        return fn(obj, key)

    return counting


def test_values_not_of_their_field_type_read_as_null() -> None:
    record = {
        "hours": "abc",
        "count": True,
        "due": "2026-02-30",
        "started_at": "soon",
        "done": "yes",
        "budget": float("nan"),
    }
    for expression in ("hours", "count", "due", "started_at", "done", "budget"):
        assert run(f"ISBLANK({expression})", record) is True, expression


def test_many_records_share_the_clock_and_related_records() -> None:
    from api.formulas import evaluate_many

    calls: list[tuple[str, str]] = []
    counting = counted(lookup, calls)
    c = check("TEXT(TODAY()) & ' ' & client.name & ' ' & TEXT(hours)", PROJECTS)
    rows = [{"client": "acc_1", "hours": n} for n in range(3)] + [{"client": None}]
    values = evaluate_many(c, rows, lookup=counting, now=NOW, tz="Pacific/Kiritimati")
    assert values == ["2026-12-08 Acme 0", "2026-12-08 Acme 1", "2026-12-08 Acme 2", "2026-12-08  "]
    assert calls == [("accounts", "acc_1")]


def test_lookups_fetch_each_related_record_once() -> None:
    calls: list[tuple[str, str]] = []
    counting = counted(lookup, calls)
    c = check("client.name & client.industry & client.owner.name & TEXT(cost)", PROJECTS)
    assert evaluate(c, RECORD, lookup=counting) == "AcmetechAda840.000"
    assert calls == [("accounts", "acc_1"), ("members", "mem_1")]
    assert evaluate(c, {**RECORD, "client": "acc_gone"}, lookup=counting) == ""


def test_formula_values_follow_the_fields_they_read() -> None:
    c = check("cost * 2", PROJECTS)
    parent = {"rate": D("10")}
    assert evaluate(c, RECORD, lookup=lambda o, k: parent) == D("210.00")
    parent["rate"] = D("20")  # the client's rate changes: the value follows at the next read
    assert evaluate(c, RECORD, lookup=lambda o, k: parent) == D("420.00")


def test_validation_rules_see_the_prior_record() -> None:
    rule = check_rule("AND(NOT(ISNEW()), ISCHANGED(stage), PRIORVALUE(stage) = 'won')", PROJECTS)
    won = {**RECORD, "stage": "won"}
    assert evaluate(rule, {**RECORD, "stage": "lost"}, prior=won) is True
    assert evaluate(rule, won, prior=won) is False
    assert evaluate(rule, won, prior=None) is False
    assert evaluate(check_rule("ISNEW()", PROJECTS), RECORD) is True
    assert evaluate(check_rule("ISBLANK(PRIORVALUE(stage))", PROJECTS), RECORD) is True
    tags = check_rule("ISCHANGED(tags)", PROJECTS)
    assert evaluate(tags, {"tags": ["a", "b"]}, prior={"tags": ["b", "a"]}) is False
    assert evaluate(tags, {"tags": ["a"]}, prior={"tags": ["b", "a"]}) is True
    hours = check_rule("ISCHANGED(hours)", PROJECTS)
    assert evaluate(hours, {"hours": D("1.0")}, prior={"hours": 1}) is False
    assert evaluate(hours, {"hours": None}, prior={"hours": 1}) is True


def test_a_deep_formula_evaluates() -> None:
    expression = "IF(done," * 49 + "1" + ",2)" * 49
    assert run(expression) == D(2)
    chained = check(" & ".join(["title"] * 90), PROJECTS)
    assert evaluate(chained, RECORD) == "Roof" * 90


def test_lookups_through_a_callable_schema() -> None:
    target = Schema.of("accounts", [Field("rate", "currency")])
    schema = Schema.of("t", [Field("a", "lookup", target="accounts")], lambda name: target)
    assert evaluate(
        check("a.rate * 2", schema), {"a": "x"}, lookup=lambda o, k: {"rate": D("1.5")}
    ) == D("3.0")
