"""The formula language of custom fields and validation rules (issue 14): one safe expression
language, parsed with a grammar (lark; never ``eval``), type-checked when saved, evaluated in
Python and compiled to PostgreSQL so the API and the warehouse compute the same value.
Framework-free: no Litestar, no database access. The reference for users is the "Formula
reference" section of docs/custom-objects.md.

The interface (names stable):

``Field(api_name, type, target=None, expression=None, return_type=None)``
    One field as formulas see it. ``type`` is one of the issue's field types (text, long_text,
    integer, decimal, currency, percent, date, datetime, boolean, picklist, multi_picklist,
    lookup, formula, auto_number, url, email, phone); a lookup names its ``target`` object; a
    formula carries its ``expression`` and ``return_type``.

``Schema(object, fields, related)`` / ``Schema.of(object, [Field, ...], related)``
    An object's fields by api name; ``related`` (a mapping, or a callable) answers the Schema
    of the object a lookup points at by that object's api name, so ``client.account.industry``
    resolves over several hops.

``check(expression, schema, return_type=None, *, field=None, rule=False) -> Checked``
    Type-checks; raises :class:`FormulaError` on a syntax error, an unknown field or function,
    a wrong argument count or type, a result that does not fit ``return_type``, a cycle between
    formulas (``field``: the api name of the formula being saved, so a formula that reaches it
    again is a cycle), more than 3,900 characters or nesting deeper than 100 levels. Other
    formula fields that the expression reads are computed inline (always current).
    ``rule=True`` (or ``check_rule(condition, schema)``) checks a validation rule: boolean, and
    ISNEW(), ISCHANGED(field), PRIORVALUE(field) allowed. ``Checked.type`` is the result type,
    ``Checked.references`` the dotted paths of every field read (``{"hours", "client.rate"}``).

``evaluate(checked, record, *, lookup=None, prior=None, now=None, tz="UTC")``
    The value for one record (api_name → Decimal/int, str, date, aware datetime, bool, list for
    a multi-picklist, None). ``lookup(object_api_name, id) -> record | None`` fetches related
    records (called once per id per evaluation); ``prior`` is the stored record before the
    change (None when new: ISNEW() is true); ``now`` defaults to ``leadly.clock.now()``; ``tz``
    is the team's IANA zone (TODAY, DATEDIFF). Answers Decimal, str, date, datetime, bool or None.

``evaluate_many(checked, records, *, lookup=None, now=None, tz="UTC") -> list``
    The values for many records (a list page, an export): one clock reading, and each related
    record fetched once for the batch.

``to_sql(checked, *, column, lookup_sql=None, now=None, tz="UTC") -> ColumnElement``
    A SQLAlchemy Core expression computing the same value in PostgreSQL. ``column(api_name)``
    answers how the record's own field is read (a SQL string such as
    ``"(data->>'hours')::numeric"`` or a ColumnElement), typed: numeric, text, date,
    timestamptz, boolean, text[] for a multi-picklist. ``lookup_sql(path)`` (``path`` the tuple
    of names, e.g. ``("client", "rate")``) answers a field across lookups (a join's column or a
    scalar subquery). ``now`` (datetime or None for the transaction's ``now()``) and ``tz`` (a
    zone name or a SQL expression, e.g. the team's zone column) as for :func:`evaluate`.
    The answer is one SQL fragment of the formula's type, rendered with its values inline
    (the deepest formulas need more Python frames to render than a caller's stack may have
    left, so it is rendered once, here); SQLAlchemy columns given by ``column`` are rendered by
    name, so select from their table. ``sql_text(element)`` is its text, for dbt models.

``FormulaError(message, position)``
    ``position`` is ``Position(line, column, offset)`` (line and column from 1, offset from 0);
    ``str()`` says both; ``.problem(field)`` is the 422 problem document naming ``field``.
"""

from api.formulas.checker import Checked, Typed, check, check_rule
from api.formulas.errors import FormulaError, Position
from api.formulas.evaluator import evaluate, evaluate_many
from api.formulas.grammar import MAX_DEPTH, MAX_LENGTH
from api.formulas.schema import RETURN_TYPES, Field, Schema
from api.formulas.sql import sql_text, to_sql

__all__ = [
    "MAX_DEPTH",
    "MAX_LENGTH",
    "RETURN_TYPES",
    "Checked",
    "Field",
    "FormulaError",
    "Position",
    "Schema",
    "Typed",
    "check",
    "check_rule",
    "evaluate",
    "evaluate_many",
    "sql_text",
    "to_sql",
]
