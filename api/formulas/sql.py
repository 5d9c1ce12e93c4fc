"""The SQL compiler: a :class:`~api.formulas.checker.Checked` expression as a PostgreSQL
expression (SQLAlchemy Core) computing the value :func:`~api.formulas.evaluate` computes, so
list filters, sorts, exports and the warehouse agree with the API.

Every rule of the evaluator is spelled out in SQL: ``&`` coalesces nulls to ``''``, division
is ``NULLIF``-guarded and rounded like the evaluator's (20 places via 40, trailing zeros
trimmed), text order is by code point (``COLLATE "C"``), a guarded computation (a power, a
date out of range, VALUE of text that is not a number) is a CASE whose condition reads the same
inputs as its result, so PostgreSQL's constant folding never evaluates a branch it must not."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ARRAY,
    Boolean,
    Date,
    DateTime,
    Double,
    Integer,
    Interval,
    Numeric,
    Text,
    and_,
    any_,
    case,
    cast,
    false,
    func,
    literal,
    literal_column,
    not_,
    null,
    or_,
    true,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine

from api.formulas.checker import Checked, Typed
from api.formulas.evaluator import (
    FIRST_DATE,
    GUARD,
    LAST_DATE,
    MAX_DATETIME_DAYS,
    MAX_DAYS,
    NUMBER_TEXT,
    POWER_BASE,
    POWER_EXPONENT,
    SCALE,
    VALUE_LENGTH,
)
from api.formulas.schema import NULL, NUMERIC

SQL = str | ColumnElement[Any]
Column = Callable[[str], SQL]
LookupSQL = Callable[[tuple[str, ...]], SQL]

SQL_TYPES: dict[str, TypeEngine[Any]] = {
    "number": Numeric(),
    "currency": Numeric(),
    "percent": Numeric(),
    "text": Text(),
    "date": Date(),
    "datetime": DateTime(timezone=True),
    "boolean": Boolean(),
    "multi": ARRAY(Text()),
}
_DAY_MICROS = Decimal(86_400_000_000)
_TIMESTAMP = DateTime(timezone=True)


def _num(v: Any) -> ColumnElement[Any]:
    return cast(literal(Decimal(v), Numeric()), Numeric())


def _text(v: str) -> ColumnElement[Any]:
    """A text literal, escaped whatever standard_conforming_strings says (E'...')."""
    escaped = v.replace("\\", "\\\\").replace("'", "\\'")
    return cast(literal_column(f"E'{escaped}'", Text()), Text())


def _op(a: ColumnElement[Any], op: str, b: Any, type_: TypeEngine[Any]) -> ColumnElement[Any]:
    return a.op(op, return_type=type_)(b)  # type: ignore[no-any-return]


class _Compiler:
    def __init__(
        self, column: Column, lookup_sql: LookupSQL | None, now: datetime | SQL | None, tz: SQL
    ) -> None:
        self.column = column
        self.lookup_sql = lookup_sql
        if now is None:
            self.now = func.now()
        elif isinstance(now, datetime):
            self.now = cast(literal(now, _TIMESTAMP), _TIMESTAMP)
        else:
            self.now = self.sql(now, "datetime")
        self.tz = tz if isinstance(tz, ColumnElement) else _text(tz)

    def sql(self, given: SQL, type_: str) -> ColumnElement[Any]:
        if isinstance(given, str):
            return literal_column(f"({given})", SQL_TYPES.get(type_, Text()))
        return given

    def local_date(self, x: ColumnElement[Any], type_: str) -> ColumnElement[Any]:
        if type_ == "datetime":
            return cast(func.timezone(self.tz, x), Date())
        return x

    # -- nodes ------------------------------------------------------------------------------
    def node(self, n: Typed) -> ColumnElement[Any]:
        if n.kind == "lit":
            v = n.value
            if v is None:
                return null() if n.type == NULL else cast(null(), SQL_TYPES[n.type])
            if isinstance(v, bool):
                return true() if v else false()
            return _text(v) if isinstance(v, str) else _num(v)
        if n.kind == "field":
            ref = n.ref
            assert ref is not None
            if not ref.path:
                return self.sql(self.column(ref.field), n.type)
            if self.lookup_sql is None:
                raise ValueError(f"no lookup_sql given to read {ref.dotted}")
            return self.sql(self.lookup_sql((*ref.path, ref.field)), n.type)
        if n.kind == "unary":
            x = self.node(n.args[0])
            return -x if n.value == "-" else x
        if n.kind == "binary":
            return self.binary(n)
        return CALLS[n.value](self, n)

    def binary(self, n: Typed) -> ColumnElement[Any]:
        left, right = n.args
        a, b = self.node(left), self.node(right)
        op = n.value
        if op == "&":  # a chain of & is never null: only its ends need coalescing
            joined = a if left.kind == "binary" and left.value == "&" else func.coalesce(a, "")
            return _op(joined, "||", func.coalesce(b, ""), Text())
        if op in ("=", "!=", "<", "<=", ">", ">="):
            if left.type == "text" and op not in ("=", "!="):
                a = a.collate("C")
            return _op(a, "<>" if op == "!=" else op, b, Boolean())
        if left.type in NUMERIC or left.type == NULL:
            if op == "/":
                return divide(a, b)
            if op == "^":
                return power(a, b)
            return _op(a, op, b, Numeric())
        if right.type in ("date", "datetime"):  # date - date, datetime - datetime
            if left.type == "date":
                return cast(_op(a, "-", b, Integer()), Numeric())
            return divide(func.extract("epoch", _op(a, "-", b, Interval())), _num(86_400))
        days = -b if op == "-" else b
        return self.add_days(a, days, left.type)

    def add_days(
        self, d: ColumnElement[Any], n: ColumnElement[Any], type_: str
    ) -> ColumnElement[Any]:
        """d ± n days; each operand is read once (nested date arithmetic stays linear)."""
        if type_ == "date":
            days = cast(within(func.trunc(n), -MAX_DAYS, MAX_DAYS), Integer())
            moved = _op(d, "+", days, Date())
            low = _op(cast(_text(FIRST_DATE.isoformat()), Date()), "-", 1, Date())
            high = _op(cast(_text(LAST_DATE.isoformat()), Date()), "+", 1, Date())
            return within(moved, low, high)
        days = within(n, -MAX_DATETIME_DAYS, MAX_DATETIME_DAYS)
        micros = cast(func.round(days * _num(_DAY_MICROS)), Double())
        step = literal_column("INTERVAL '1 microsecond'")
        moved = _op(d, "+", step * micros, _TIMESTAMP)
        low = _op(cast(_text(f"{FIRST_DATE} 00:00:00+00"), _TIMESTAMP), "-", step, _TIMESTAMP)
        high = _op(
            cast(_text(f"{LAST_DATE} 23:59:59.999999+00"), _TIMESTAMP), "+", step, _TIMESTAMP
        )
        return within(moved, low, high)


def within(x: ColumnElement[Any], low: Any, high: Any) -> ColumnElement[Any]:
    """x when low < x < high, else null, reading x once: clamped to [low, high], then the
    bounds themselves become null."""
    low = _num(low) if isinstance(low, Decimal | int) else low
    high = _num(high) if isinstance(high, Decimal | int) else high
    return func.nullif(func.nullif(func.greatest(low, func.least(high, x)), low), high)


def divide(a: ColumnElement[Any], b: ColumnElement[Any]) -> ColumnElement[Any]:
    """a / b as the language divides: null for b = 0, rounded like the evaluator's."""
    return rounded(_op(func.round(a, GUARD), "/", func.nullif(b, 0), Numeric()))


def rounded(x: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.trim_scale(func.round(x, SCALE))


def power(a: ColumnElement[Any], b: ColumnElement[Any]) -> ColumnElement[Any]:
    zero = a == _num(0)
    defined = and_(
        func.abs(b) <= _num(POWER_EXPONENT),
        or_(zero, func.abs(a).between(_num(POWER_BASE[0]), _num(POWER_BASE[1]))),
        not_(and_(a < _num(0), b != func.trunc(b))),
        not_(and_(zero, b < _num(0))),
    )
    return case((defined, rounded(func.power(func.round(a, GUARD), b))))


# -- functions --------------------------------------------------------------------------------
def _args(c: _Compiler, n: Typed) -> list[ColumnElement[Any]]:
    return [c.node(a) for a in n.args]


def _if(c: _Compiler, n: Typed) -> ColumnElement[Any]:
    cond, then, *other = _args(c, n)
    return case((cond, then), else_=other[0] if other else null())


def _case(c: _Compiler, n: Typed) -> ColumnElement[Any]:
    subject, *rest = _args(c, n)
    pairs = list(zip(rest[:-1:2], rest[1:-1:2], strict=True))
    return case(*pairs, value=subject, else_=rest[-1])


def _isblank_sql(x: ColumnElement[Any], type_: str) -> ColumnElement[Any]:
    if type_ == "text":
        return func.coalesce(x, "") == ""
    if type_ == "multi":
        return func.coalesce(func.cardinality(x), 0) == 0
    return x.is_(None)


def _isblank(c: _Compiler, n: Typed) -> ColumnElement[Any]:
    return _isblank_sql(c.node(n.args[0]), n.args[0].type)


def _blankvalue(c: _Compiler, n: Typed) -> ColumnElement[Any]:
    x, fallback = _args(c, n)
    return func.coalesce(func.nullif(x, "") if n.args[0].type == "text" else x, fallback)


def _datediff(c: _Compiler, n: Typed) -> ColumnElement[Any]:
    start, end = (c.local_date(c.node(a), a.type) for a in n.args)
    return cast(_op(end, "-", start, Integer()), Numeric())


def _text_of(c: _Compiler, n: Typed) -> ColumnElement[Any]:
    x, type_ = c.node(n.args[0]), n.args[0].type
    if type_ == "date":
        return func.to_char(x, "YYYY-MM-DD")
    if type_ == "datetime":
        return func.to_char(func.timezone("UTC", x), 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
    return cast(x, Text())


def _value(c: _Compiler, n: Typed) -> ColumnElement[Any]:
    (x,) = _args(c, n)
    # The whole text, captured when it is a number of at most VALUE_LENGTH characters.
    pattern = f"^(?=.{{0,{VALUE_LENGTH}}}$)({NUMBER_TEXT.pattern})$"
    return cast(func.regexp_match(x, pattern, type_=ARRAY(Text()))[1], Numeric())


def _round(c: _Compiler, n: Typed) -> ColumnElement[Any]:
    x, *digits = _args(c, n)
    places = within(func.trunc(digits[0]), -SCALE - 1, SCALE + 1) if digits else _num(0)
    return func.round(x, cast(places, Integer()))


def _fn(name: str, type_: TypeEngine[Any] | None = None) -> Callable[..., ColumnElement[Any]]:
    def build(c: _Compiler, n: Typed) -> ColumnElement[Any]:
        result = getattr(func, name)(*_args(c, n))
        return cast(result, type_) if type_ is not None else result

    return build


def _contains(c: _Compiler, n: Typed) -> ColumnElement[Any]:
    hay, needle = _args(c, n)
    if n.args[0].type == "multi":
        return needle == any_(hay)
    return func.strpos(hay, needle) > 0


def _prior(c: _Compiler, n: Typed) -> ColumnElement[Any]:
    # In SQL a stored record is its own prior version: PRIORVALUE(f) is f.
    return c.node(n.args[0])


CALLS: dict[str, Callable[[_Compiler, Typed], ColumnElement[Any]]] = {
    "IF": _if,
    "CASE": _case,
    "AND": lambda c, n: and_(*_args(c, n)),
    "OR": lambda c, n: or_(*_args(c, n)),
    "NOT": lambda c, n: not_(c.node(n.args[0])),
    "ISBLANK": _isblank,
    "BLANKVALUE": _blankvalue,
    "TODAY": lambda c, n: cast(func.timezone(c.tz, c.now), Date()),
    "NOW": lambda c, n: c.now,
    "DATEDIFF": _datediff,
    "TEXT": _text_of,
    "VALUE": _value,
    "ROUND": _round,
    "ABS": _fn("abs"),
    "MIN": _fn("least"),
    "MAX": _fn("greatest"),
    "LEN": _fn("length", Numeric()),
    "UPPER": _fn("upper"),
    "LOWER": _fn("lower"),
    "CONTAINS": _contains,
    "ISNEW": lambda c, n: false(),
    "ISCHANGED": lambda c, n: false(),
    "PRIORVALUE": _prior,
}


def to_sql(
    checked: Checked,
    *,
    column: Column,
    lookup_sql: LookupSQL | None = None,
    now: datetime | SQL | None = None,
    tz: SQL = "UTC",
) -> ColumnElement[Any]:
    """``checked`` as a SQLAlchemy Core expression (see the package's docstring).

    The expression is rendered here, values inline, and answered as one SQL fragment of the
    formula's type: SQLAlchemy compiles an expression tree recursively (about 70 Python
    frames for each level of a formula nested 100 deep), so it is compiled once under a raised
    recursion limit rather than in whatever statement and stack the caller builds around it.
    Columns given as SQLAlchemy elements are rendered by their names: select from them."""
    with _deep_recursion():
        tree = _Compiler(column, lookup_sql, now, tz).node(checked.tree)
        if checked.tree.type == NULL and checked.type in SQL_TYPES:
            tree = cast(tree, SQL_TYPES[checked.type])
        text = _render(tree)
    return literal_column(f"({text})", SQL_TYPES.get(checked.type, Text()))


_RECURSION = threading.Lock()
#: Python frames SQLAlchemy may need to render the deepest formula (measured: under 7,000).
RECURSION_LIMIT = 20_000


@contextlib.contextmanager
def _deep_recursion() -> Iterator[None]:
    with _RECURSION:
        before = sys.getrecursionlimit()
        sys.setrecursionlimit(max(before, RECURSION_LIMIT))
        try:
            yield
        finally:
            sys.setrecursionlimit(before)


def _render(element: ColumnElement[Any]) -> str:
    dialect = postgresql.dialect(paramstyle="named")
    return str(element.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def sql_text(element: ColumnElement[Any]) -> str:
    """``element`` (what :func:`to_sql` answers) as PostgreSQL text, for dbt models."""
    return _render(element)
