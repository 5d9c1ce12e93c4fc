"""The grammar and the type checker: what a formula may say, and the errors (with their
positions) that make saving it a 422."""

from __future__ import annotations

import pytest

from api.formulas import MAX_DEPTH, Field, FormulaError, Position, Schema, check, check_rule
from tests.api.formulas.world import PROJECTS, RELATED


@pytest.mark.parametrize(
    ("expression", "type_"),
    [
        ("1 + 2", "number"),
        ("budget * 2", "currency"),
        ("budget + share", "currency"),
        ("share * share", "percent"),
        ("'a' & title", "text"),
        ("due + 3", "date"),
        ("3 + due", "date"),
        ("due - due", "number"),
        ("started_at - 0.5", "datetime"),
        ("NOW() - started_at", "number"),
        ("if(done, 1, 2)", "number"),
        ("If(done, budget, 2)", "number"),
        ("IF(done, NULL, 'x')", "text"),
        ("CASE(stage, 'open', 1, 'won', 2, 0)", "number"),
        ("client.owner.region", "text"),
        ("cost", "currency"),
        ("client.discounted / 2", "currency"),
        ("ISBLANK(tags)", "boolean"),
        ("CONTAINS(tags, 'red')", "boolean"),
        ("DATEDIFF(due, started_at)", "number"),
        ("MAX(due, TODAY())", "date"),
        ("MIN(1, budget)", "number"),
        ("-(2 ^ 2)", "number"),
        ("TRUE <> false", "boolean"),
        ("VALUE(phone) + LEN(email)", "number"),
    ],
)
def test_types(expression: str, type_: str) -> None:
    assert check(expression, PROJECTS).type == type_


def test_references_name_every_field_read_through_lookups_and_formulas() -> None:
    c = check("cost + client.discounted + LEN(client.owner.name)", PROJECTS)
    assert c.references == {
        "cost",
        "hours",
        "client.rate",
        "client.discounted",
        "client.owner.name",
    }


def error(expression: str, schema: Schema = PROJECTS, **kw) -> FormulaError:
    with pytest.raises(FormulaError) as info:
        check(expression, schema, **kw)
    return info.value


@pytest.mark.parametrize(
    ("expression", "message", "column"),
    [
        ("hours + nope", "Unknown field 'nope' on projects", 9),
        ("client.nope", "Unknown field 'nope' on accounts", 1),
        ("title.name", "'title' is not a lookup", 1),
        ("1 + FOO(2)", "Unknown function FOO()", 5),
        ("LEN('a', 'b')", "LEN() takes 1 argument, not 2", 1),
        ("IF(done)", "IF() takes 2 to 3 arguments, not 1", 1),
        ("CASE(stage, 'a', 1, 2, 3)", "CASE() takes an expression, pairs", 1),
        ("CASE(stage, 1, 2, 3)", "CASE() compares text with number", 13),
        ("hours & 'h'", "& takes text, not number", 1),
        ("title + 'h'", "use & to join text", 7),
        ("title > 2", "Cannot compare text with number", 7),
        ("due = started_at", "Cannot compare date with datetime", 5),
        ("done < TRUE", "Booleans cannot be compared with <", 6),
        ("hours = NULL", "use ISBLANK()", 7),
        ("IF(hours, 1, 2)", "IF()'s condition takes boolean, not number", 4),
        ("IF(done, 1, 'a')", "IF()'s results must have one type: text after number", 13),
        ("AND(done, 1)", "AND() takes boolean, not number", 11),
        ("tags = 'a'", "Cannot compare multi-select picklist with text", 6),
        ("UPPER(hours)", "UPPER() takes text, not number", 7),
        ("ROUND('a', 1)", "ROUND() takes currency or number or percent, not text", 7),
        ("MAX('a', 'b')", "MAX() takes numbers, dates or datetimes", 1),
        ("DATEDIFF(1, due)", "DATEDIFF() takes date or datetime, not number", 10),
        ("ISNEW()", "only for validation rules", 1),
        ("1 +", "ends too soon", 4),
        ("(1 + 2", "ends too soon", 7),
        ("1 2", "unexpected '2'", 3),
        ("1 < 2 < 3", "unexpected '<'", 7),
        ("'open", "A string is not closed", 1),
        ("hours # 2", "Unexpected character '#'", 7),
        ("   ", "The expression is empty", 1),
    ],
)
def test_errors_name_the_position(expression: str, message: str, column: int) -> None:
    e = error(expression)
    assert message in e.message
    assert e.position.column == column
    assert e.position.offset == column - 1
    assert f"column {column}" in str(e)


def test_position_counts_lines() -> None:
    e = error("IF(done,\n  1,\n  nope)")
    assert e.position == Position(3, 3, 16)


def test_return_type_must_fit() -> None:
    assert check("hours * 2", PROJECTS, "currency").type == "currency"
    assert check("budget", PROJECTS, "number").type == "number"
    assert check("NULL", PROJECTS, "date").type == "date"
    assert (
        "declared text, but computes number (use TEXT())"
        in error("hours", return_type="text").message
    )
    assert "declared date, but computes datetime" in error("NOW()", return_type="date").message
    assert "Unknown return type 'money'" in error("1", return_type="money").message
    assert "cannot compute a multi-select picklist" in error("tags").message


def test_cycles_between_formulas_are_errors() -> None:
    fields = [
        Field("a", "formula", expression="b + 1", return_type="number"),
        Field("b", "formula", expression="c * 2", return_type="number"),
        Field("c", "formula", expression="a - 1", return_type="number"),
        Field("d", "formula", expression="1", return_type="number"),
    ]
    schema = Schema.of("things", fields)
    e = error("a", schema)
    assert "cycle: a → b → c → a" in e.message and e.position.column == 1
    # Saving d with an expression reaching d again (through the others' expressions).
    schema = Schema.of(
        "things",
        [*fields[:2], Field("c", "formula", expression="d", return_type="number"), fields[3]],
    )
    assert "cycle: d → b → c → d" in error("2 * b", schema, field="d").message
    assert check("2 * b", schema, field="x").type == "number"
    # Saving a formula that reads itself.
    assert "cycle: d → d" in error("d + 1", schema, field="d").message
    # A formula read twice (no cycle) is fine.
    assert check("d + d", schema).type == "number"


def test_cycles_across_lookups() -> None:
    related: dict[str, Schema] = {}
    a = Schema.of(
        "a",
        [
            Field("b", "lookup", target="b"),
            Field("x", "formula", expression="b.y", return_type="number"),
        ],
        related,
    )
    b = Schema.of(
        "b",
        [
            Field("a", "lookup", target="a"),
            Field("y", "formula", expression="a.x + 1", return_type="number"),
        ],
        related,
    )
    related.update(a=a, b=b)
    assert "cycle: x → y → x" in error("x", a).message


def test_a_broken_formula_field_is_named_at_the_reference() -> None:
    schema = Schema.of(
        "t",
        [
            Field("n", "number" if False else "decimal"),
            Field("f", "formula", expression="n & 'x'", return_type="text"),
        ],
    )
    e = error("1 + LEN(f)", schema)
    assert e.message.startswith("Formula field 'f' cannot be computed: & takes text")
    assert e.position.column == 9


def test_rules_allow_prior_values_and_must_be_boolean() -> None:
    c = check_rule("AND(NOT(ISNEW()), ISCHANGED(stage), PRIORVALUE(stage) = 'won')", PROJECTS)
    assert c.type == "boolean" and c.rule
    assert "must be true or false" in error("hours", rule=True).message
    assert "field of the record itself" in error("ISCHANGED(client.name)", rule=True).message
    assert "field of the record itself" in error("PRIORVALUE(1)", rule=True).message
    assert "cannot read a formula field" in error("ISCHANGED(cost)", rule=True).message


def test_unknown_lookup_target() -> None:
    schema = Schema.of("t", [Field("x", "lookup", target="ghosts")], RELATED)
    assert "Unknown object 'ghosts'" in error("x.name", schema).message
    by_call = Schema.of("t", [Field("x", "lookup", target="accounts")], RELATED.get)
    assert check("x.industry", by_call).type == "text"


# -- hostile input --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("(" * 5000 + "1" + ")" * 5000, "characters long; the limit is 3900"),
        ("(" * 1900 + "1" + ")" * 1900, f"nests deeper than {MAX_DEPTH}"),
        ("-" * 3000 + "1", f"nests deeper than {MAX_DEPTH}"),
        ("IF(done," * 300 + "1" + ",2)" * 300, f"nests deeper than {MAX_DEPTH}"),
        ("1" + "+1" * 1500, f"nests deeper than {MAX_DEPTH}"),
        ("'" + "a" * 100_000 + "'", "characters long"),
        ("'" + "a" * 100_000, "characters long"),
        ("ünïcödé + 1", "Unexpected character 'ü'"),
        ("'🙂' & x", "Unknown field 'x'"),
        ("1 +\x00 2", "Unexpected character '\\x00'"),
        ("'a\x00b'", "Text cannot hold the NUL character"),
        ("title; DROP TABLE projects", "Unexpected character ';'"),
    ],
    ids=lambda v: v[:20] if isinstance(v, str) else None,
)
def test_hostile_input_is_a_formula_error(expression: str, message: str) -> None:
    assert message in error(expression).message


def test_formulas_growing_geometrically_are_refused() -> None:
    fields = [Field("f0", "decimal")] + [
        Field(f"f{i}", "formula", expression=f"f{i - 1} + f{i - 1}", return_type="number")
        for i in range(1, 40)
    ]
    e = error("f39", Schema.of("t", fields))
    assert "too large once the formulas it uses are included" in e.message


def test_formulas_nesting_through_formulas_are_bounded() -> None:
    fields = [Field("f0", "decimal")] + [
        Field(f"f{i}", "formula", expression=f"ABS(f{i - 1})", return_type="number")
        for i in range(1, 150)
    ]
    assert "nests deeper" in error("f149", Schema.of("t", fields)).message


def test_problem_document() -> None:
    p = error("hours + nope").problem("formula.expression")
    body = p.to_dict()
    assert p.status == 422
    assert body["errors"] == [
        {
            "field": "formula.expression",
            "message": "Unknown field 'nope' on projects. (line 1, column 9)",
            "line": 1,
            "column": 9,
            "offset": 8,
        }
    ]
    assert "line 1, column 9" in body["detail"]


def test_a_long_valid_formula_checks() -> None:
    expression = " & ".join(["title"] * 90)
    assert len(check(expression, PROJECTS).expression) < 3900
    text = "'" + "x" * 3890 + "'"
    assert check(text, PROJECTS, "text").type == "text"


def test_every_field_type_has_a_formula_type() -> None:
    from api.formulas.schema import FIELD_VALUE_TYPES
    from warehouse.models.custom import FIELD_TYPES

    assert set(FIELD_VALUE_TYPES) == set(FIELD_TYPES)
