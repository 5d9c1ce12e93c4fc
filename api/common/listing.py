"""List parameters shared by every collection: filters, sorting, sparse fields, cursors.

``filter[field]=v`` (equality), ``filter[field__gt|__gte|__lt|__lte|__ne]=v``,
``filter[field__in]=a,b``, ``filter[field__contains]=v`` (substring on text, membership on
arrays), ``filter[field__isnull]=true``, ``filter[custom.key]=v``; ``sort=-a,b``;
``fields=a,b``; ``limit`` (1..1000, default 50); ``cursor`` (opaque, from ``next_cursor``).
Pagination is keyset on the sort keys plus ``id``, so pages never skip or repeat rows.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec
from dateutil import parser as dtparser
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    Date,
    DateTime,
    Float,
    Integer,
    Numeric,
    Select,
    SmallInteger,
    String,
    and_,
    bindparam,
    cast,
    false,
    func,
    literal,
    or_,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import JSONB

from leadly.problem import Problem

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
OPS = ("gt", "gte", "lt", "lte", "ne", "in", "contains", "isnull")
LIST_PARAMS = frozenset({"limit", "cursor", "sort", "fields", "expand"})
_INT_RANGE = {SmallInteger: 2**15, BigInteger: 2**63, Integer: 2**31}


def check_known_params(query: Any, extra: Iterable[str] = ()) -> None:
    """400 on a query parameter a list endpoint does not know (a typo is not silently ignored)."""
    allowed = LIST_PARAMS | set(extra)
    unknown = sorted(
        k
        for k in query
        if k not in allowed and not (k.startswith("filter[") and k.endswith("]") and len(k) > 8)
    )
    if unknown:
        raise Problem(
            400,
            f"Unknown query parameter(s): {', '.join(unknown)}.",
            errors=[{"field": k, "message": "Unknown query parameter."} for k in unknown],
        )


def bad_request(detail: str, field: str | None = None) -> Problem:
    errors = [{"field": field, "message": detail}] if field else None
    return Problem(400, detail, errors=errors)


def is_json(column: Column[Any]) -> bool:
    return isinstance(column.type, JSONB)


def value_expr(column: Column[Any]) -> Any:
    """The expression filters and sorts compare: a JSON ``null`` counts as no value."""
    if is_json(column):
        return func.nullif(column, cast(literal("null"), JSONB), type_=JSONB)
    return column


@dataclass(frozen=True, slots=True)
class SortKey:
    name: str
    column: Column[Any]
    desc: bool

    @property
    def expr(self) -> Any:
        return value_expr(self.column)

    @property
    def nullable(self) -> bool:
        # An expression (a custom field's typed value) has no NOT NULL to rely on.
        return bool(getattr(self.column, "nullable", True)) or is_json(self.column)


@dataclass(frozen=True, slots=True)
class ListParams:
    filters: tuple[tuple[str, str, str], ...]  # (field, op, raw value)
    sort: tuple[tuple[str, bool], ...]  # (field, desc)
    fields: tuple[str, ...] | None
    limit: int
    cursor: str | None
    expand: tuple[str, ...] = ()


def parse_params(query: Mapping[str, Any] | Any, default_sort: str = "-created_at") -> ListParams:
    """Parse the raw query string (a multi-dict) into :class:`ListParams` (400 on garbage)."""
    items = query.multi_items() if hasattr(query, "multi_items") else list(query.items())
    filters: list[tuple[str, str, str]] = []
    sort_raw = default_sort
    fields: tuple[str, ...] | None = None
    expand: tuple[str, ...] = ()
    limit = DEFAULT_LIMIT
    cursor = None
    for key, value in items:
        if "\x00" in key or "\x00" in value:
            raise bad_request("Query parameters cannot contain NUL characters.", key)
        if key.startswith("filter[") and key.endswith("]"):
            inner = key[len("filter[") : -1]
            name, _, op = inner.partition("__")
            if op and op not in OPS:
                raise bad_request(f"Unknown filter operator {op!r}.", key)
            filters.append((name, op or "eq", value))
        elif key == "sort":
            sort_raw = value
        elif key == "fields":
            fields = tuple(f.strip() for f in value.split(",") if f.strip())
        elif key == "expand":
            expand = tuple(dict.fromkeys(f.strip() for f in value.split(",") if f.strip()))
        elif key == "limit":
            try:
                limit = int(value)
            except ValueError:
                raise bad_request("limit must be an integer.", "limit") from None
            if not 1 <= limit <= MAX_LIMIT:
                raise bad_request(f"limit must be between 1 and {MAX_LIMIT}.", "limit")
        elif key == "cursor":
            cursor = value
    sort: list[tuple[str, bool]] = []
    for part in sort_raw.split(","):
        part = part.strip()
        if part:
            sort.append((part.lstrip("-"), part.startswith("-")))
    return ListParams(tuple(filters), tuple(sort), fields, limit, cursor, expand)


CUSTOM = "custom."


def pick(row: Mapping[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    """The sparse fieldset ``fields`` of ``row`` (from :meth:`Lister.fields`), in the record's
    own shape: ``custom.region`` keeps ``custom`` nested with the keys asked for (those set)."""
    out: dict[str, Any] = {}
    for f in fields:
        if f in row or not f.startswith(CUSTOM):
            out[f] = row[f]
            continue
        custom = row.get("custom") or {}
        bucket = out.setdefault("custom", {})
        key = f[len(CUSTOM) :]
        if key in custom:
            bucket[key] = custom[key]
    return out


def _parse_datetime(raw: str) -> datetime:
    try:
        dt = dtparser.isoparse(raw.strip())
    except ValueError:
        # An unescaped "+" in a query string arrives as a space: 2026-01-01T10:00:00 02:00.
        head, sep, tail = raw.strip().rpartition(" ")
        if not sep or not tail[:1].isdigit():
            raise
        dt = dtparser.isoparse(f"{head}+{tail}")
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def coerce(column: Column[Any], raw: str, field: str) -> Any:
    t = column.type
    try:
        if isinstance(t, Boolean):
            if raw.lower() in ("true", "1", "yes"):
                return True
            if raw.lower() in ("false", "0", "no"):
                return False
            raise ValueError(raw)
        if isinstance(t, Integer):
            v = int(raw)
            bound = next(b for k, b in _INT_RANGE.items() if isinstance(t, k))
            if not -bound <= v < bound:
                raise ValueError(raw)
            return v
        if isinstance(t, Numeric):
            d = Decimal(raw)
            if not d.is_finite() or abs(d.adjusted()) > 100:
                raise ValueError(raw)
            return d
        if isinstance(t, Float):  # not a Numeric in SQLAlchemy 2: double precision
            f = float(raw)
            if not math.isfinite(f):
                raise ValueError(raw)
            return f
        if isinstance(t, DateTime):
            return _parse_datetime(raw)
        if isinstance(t, Date):
            return date.fromisoformat(raw.strip())
        if isinstance(t, JSONB):
            return msgspec.json.decode(raw.encode())
    except (ValueError, InvalidOperation, OverflowError, msgspec.DecodeError):
        raise bad_request(
            f"{raw!r} is not a valid value for {field}.", f"filter[{field}]"
        ) from None
    return raw


def _mapping(row: Any) -> Mapping[str, Any]:
    """A result row's columns by name (a mapping is taken as it is)."""
    return row._mapping if hasattr(row, "_mapping") else row


class Lister:
    """Applies :class:`ListParams` to a table whose public fields are ``columns``."""

    def __init__(
        self,
        columns: Mapping[str, Column[Any]],
        id_column: Column[Any],
        case_insensitive: Mapping[str, Column[Any]] | None = None,
    ) -> None:
        self.columns = dict(columns)
        self.id_column = id_column
        # field → its stored lower-case twin: equality compares ``twin = lower(value)``, which
        # row-level security lets the planner use as an index condition (``lower(col)`` is not
        # leakproof, so an index on it is unusable under RLS).
        self.case_insensitive = dict(case_insensitive or {})

    def _column(self, name: str, what: str) -> Column[Any]:
        col = self.columns.get(name)
        if col is None:
            raise bad_request(
                f"Unknown {what} field {name!r}.", what if what != "filter" else f"filter[{name}]"
            )
        return col

    def where(self, filters: Sequence[tuple[str, str, str]]) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        for name, op, raw in filters:
            if name.startswith("custom.") and "custom" in self.columns and name not in self.columns:
                key = name.split(".", 1)[1]
                expr = self.columns["custom"][key].astext
                out.append(self._op(expr, String(), op, raw, name))
                continue
            col = self._column(name, "filter")
            if is_json(col):
                out.append(self._json_op(col, op, raw, name))
                continue
            out.append(self._op(col, col.type, op, raw, name, col))
        return out

    def _json_op(self, col: Column[Any], op: str, raw: str, name: str) -> ColumnElement[bool]:
        """JSON fields: values are JSON (``filter[custom]={"a":1}``); ``__contains`` is
        containment (``@>``) for an object or array, key/element membership for a string."""
        expr = value_expr(col)
        if op == "isnull":
            flag = raw.lower() in ("true", "1", "yes")
            return expr.is_(None) if flag else expr.is_not(None)
        if op == "contains":
            try:
                v = msgspec.json.decode(raw.encode())
            except msgspec.DecodeError:
                v = raw
            if isinstance(v, str):
                return col.has_key(v)
            return col.contains(_json_bind(v))
        v = coerce(col, raw, name)
        if op == "in":
            if not isinstance(v, list):
                raise bad_request(
                    f"filter[{name}__in] takes a JSON array of values.", f"filter[{name}__in]"
                )
            return or_(false(), *[_eq(expr, x, json=True) for x in v])
        if op == "eq":
            return _eq(expr, v, json=True)
        if op == "ne":
            return expr.is_distinct_from(_json_bind(v))
        b = _json_bind(v)
        return {"gt": expr > b, "gte": expr >= b, "lt": expr < b, "lte": expr <= b}[op]

    def _op(
        self, expr: Any, type_: Any, op: str, raw: str, name: str, col: Column[Any] | None = None
    ) -> ColumnElement[bool]:
        def value(v: str) -> Any:
            return coerce(col, v, name) if col is not None else v

        if op == "isnull":
            flag = raw.lower() in ("true", "1", "yes")
            return expr.is_(None) if flag else expr.is_not(None)
        if isinstance(type_, ARRAY):
            if op in ("contains", "eq"):
                return expr.contains([raw])
            if op == "in":
                return expr.overlap([v for v in raw.split(",") if v])
            raise bad_request(f"Operator {op!r} does not apply to list field {name}.", name)
        if op == "eq":
            if name in self.case_insensitive:
                return self.case_insensitive[name] == func.lower(raw)
            return expr == value(raw)
        if op == "ne":
            return expr.is_distinct_from(value(raw))
        if op == "in":
            return expr.in_([value(v) for v in raw.split(",") if v != ""])
        if op == "contains":
            if not isinstance(type_, String):
                raise bad_request(f"__contains applies to text and list fields, not {name}.", name)
            escaped = raw.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            return expr.ilike(f"%{escaped}%", escape="\\")
        v = value(raw)
        return {"gt": expr > v, "gte": expr >= v, "lt": expr < v, "lte": expr <= v}[op]

    def sort_keys(self, sort: Sequence[tuple[str, bool]]) -> list[SortKey]:
        keys: list[SortKey] = []
        seen: set[str] = set()
        for name, desc in sort:
            col = self._column(name, "sort")
            if isinstance(col.type, ARRAY):
                raise bad_request(f"Cannot sort by {name}.", "sort")
            if name in seen:
                raise bad_request(f"Sort field {name!r} is given twice.", "sort")
            seen.add(name)
            if name != "id":
                keys.append(SortKey(name, col, desc))
        id_desc = next((d for n, d in sort if n == "id"), None)
        tie_desc = id_desc if id_desc is not None else keys[0].desc if keys else False
        keys.append(SortKey("id", self.id_column, tie_desc))
        return keys

    def fields(self, requested: Sequence[str] | None) -> list[str] | None:
        if requested is None:
            return None
        for f in requested:
            if not (f.startswith(CUSTOM) and len(f) > len(CUSTOM) and "custom" in self.columns):
                self._column(f, "fields")
        return ["id", *[f for f in requested if f != "id"]]

    # -------------------------------------------------------------- cursors

    @staticmethod
    def _signature(keys: Sequence[SortKey]) -> str:
        sig = ",".join(("-" if k.desc else "") + k.name for k in keys)
        return hashlib.blake2s(sig.encode(), digest_size=4).hexdigest()

    def page(
        self,
        rows: Sequence[Any],
        keys: Sequence[SortKey],
        params: ListParams,
        present: Callable[[Any], dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """The list answer for ``rows``, read with the statement :meth:`apply` made (up to one
        past ``params.limit``): the first ``limit`` rows, each ``present``-ed (default: its
        columns), the cursor after the last of them (from its stored values), and only the
        ``fields`` asked for."""
        has_more = len(rows) > params.limit
        kept = rows[: params.limit]
        cursor = self.encode_cursor(keys, _mapping(kept[-1])) if has_more and kept else None
        if params.expand:
            raise bad_request("This list does not take expand.", "expand")
        data = [present(r) if present is not None else dict(_mapping(r)) for r in kept]
        fields = self.fields(params.fields)
        if fields is not None:
            data = [pick(d, fields) for d in data]
        return {"data": data, "next_cursor": cursor, "has_more": has_more}

    def encode_cursor(self, keys: Sequence[SortKey], row: Mapping[str, Any]) -> str:
        values = [_cursor_value(row[k.name]) for k in keys]
        raw = msgspec.json.encode([self._signature(keys), values])
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode_cursor(self, keys: Sequence[SortKey], cursor: str) -> list[Any]:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            sig, values = msgspec.json.decode(raw)
            if (
                sig != self._signature(keys)
                or not isinstance(values, list)
                or len(values) != len(keys)
            ):
                raise ValueError
            return [_cursor_decode(k, v) for k, v in zip(keys, values, strict=True)]
        except (ValueError, TypeError, binascii.Error, msgspec.DecodeError, Problem):
            raise bad_request(
                "The cursor is malformed or belongs to another sort.", "cursor"
            ) from None

    def after(self, keys: Sequence[SortKey], values: Sequence[Any]) -> ColumnElement[bool]:
        """Rows strictly after the cursor in (sort keys, id) order, NULLs last in both directions."""
        if all(not k.nullable for k in keys) and len({k.desc for k in keys}) == 1:
            lhs = tuple_(*[k.expr for k in keys])
            rhs = tuple_(*values)
            return lhs < rhs if keys[0].desc else lhs > rhs
        clauses = []
        for i, k in enumerate(keys):
            eqs = [_eq(keys[j].expr, values[j], json=is_json(keys[j].column)) for j in range(i)]
            clauses.append(and_(*eqs, _gt(k, values[i])))
        return or_(*clauses)

    def order_by(self, keys: Sequence[SortKey]) -> list[Any]:
        # Empty values sort last both ways (``sort=-rating`` starts with the best-rated). A NOT
        # NULL column gets no NULLS clause, so its index still delivers the order without a sort.
        def one(k: SortKey) -> Any:
            ordered = k.expr.desc() if k.desc else k.expr.asc()
            return ordered.nulls_last() if k.nullable else ordered

        return [one(k) for k in keys]

    def apply(self, stmt: Select[Any], params: ListParams) -> tuple[Select[Any], list[SortKey]]:
        keys = self.sort_keys(params.sort)
        stmt = stmt.where(*self.where(params.filters))
        if params.cursor:
            stmt = stmt.where(self.after(keys, self.decode_cursor(keys, params.cursor)))
        return stmt.order_by(*self.order_by(keys)).limit(params.limit + 1), keys


def _cursor_value(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v)
    return v


def _cursor_decode(k: SortKey, v: Any) -> Any:
    """A cursor value back to a typed value; anything a cursor cannot hold raises ValueError."""
    if v is None or is_json(k.column):
        return v
    if isinstance(k.column.type, String):
        if not isinstance(v, str) or "\x00" in v:
            raise ValueError(v)
        return v
    if isinstance(v, bool) or not isinstance(v, str | int | float):
        raise ValueError(v)
    return coerce(k.column, str(v), k.name)


def _json_bind(v: Any) -> Any:
    return bindparam(None, v, type_=JSONB)


def _eq(expr: Any, v: Any, *, json: bool = False) -> ColumnElement[bool]:
    if v is None:
        return expr.is_(None)
    return expr == (_json_bind(v) if json else v)


def _gt(k: SortKey, v: Any) -> ColumnElement[bool]:
    expr = k.expr
    b = _json_bind(v) if is_json(k.column) else v
    if v is None:  # NULLs come last either way: nothing after a NULL but ties
        return false()
    beyond = expr < b if k.desc else expr > b
    return or_(beyond, expr.is_(None)) if k.nullable else beyond


__all__ = ["ListParams", "Lister", "check_known_params", "parse_params", "true"]
