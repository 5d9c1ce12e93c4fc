"""The evaluator: computes a :class:`~api.formulas.checker.Checked` expression for one record.

The tree is compiled once (cached on the Checked expression) into nested Python closures, one
call per node, so evaluating over many records costs no parsing or type dispatch. The semantics
(``docs/custom-objects.md``, "Formula reference") are the SQL compiler's too: nulls propagate
through arithmetic and comparisons, ``&`` reads null as ``''``, IF with a null condition takes
the else branch, AND/OR/NOT follow SQL's three-valued logic, division by zero and every
impossible result (a date out of range, a negative number to a fractional power) give null.
Numbers are ``Decimal``: + - * exact, / and ^ rounded half up to 20 decimal places."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import (
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DecimalException,
)
from typing import Any
from zoneinfo import ZoneInfo

from api.formulas.checker import Checked, Typed
from api.formulas.schema import FIELD_VALUE_TYPES, NUMERIC

Record = Mapping[str, Any]
Lookup = Callable[[str, Any], Record | None]
Fn = Callable[["Env"], Any]

#: Decimal places of a quotient or a power (and the places computed before rounding to them).
SCALE = 20
GUARD = 40
_Q = Decimal(1).scaleb(-SCALE)
_QG = Decimal(1).scaleb(-GUARD)
_ONE = Decimal(1)
CTX = Context(prec=1000, rounding=ROUND_HALF_EVEN, Emax=999_999, Emin=-999_999)
#: ``x ^ y`` is computed when |y| ≤ 100 and x is 0 or 1e-6 ≤ |x| ≤ 1e6 (else null).
POWER_EXPONENT = Decimal(100)
POWER_BASE = (Decimal("0.000001"), Decimal(1_000_000))
#: ``date ± n`` is computed when |n| < this many days, ``datetime ± n`` when |n| < the second
#: (else null): the SQL computes the latter's microseconds exactly in a double.
MAX_DAYS = Decimal(1_000_000)
MAX_DATETIME_DAYS = Decimal(100_000)
#: VALUE() reads at most this many characters: digits, one point, a sign, ASCII blanks.
VALUE_LENGTH = 100
NUMBER_TEXT = re.compile(r"[ \t\n\r\f\v]*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)[ \t\n\r\f\v]*")
_MICROS_PER_DAY = Decimal(86_400_000_000)
FIRST_DATE, LAST_DATE = date(1, 1, 1), date(9999, 12, 31)
_MIN_DT = datetime(1, 1, 1, tzinfo=UTC)
_MAX_DT = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


class Env:
    """One evaluation: the record, its prior version, how to fetch related records."""

    __slots__ = ("cache", "lookup", "now", "prior", "record", "tz")

    def __init__(
        self,
        record: Record,
        lookup: Lookup | None,
        prior: Record | None,
        now: datetime,
        tz: ZoneInfo,
    ) -> None:
        self.record = record
        self.lookup = lookup
        self.prior = prior
        self.now = now
        self.tz = tz
        self.cache: dict[tuple[str, Any], Record | None] = {}

    def related(self, path: tuple[str, ...], objects: tuple[str, ...]) -> Record | None:
        row: Record | None = self.record
        for name, obj in zip(path, objects, strict=True):
            key = row.get(name) if row is not None else None
            if key is None:
                return None
            if (obj, key) not in self.cache:
                if self.lookup is None:
                    raise LookupError(f"no lookup given to read {'.'.join(path)}")
                self.cache[(obj, key)] = self.lookup(obj, key)
            row = self.cache[(obj, key)]
        return row


# -- values --------------------------------------------------------------------------------
def unsigned_zero(d: Decimal) -> Decimal:
    """PostgreSQL's numeric has no negative zero (-0.00 is 0.00)."""
    return d.copy_abs() if d.is_zero() and d.is_signed() else d


def to_decimal(v: Any) -> Decimal | None:
    if v is None:
        return v
    if type(v) is Decimal and v.is_finite():
        return v.copy_abs() if v.is_signed() and v.is_zero() else v
    if isinstance(v, bool):
        raise TypeError("a boolean is not a number")
    d = Decimal(v) if isinstance(v, int) else Decimal(repr(v) if isinstance(v, float) else str(v))
    if not d.is_finite():
        raise ValueError("not a finite number")
    return unsigned_zero(d)


def to_date(v: Any) -> date | None:
    if v is None or (isinstance(v, date) and not isinstance(v, datetime)):
        return v
    if isinstance(v, datetime):
        return v.date()
    return date.fromisoformat(str(v))


def to_datetime(v: Any) -> datetime | None:
    if v is None:
        return None
    if not isinstance(v, datetime):
        v = datetime.fromisoformat(str(v))
    return v if v.tzinfo is not None else v.replace(tzinfo=UTC)


def to_multi(v: Any) -> tuple[str, ...] | None:
    if v is None:
        return None
    if isinstance(v, str):
        return (v,)
    return tuple(str(x) for x in v)


def _identity(v: Any) -> Any:
    return v


def _text(v: Any) -> Any:
    return v if v is None or isinstance(v, str) else str(v)


READERS: dict[str, Callable[[Any], Any]] = {
    "number": to_decimal,
    "currency": to_decimal,
    "percent": to_decimal,
    "date": to_date,
    "datetime": to_datetime,
    "multi": to_multi,
    "boolean": _identity,
    "text": _text,
}


def reader(field_type: str) -> Callable[[Any], Any]:
    """How a field of ``field_type`` is read from a record: a value that is not one of its
    type (a stored "abc" in a decimal field, an invalid date) reads as null, never an error."""
    convert = READERS[FIELD_VALUE_TYPES[field_type]]
    if convert is _identity:
        return _boolean

    def read(v: Any) -> Any:
        try:
            return convert(v)
        except (ArithmeticError, ValueError, TypeError):
            return None

    return read


def _boolean(v: Any) -> bool | None:
    return v if v is None or isinstance(v, bool) else None


def rounded(q: Decimal) -> Decimal:
    """A quotient or power as the language gives it: rounded half up to 20 places (via 40, as
    the SQL computes it), without trailing zeros (PostgreSQL's trim_scale)."""
    q = q.quantize(_QG, ROUND_HALF_UP, CTX).quantize(_Q, ROUND_HALF_UP, CTX)
    return whole(q.normalize(CTX))


def whole(q: Decimal) -> Decimal:
    """``q`` with no positive exponent (1.2E+3 → 1200), so its scale is PostgreSQL's."""
    return q.quantize(_ONE, context=CTX) if q.as_tuple().exponent > 0 else q  # type: ignore[operator]


def multiply(a: Decimal, b: Decimal) -> Decimal:
    return unsigned_zero(CTX.multiply(a, b))


def divide(a: Decimal, b: Decimal) -> Decimal | None:
    if not b:
        return None
    try:
        return unsigned_zero(rounded(CTX.divide(a, b)))
    except DecimalException:
        return None


def power(a: Decimal, b: Decimal) -> Decimal | None:
    whole = b == b.to_integral_value()
    if abs(b) > POWER_EXPONENT or (a and not POWER_BASE[0] <= abs(a) <= POWER_BASE[1]):
        return None
    if (a < 0 and not whole) or (not a and b < 0):
        return None
    try:
        if not a:
            return rounded(Decimal(1) if not b else Decimal(0))
        return unsigned_zero(rounded(CTX.power(a, int(b)) if whole else CTX.power(a, b)))
    except DecimalException:
        return None


def add_days(d: date | datetime, n: Decimal) -> date | datetime | None:
    try:
        if isinstance(d, datetime):
            if abs(n) >= MAX_DATETIME_DAYS:
                return None
            micros = CTX.multiply(n, _MICROS_PER_DAY).quantize(Decimal(1), ROUND_HALF_UP, CTX)
            r = d + timedelta(microseconds=int(micros))
            return r if _MIN_DT <= r <= _MAX_DT else None
        return d + timedelta(days=int(n)) if abs(n) < MAX_DAYS else None
    except OverflowError:
        return None


def days_between(a: date | datetime, b: date | datetime) -> Decimal | None:
    """``a - b`` in days: whole days for dates, fractional (24 h each) for datetimes."""
    if isinstance(a, datetime):
        micros = (a - b) // timedelta(microseconds=1)
        return divide(Decimal(micros), _MICROS_PER_DAY)
    return Decimal((a - b).days)


def local_date(v: date | datetime, tz: ZoneInfo) -> date:
    return v.astimezone(tz).date() if isinstance(v, datetime) else v


def text_of(v: Any) -> str | None:
    """TEXT(): numbers in plain notation, ``true``/``false``, ISO dates, datetimes in UTC as
    ``YYYY-MM-DDTHH:MM:SSZ``."""
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Decimal):
        d = unsigned_zero(v)
        text = str(d)
        return format(d, "f") if "E" in text else text
    if isinstance(v, datetime):
        u = v.astimezone(UTC)
        return f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}Z"
    if isinstance(v, date):
        return f"{v.year:04d}-{v.month:02d}-{v.day:02d}"
    return str(v)


def value_of(s: str) -> Decimal | None:
    if len(s) > VALUE_LENGTH or not NUMBER_TEXT.fullmatch(s):
        return None
    return Decimal(s.strip(" \t\n\r\f\v"))


def upper(s: str) -> str:
    """Simple (one character to one) Unicode case mapping, as PostgreSQL's upper() does.
    Python's maps ß to SS: only when a character grew is the text mapped one by one."""
    u = s.upper()
    if len(u) == len(s):
        return u
    return "".join(u if len(u := c.upper()) == 1 else c for c in s)


def lower(s: str) -> str:
    """Simple case mapping too: Python's lower() knows a final sigma (ς) and maps İ to two
    characters; PostgreSQL lowers each character alone."""
    if "Σ" not in s and "İ" not in s:
        return s.lower()
    return "".join(lo if len(lo := c.lower()) == 1 else lo[0] for c in s)


def round_to(x: Decimal, digits: Decimal | None) -> Decimal | None:
    places = 0 if digits is None else int(digits)
    if abs(places) > SCALE:
        return None
    try:
        return unsigned_zero(whole(x.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP, CTX)))
    except DecimalException:
        return None


def is_blank(v: Any) -> bool:
    return v is None or ((isinstance(v, (str, tuple, list))) and len(v) == 0)


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


# -- compilation ---------------------------------------------------------------------------
def compile_tree(node: Typed) -> Fn:
    """The closure computing ``node``; depth is bounded by the checker (MAX_DEPTH)."""
    kind = node.kind
    if kind == "lit":
        value = node.value
        return lambda env: value
    if kind == "field":
        return _field(node)
    args = [compile_tree(a) for a in node.args]
    if kind == "unary":
        (x,) = args
        if node.value == "-":
            return lambda env: None if (v := x(env)) is None else CTX.minus(v)
        return x
    if kind == "binary":
        return _binary(node, args)
    return CALLS[node.value](node, args)


def _field(node: Typed) -> Fn:
    ref = node.ref
    assert ref is not None
    read = reader(ref.field_type)
    name = ref.field
    if not ref.path:
        return lambda env: read(env.record.get(name))

    def related(env: Env) -> Any:
        row = env.related(ref.path, ref.objects)
        return None if row is None else read(row.get(name))

    return related


def _binary(node: Typed, args: list[Fn]) -> Fn:
    a, b = args
    op = node.value
    if op == "&":
        return lambda env: (a(env) or "") + (b(env) or "")
    left, right = node.args
    if op in _COMPARE:
        cmp = _COMPARE[op]

        def compare(env: Env) -> Any:
            x, y = a(env), b(env)
            return None if x is None or y is None else cmp(x, y)

        return compare
    numeric = left.type in NUMERIC or left.type == "null"
    if not numeric:  # date / datetime arithmetic
        if op == "-" and right.type not in NUMERIC and right.type != "null":
            fn: Callable[[Any, Any], Any] = days_between
        elif op == "-":
            fn = lambda d, n: add_days(d, CTX.minus(n))  # noqa: E731
        else:
            fn = add_days
    else:
        fn = {"+": CTX.add, "-": CTX.subtract, "*": multiply, "/": divide, "^": power}[op]

    def arithmetic(env: Env) -> Any:
        x, y = a(env), b(env)
        if x is None or y is None:
            return None
        try:
            return fn(x, y)
        except DecimalException:
            return None

    return arithmetic


def _null_safe(fn: Callable[..., Any]) -> Callable[[Typed, list[Fn]], Fn]:
    """A function of its arguments' values: null when any of them is null."""

    def build(node: Typed, args: list[Fn]) -> Fn:
        if len(args) == 1:
            (x,) = args
            return lambda env: None if (v := x(env)) is None else fn(v)

        def call(env: Env) -> Any:
            values = [a(env) for a in args]
            return None if any(v is None for v in values) else fn(*values)

        return call

    return build


def _if(node: Typed, args: list[Fn]) -> Fn:
    cond, then = args[0], args[1]
    other = args[2] if len(args) > 2 else (lambda env: None)
    return lambda env: then(env) if cond(env) is True else other(env)


def _case(node: Typed, args: list[Fn]) -> Fn:
    subject, default = args[0], args[-1]
    pairs = list(zip(args[1:-1:2], args[2:-1:2], strict=True))

    def case(env: Env) -> Any:
        s = subject(env)
        if s is not None:
            for value, result in pairs:
                if value(env) == s:
                    return result(env)
        return default(env)

    return case


def _logic(decisive: bool) -> Callable[[Typed, list[Fn]], Fn]:
    """AND (``decisive`` False) or OR (True), three-valued: the decisive value wins, else a
    null makes the result null."""

    def build(node: Typed, args: list[Fn]) -> Fn:
        def logic(env: Env) -> bool | None:
            unknown = False
            for a in args:
                v = a(env)
                if v is decisive:
                    return decisive
                unknown = unknown or v is None
            return None if unknown else not decisive

        return logic

    return build


def _not(node: Typed, args: list[Fn]) -> Fn:
    (x,) = args
    return lambda env: None if (v := x(env)) is None else not v


def _isblank(node: Typed, args: list[Fn]) -> Fn:
    (x,) = args
    return lambda env: is_blank(x(env))


def _blankvalue(node: Typed, args: list[Fn]) -> Fn:
    x, default = args
    return lambda env: default(env) if is_blank(v := x(env)) else v


def _datediff(node: Typed, args: list[Fn]) -> Fn:
    start, end = args

    def datediff(env: Env) -> Decimal | None:
        a, b = start(env), end(env)
        if a is None or b is None:
            return None
        return Decimal((local_date(b, env.tz) - local_date(a, env.tz)).days)

    return datediff


def _round(node: Typed, args: list[Fn]) -> Fn:
    if len(args) == 1:
        (x,) = args
        return lambda env: None if (v := x(env)) is None else round_to(v, None)
    return _null_safe(round_to)(node, args)


def _minmax(pick: Callable[..., Any]) -> Callable[[Typed, list[Fn]], Fn]:
    def build(node: Typed, args: list[Fn]) -> Fn:
        def minmax(env: Env) -> Any:
            values = [v for a in args if (v := a(env)) is not None]
            return pick(values) if values else None

        return minmax

    return build


def _contains(node: Typed, args: list[Fn]) -> Fn:
    if node.args[0].type != "multi":
        return _null_safe(lambda hay, needle: needle in hay)(node, args)
    hay, needle = args

    def member(env: Env) -> bool | None:
        # SQL's needle = ANY(values): false for no values even when the needle is null.
        values = hay(env)
        if values is None or not values:
            return None if values is None else False
        n = needle(env)
        return None if n is None else n in values

    return member


def _isnew(node: Typed, args: list[Fn]) -> Fn:
    return lambda env: env.prior is None


def _prior(node: Typed) -> Callable[[Env], Any]:
    ref = node.args[0].ref
    assert ref is not None
    read, name = reader(ref.field_type), ref.field
    return lambda env: None if env.prior is None else read(env.prior.get(name))


def _ischanged(node: Typed, args: list[Fn]) -> Fn:
    (current,) = args
    prior = _prior(node)
    multi = node.args[0].type == "multi"

    def changed(env: Env) -> bool:
        if env.prior is None:
            return False
        a, b = current(env), prior(env)
        if multi:
            a, b = (sorted(a) if a else a), (sorted(b) if b else b)
        return a != b

    return changed


def _priorvalue(node: Typed, args: list[Fn]) -> Fn:
    return _prior(node)


CALLS: dict[str, Callable[[Typed, list[Fn]], Fn]] = {
    "IF": _if,
    "CASE": _case,
    "AND": _logic(False),
    "OR": _logic(True),
    "NOT": _not,
    "ISBLANK": _isblank,
    "BLANKVALUE": _blankvalue,
    "TODAY": lambda node, args: lambda env: env.now.astimezone(env.tz).date(),
    "NOW": lambda node, args: lambda env: env.now,
    "DATEDIFF": _datediff,
    "TEXT": _null_safe(text_of),
    "VALUE": _null_safe(value_of),
    "ROUND": _round,
    "ABS": _null_safe(CTX.abs),
    "MIN": _minmax(min),
    "MAX": _minmax(max),
    "LEN": _null_safe(lambda s: Decimal(len(s))),
    "UPPER": _null_safe(upper),
    "LOWER": _null_safe(lower),
    "CONTAINS": _contains,
    "ISNEW": _isnew,
    "ISCHANGED": _ischanged,
    "PRIORVALUE": _priorvalue,
}


def compiled(checked: Checked) -> Fn:
    if not checked._compiled:
        checked._compiled.append(compile_tree(checked.tree))
    return checked._compiled[0]


def evaluate(
    checked: Checked,
    record: Record,
    *,
    lookup: Lookup | None = None,
    prior: Record | None = None,
    now: datetime | None = None,
    tz: str | ZoneInfo = "UTC",
) -> Any:
    """The value of ``checked`` for ``record`` (api_name → value: Decimal or int, str, date,
    aware datetime, bool, a list for a multi-picklist, None).

    ``lookup(object, id)`` answers the related record a lookup field points at (None when it
    is gone); ``prior`` is the record before the change (None: a new record) for validation
    rules; ``now`` defaults to :func:`leadly.clock.now`; ``tz`` is the team's time zone (TODAY
    and DATEDIFF count its calendar days). Answers a Decimal, str, date, datetime, bool or
    None."""
    env = _env(record, lookup, prior, now, tz)
    return compiled(checked)(env)


def evaluate_many(
    checked: Checked,
    records: Iterable[Record],
    *,
    lookup: Lookup | None = None,
    now: datetime | None = None,
    tz: str | ZoneInfo = "UTC",
) -> list[Any]:
    """The value of ``checked`` for each of ``records`` (a list page, an export): one clock
    reading for all, and each related record fetched once for the whole batch."""
    fn = compiled(checked)
    env = _env({}, lookup, None, now, tz)
    out = []
    for record in records:
        env.record = record
        out.append(fn(env))
    return out


def _env(
    record: Record,
    lookup: Lookup | None,
    prior: Record | None,
    now: datetime | None,
    tz: str | ZoneInfo,
) -> Env:
    if now is None:
        from leadly.clock import now as clock_now

        now = clock_now()
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    return Env(record, lookup, prior, to_datetime(now), zone)  # type: ignore[arg-type]
