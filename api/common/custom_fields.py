"""Custom field values: the team's field definitions, typed values in and out, and the typed
SQL expression of each field (what filters, sorts and expression indexes use).

Values are stored as JSON in ``custom_records.data`` (custom objects) or a standard record's
``custom`` column, keyed by the field's api name: text-like values, dates (``YYYY-MM-DD``),
datetimes (ISO 8601 in UTC, microseconds: text order is time order), decimals as strings
(exact), integers as numbers, booleans, multi-picklists as arrays, lookups as ids. A field whose
type changed along a safe conversion reads its old values as the new type without a rewrite
(an integer reads as a decimal string, a picklist value as a one-element array).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Numeric,
    Table,
    Text,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.listing import Lister
from api.common.validate import in_range
from leadly.actor import Actor
from leadly.problem import validation
from warehouse.models import Account, Contact, Lead
from warehouse.models.custom import CustomField, CustomObject, CustomRecord
from warehouse.models.deals import Deal
from warehouse.models.tasks import Task

FIELDS = CustomField.__table__
RECORDS = CustomRecord.__table__
OBJECTS = CustomObject.__table__
#: The standard objects' tables, by the plural the API and the metadata use.
STANDARD_TABLES: dict[str, Table] = {
    "leads": Lead.__table__,
    "contacts": Contact.__table__,
    "accounts": Account.__table__,
    "deals": Deal.__table__,
    "tasks": Task.__table__,
}
NUMERIC_TYPES = frozenset({"decimal", "currency", "percent"})
TEXT_LIMITS = {"text": 1000, "long_text": 131_072, "url": 2000, "email": 320, "phone": 40}
_PATTERNS = {
    "email": re.compile(r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$"),
    "phone": re.compile(r"^[0-9+()./\-\sextEXT#*]{3,40}$"),
    "url": re.compile(r"^(https?://)?[^\s/$.?#\x00][^\s\x00]*$"),
}
_ID = re.compile(r"^[a-z][a-z0-9]*_[0-9A-HJKMNP-TV-Z]{26}$")
READ_ONLY_TYPES = frozenset({"formula", "auto_number"})
MAX_INT = 2**53  # what every JSON reader keeps exact


@dataclass(frozen=True, slots=True)
class FieldDef:
    """One field definition as the record paths use it."""

    id: str
    object_id: str
    api_name: str
    label: str
    type: str
    required: bool
    default: Any
    unique: bool
    indexed: bool
    options: tuple[dict[str, Any], ...]
    precision: int | None
    scale: int | None
    lookup: Mapping[str, Any] | None
    help_text: str | None
    deleted: bool

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> FieldDef:
        return cls(
            id=row["id"],
            object_id=row["object_id"],
            api_name=row["api_name"],
            label=row["label"],
            type=row["type"],
            required=row["required"],
            default=row["default"],
            unique=row["unique"],
            indexed=row["indexed"],
            options=tuple(row["options"] or ()),
            precision=row["precision"],
            scale=row["scale"],
            lookup=row["lookup"],
            help_text=row["help_text"],
            deleted=row["deleted_at"] is not None,
        )

    @property
    def active_values(self) -> frozenset[str]:
        return frozenset(o["value"] for o in self.options if o.get("active", True))

    @property
    def all_values(self) -> frozenset[str]:
        return frozenset(o["value"] for o in self.options)


async def load(
    conn: AsyncConnection, team_id: str, object_id: str, *, deleted: bool = False
) -> list[FieldDef]:
    """The fields of an object (a custom object's id or a standard plural), in creation order."""
    q = select(FIELDS).where(FIELDS.c.team_id == team_id, FIELDS.c.object_id == object_id)
    if not deleted:
        q = q.where(FIELDS.c.deleted_at.is_(None))
    rows = await conn.execute(q.order_by(FIELDS.c.created_at, FIELDS.c.id))
    return [FieldDef.of(r._mapping) for r in rows]


# ---------------------------------------------------------------------------- values in


def _err(name: str, message: str) -> dict[str, str]:
    return {"field": name, "message": message}


def convert(f: FieldDef, value: Any, *, current: Any = None, name: str | None = None) -> Any:
    """``value`` as stored for ``f`` (JSON), or raise a 422 naming the field (``name``).
    ``current``: the stored value (an inactive picklist value may stay)."""
    name = name or f.api_name
    if value is None:
        return None
    t = f.type
    bad = validation([_err(name, f"Not a valid {t.replace('_', ' ')} value.")])
    if t in TEXT_LIMITS or t == "picklist":
        if not isinstance(value, str) or "\x00" in value:
            raise validation([_err(name, "Expected a string without NUL characters.")])
        limit = TEXT_LIMITS.get(t, 1000)
        if len(value) > limit:
            raise validation([_err(name, f"At most {limit} characters.")])
        pattern = _PATTERNS.get(t)
        if pattern is not None and not pattern.match(value):
            raise bad
        if t == "picklist" and value not in f.active_values and value != current:
            raise validation([_err(name, "Not one of the field's active picklist values.")])
        return value
    if t == "multi_picklist":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise validation([_err(name, "Expected an array of picklist values.")])
        kept = set(read(f, current) or ())
        if any(v not in f.active_values and v not in kept for v in value):
            raise validation([_err(name, "Not one of the field's active picklist values.")])
        return list(dict.fromkeys(value))
    if t == "integer":
        if isinstance(value, bool) or not isinstance(value, int) or abs(value) >= MAX_INT:
            raise bad
        return value
    if t in NUMERIC_TYPES:
        return _decimal(f, value, name)
    if t == "boolean":
        if not isinstance(value, bool):
            raise bad
        return value
    if t == "date":
        try:
            d = date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
        except ValueError:
            d = None
        if d is None or not in_range(d):
            raise validation([_err(name, "Expected an ISO 8601 date (YYYY-MM-DD), 1700-4000.")])
        return d.isoformat()
    if t == "datetime":
        return _datetime(value, name)
    if t == "lookup":
        if not isinstance(value, str) or not _ID.match(value):
            raise validation([_err(name, "Expected the id of a record.")])
        return value
    raise validation([_err(name, "This field is read-only.")])


def _decimal(f: FieldDef, value: Any, name: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise validation([_err(name, 'Expected a decimal number as a string (e.g. "12.50").')])
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation:
        d = Decimal("NaN")
    if not d.is_finite() or abs(d.adjusted()) > 30:
        raise validation([_err(name, "Not a valid decimal number.")])
    scale = f.scale if f.scale is not None else 2
    d = d.quantize(Decimal(1).scaleb(-scale))
    precision = f.precision or 18
    if len(d.as_tuple().digits) > precision:
        raise validation([_err(name, f"At most {precision} digits ({scale} after the point).")])
    return str(d)


def _datetime(value: Any, name: str) -> str:
    try:
        dt = datetime.fromisoformat(value) if isinstance(value, str) and len(value) >= 16 else None
    except ValueError:
        dt = None
    if dt is None or not in_range(dt):
        raise validation([_err(name, "Expected an ISO 8601 date and time, 1700-4000.")])
    dt = dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)
    return dt.isoformat(timespec="microseconds")


def check(
    fields: Iterable[FieldDef],
    values: Mapping[str, Any],
    current: Mapping[str, Any] | None,
    *,
    prefix: str = "",
    strict: bool = True,
    merge: bool = True,
) -> dict[str, Any]:
    """The stored form of ``values`` (field api name → value) merged over ``current``'s stored
    values (``merge``; else ``values`` replace them): defaults on a create (``current`` None),
    required fields present, read-only fields refused, every error named at once (422).
    ``strict``: keys that name no field are refused (custom objects); otherwise they pass
    through as they are (standard objects' free-form keys)."""
    by_name = {f.api_name: f for f in fields}
    errors: list[dict[str, str]] = []
    out = dict(current or {}) if merge else {}
    for key, value in values.items():
        f = by_name.get(key)
        name = f"{prefix}{key}"
        if f is None:
            if strict:
                errors.append(_err(name, "Unknown field."))
            else:
                out[key] = value
            continue
        if f.type in READ_ONLY_TYPES:
            errors.append(
                _err(name, f"{f.label} is a {f.type.replace('_', '-')} field: read-only.")
            )
            continue
        try:
            out[key] = convert(f, value, current=(current or {}).get(key), name=name)
        except Exception as e:  # a Problem: collect its errors
            errors += getattr(e, "errors", None) or [_err(name, str(e))]
    for f in by_name.values():
        if current is None and f.api_name not in values and f.default is not None:
            out[f.api_name] = f.default
        missing = f.required and out.get(f.api_name) in (None, "", [])
        name = f"{prefix}{f.api_name}"
        if missing and f.type not in READ_ONLY_TYPES and all(e["field"] != name for e in errors):
            errors.append(_err(name, "This field is required."))
    if errors:
        names = ", ".join(dict.fromkeys(e["field"] for e in errors))
        raise validation(errors, f"The request is not valid: check {names}.")
    return {k: v for k, v in out.items() if v is not None}


async def check_lookups(
    conn: AsyncConnection,
    actor: Actor,
    fields: Iterable[FieldDef],
    values: Mapping[str, Any],
    current: Mapping[str, Any] | None,
    *,
    prefix: str = "",
) -> None:
    """Every lookup value names a live record of its target (a custom object by api name, a
    standard one by plural), else a 422 naming the field."""
    errors = []
    targets: dict[str, str] | None = None
    for f in fields:
        value = values.get(f.api_name)
        if f.type != "lookup" or value is None or (current or {}).get(f.api_name) == value:
            continue
        if targets is None:  # read once, only when a lookup changed
            targets = await object_targets(conn, actor)
        if not await exists(conn, actor, str((f.lookup or {}).get("object")), value, targets):
            errors.append(_err(f"{prefix}{f.api_name}", "No such record in your team."))
    if errors:
        raise validation(errors, "A lookup names no record of its object in your team.")


async def exists(
    conn: AsyncConnection, actor: Actor, target: str, id: str, targets: Mapping[str, str]
) -> bool:
    table = STANDARD_TABLES.get(target)
    q = None
    if table is None:
        if target not in targets:
            return False
        table = RECORDS
        q = select(table.c.id).where(table.c.object_id == targets[target])
    q = (q if q is not None else select(table.c.id)).where(
        table.c.team_id == actor.team_id, table.c.id == id, table.c.deleted_at.is_(None)
    )
    return (await conn.execute(q)).first() is not None


async def object_targets(conn: AsyncConnection, actor: Actor) -> dict[str, str]:
    """The team's live custom objects: api name → id (what a lookup may name)."""
    rows = await conn.execute(
        select(OBJECTS.c.api_name, OBJECTS.c.id).where(
            OBJECTS.c.team_id == actor.team_id, OBJECTS.c.deleted_at.is_(None)
        )
    )
    return {r.api_name: r.id for r in rows}


async def check_standard(
    conn: AsyncConnection,
    actor: Actor,
    plural: str,
    values: dict[str, Any],
    current: Mapping[str, Any] | None,
) -> None:
    """A standard record's ``custom`` (as sent: it replaces the stored one) typed by the team's
    fields of ``plural``: defaults, required, read-only, lookups; keys that name no field pass
    through as before. Writes the stored form back into ``values``."""
    if plural not in STANDARD_TABLES:
        return
    fields = await load(conn, actor.team_id, plural)
    if not fields:
        return
    given = values.get("custom") or {}
    stored = (current or {}).get("custom") or {}
    known = None if current is None else stored
    custom = check(fields, given, known, prefix="custom.", strict=False, merge=False)
    await check_lookups(conn, actor, fields, custom, stored, prefix="custom.")
    values["custom"] = custom


def mentioned(params: Any) -> bool:
    """Whether list parameters filter or sort on a ``custom.<field>``."""
    names = [f[0] for f in params.filters] + [s[0] for s in params.sort]
    return any(n.startswith("custom.") for n in names)


async def lister(
    conn: AsyncConnection, actor: Actor, plural: str, base: Lister
) -> tuple[Lister, list[Any]]:
    """``base`` plus ``custom.<field>`` for each of the team's fields of ``plural`` (its typed
    value), and those columns labelled for the select (cursors read them back). An object
    that has no fields of its own (call logs, activities) keeps ``base``."""
    table = STANDARD_TABLES.get(plural)
    if table is None:
        return base, []
    typed = {
        f"custom.{f.api_name}": expression(f, f"{table.name}.custom").label(f"custom.{f.api_name}")
        for f in await load(conn, actor.team_id, plural)
    }
    return Lister({**base.columns, **typed}, base.id_column, base.case_insensitive), list(
        typed.values()
    )


# ---------------------------------------------------------------------------- values out


def read(f: FieldDef, value: Any) -> Any:
    """A stored value as the API shows it for ``f``'s current type."""
    if value is None:
        return None
    if f.type in NUMERIC_TYPES and not isinstance(value, str):
        return str(Decimal(str(value)).quantize(Decimal(1).scaleb(-(f.scale or 2))))
    if f.type == "multi_picklist" and isinstance(value, str):
        return [value]
    return value


def shown(fields: Iterable[FieldDef], data: Mapping[str, Any]) -> dict[str, Any]:
    """The live fields' values (``None`` when unset); deleted fields are absent."""
    return {f.api_name: read(f, data.get(f.api_name)) for f in fields if not f.deleted}


# ---------------------------------------------------------------------------- SQL


def expression_sql(f: FieldDef, column: str) -> str:
    """The typed SQL of ``f``'s value in the jsonb ``column`` (e.g. ``custom_records.data``):
    the same text in queries and in the field's expression index, so the planner matches them.
    Api names are checked snake case, never quoted input."""
    assert re.fullmatch(r"[a-z][a-z0-9_]*", f.api_name), f.api_name
    raw = f"({column} ->> '{f.api_name}')"
    if f.type in NUMERIC_TYPES or f.type == "integer":
        return f"CAST({raw} AS NUMERIC)"
    if f.type == "date":
        return f"app.custom_date{raw}"
    if f.type == "datetime":
        return f"app.custom_ts{raw}"
    if f.type == "boolean":
        return f"CAST({raw} AS BOOLEAN)"
    if f.type == "multi_picklist":
        return f"({column} -> '{f.api_name}')"
    return raw


_SQL_TYPES = {"date": Date(), "datetime": DateTime(timezone=True), "boolean": Boolean()}


def expression(f: FieldDef, column: str) -> Any:
    """:func:`expression_sql` as a typed SQLAlchemy column expression."""
    if f.type in NUMERIC_TYPES or f.type == "integer":
        type_: Any = Numeric()
    elif f.type == "multi_picklist":
        type_ = JSONB()
    else:
        type_ = _SQL_TYPES.get(f.type, Text())
    return literal_column(expression_sql(f, column), type_=type_)


def index_name(f: FieldDef, unique: bool) -> str:
    """``cf_<hash>__<api name>``: the field's expression index (unique or not); the api name
    after ``__`` lets a unique violation name its field."""
    digest = hashlib.sha1(f"{f.id}:{unique}".encode()).hexdigest()[:10]
    return f"cf_{digest}{'u' if unique else 'i'}__{f.api_name}"[:63]


def index_ddl(f: FieldDef, unique: bool, table: str) -> str:
    """``CREATE [UNIQUE] INDEX CONCURRENTLY`` for ``f`` on ``app.<table>`` (``custom_records``:
    partial on its object; a standard table: on its live rows)."""
    column = "data" if table == "custom_records" else "custom"
    expr = expression_sql(f, column)
    if f.type == "multi_picklist":
        expr = f"({column} -> '{f.api_name}')"
    where = "deleted_at IS NULL"
    if table == "custom_records":
        assert _ID.match(f.object_id)
        where = f"object_id = '{f.object_id}' AND {where}"
    cols = f"team_id, ({expr})" if unique else f"team_id, ({expr}), id"
    kind = "UNIQUE INDEX" if unique else "INDEX"
    return (
        f"CREATE {kind} CONCURRENTLY IF NOT EXISTS {index_name(f, unique)} "
        f"ON app.{table} ({cols}) WHERE {where}"
    )
