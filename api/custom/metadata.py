"""Custom objects and fields: the metadata services (admins only; every change an event).

Objects and fields are records of ``custom_objects`` / ``custom_fields`` written through
:class:`~api.common.records.RecordService`, so each change is an event with its before/after and
shows in their history. Indexes of indexed, unique and lookup fields are built after the
metadata commits (:func:`build_indexes`, ``CREATE INDEX CONCURRENTLY``): a unique index that
cannot be built (values already clash) turns the field's ``unique`` back off and answers 409.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import psycopg
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql.base import RESERVED_WORDS
from sqlalchemy.ext.asyncio import AsyncConnection

from api import formulas
from api.common import custom_fields as cf
from api.common import custom_formulas
from api.common.guards import require_role, require_scope
from api.common.records import RecordService
from leadly import clock
from leadly.actor import Actor
from leadly.ids import new_id
from leadly.problem import Problem, validation
from warehouse import ddl
from warehouse.models.custom import (
    FIELD_RESTORE_DAYS,
    MAX_FIELDS,
    MAX_FORMULA_LENGTH,
    MAX_OBJECTS,
    SAFE_CONVERSIONS,
    STANDARD_OBJECTS,
    CustomCounter,
    CustomField,
    CustomObject,
)

OBJECTS = CustomObject.__table__
FIELDS = CustomField.__table__
COUNTERS = CustomCounter.__table__
API_NAME = re.compile(r"^[a-z](?:[a-z0-9]|_(?!_))*(?<!_)$")
#: Object api names taken by the API's own resources and the event log's object types.
RESERVED_OBJECTS = frozenset(
    {
        *STANDARD_OBJECTS,
        *(s.removesuffix("s") for s in STANDARD_OBJECTS),
        "call_log", "call_logs", "activity", "activities", "note", "notes", "member", "members",
        "team", "teams", "pipeline", "pipelines", "notification", "notifications", "import",
        "imports", "user", "users", "event", "events", "comment", "comments", "time_log",
        "custom_object", "custom_field", "object", "objects", "record", "records", "metadata",
        "layout", "layouts", "list_view", "list_views", "search", "file", "files", "session",
        "api_key", "invitation", "calendar_feed", "owner", "deal_contact",
    }
)  # fmt: skip
#: Field api names a custom record already has (its standard fields) or the API reserves.
RECORD_FIELDS = frozenset(
    {"id", "name", "owner_id", "created_at", "created_by", "updated_at", "updated_by",
     "version", "deleted_at", "team_id", "object_id", "data", "custom", "owner"}
)  # fmt: skip
UNIQUE_TYPES = frozenset(
    {"text", "email", "phone", "url", "integer", "decimal", "currency", "percent", "date",
     "datetime", "picklist"}
)  # fmt: skip
NO_DEFAULT = frozenset({"lookup", "formula", "auto_number"})


def check_admin(actor: Actor) -> None:
    require_scope(actor, "metadata:write")
    require_role(actor, "admin")


def check_name(name: str, field: str, reserved: frozenset[str] = frozenset()) -> None:
    """422 unless ``name`` is lowercase snake case, not reserved and not an SQL keyword."""
    if not API_NAME.match(name):
        message = "Use lowercase snake case: a letter, then letters, digits and single underscores."
    elif name in RESERVED_WORDS:
        message = f"{name!r} is an SQL keyword."
    elif name in reserved:
        message = f"{name!r} is reserved."
    else:
        return
    raise validation([{"field": field, "message": message}], f"api_name {name!r}: {message}")


class ObjectService(RecordService):
    table = OBJECTS
    object_type = "custom_object"
    plural = "custom_objects"
    prefix = "cobj"


class FieldService(RecordService):
    table = FIELDS
    object_type = "custom_field"
    plural = "custom_fields"
    prefix = "cfld"

    async def before_restore(
        self, conn: AsyncConnection, actor: Actor, row: Mapping[str, Any]
    ) -> None:
        if row["deleted_at"] < clock.now() - timedelta(days=FIELD_RESTORE_DAYS):
            raise Problem(
                410, f"Deleted fields can be restored for {FIELD_RESTORE_DAYS} days.", title="Gone"
            )


objects = ObjectService()
fields = FieldService()


# ---------------------------------------------------------------------------- objects


async def get_object(conn: AsyncConnection, actor: Actor, api_name: str) -> dict[str, Any]:
    if not API_NAME.match(api_name) or len(api_name) > 40:  # names nothing: no query
        raise Problem(404, "No custom object by that name.")
    row = (
        await conn.execute(objects._scoped(actor).where(OBJECTS.c.api_name == api_name).limit(1))
    ).first()
    if row is None:
        raise Problem(404, f"No custom object named {api_name!r}.")
    return dict(row._mapping)


async def list_objects(conn: AsyncConnection, actor: Actor) -> list[dict[str, Any]]:
    rows = await conn.execute(objects._scoped(actor).order_by(OBJECTS.c.api_name))
    return [dict(r._mapping) for r in rows]


async def create_object(
    conn: AsyncConnection, actor: Actor, values: dict[str, Any]
) -> dict[str, Any]:
    name = values["api_name"]
    check_name(name, "api_name", RESERVED_OBJECTS)
    count = (
        await conn.execute(
            select(func.count())
            .select_from(OBJECTS)
            .where(OBJECTS.c.team_id == actor.team_id, OBJECTS.c.deleted_at.is_(None))
        )
    ).scalar_one()
    if count >= MAX_OBJECTS:
        raise validation(
            [{"field": "api_name", "message": f"Limit reached: {MAX_OBJECTS} custom objects."}],
            f"A team has at most {MAX_OBJECTS} custom objects (the limit is reached).",
        )
    taken = await conn.execute(objects._scoped(actor).where(OBJECTS.c.api_name == name))
    if taken.first() is not None:
        raise Problem(
            409,
            f"A custom object named {name!r} exists already.",
            title="Conflict",
            errors=[{"field": "api_name", "message": "Already taken."}],
        )
    record_name = values.pop("record_name", None) or {"type": "text"}
    if record_name.get("type") == "auto_number" and not record_name.get("format"):
        raise validation(
            [{"field": "record_name.format", "message": "An auto-number needs a format."}]
        )
    values["record_name"] = record_name
    values["id"] = new_id("cobj")
    await _check_searchable(conn, actor, values["id"], values.get("searchable_fields"))
    row = await objects.create(conn, actor, values)
    if record_name.get("type") == "auto_number":
        await _counter(conn, actor, row["id"], record_name.get("start", 1))
    return row


async def _check_searchable(
    conn: AsyncConnection, actor: Actor, object_id: str, names: list[str] | None
) -> None:
    if not names:
        return
    known = {f.api_name for f in await cf.load(conn, actor.team_id, object_id)} | {"name"}
    bad = [n for n in names if n not in known]
    if bad:
        raise validation(
            [{"field": "searchable_fields", "message": f"No field {n!r}."} for n in bad]
        )


async def update_object(
    conn: AsyncConnection, actor: Actor, api_name: str, values: dict[str, Any], if_match: int | None
) -> dict[str, Any]:
    obj = await get_object(conn, actor, api_name)
    await _check_searchable(conn, actor, obj["id"], values.get("searchable_fields"))
    return await objects.update(conn, actor, obj["id"], values, if_match=if_match)


async def delete_object(
    conn: AsyncConnection, actor: Actor, api_name: str, if_match: int | None
) -> None:
    obj = await get_object(conn, actor, api_name)
    used = await conn.execute(
        select(FIELDS.c.api_name, FIELDS.c.object_id).where(
            FIELDS.c.team_id == actor.team_id,
            FIELDS.c.deleted_at.is_(None),
            FIELDS.c.type == "lookup",
            FIELDS.c.lookup["object"].astext == api_name,
            FIELDS.c.object_id != obj["id"],
        )
    )
    pointing = [r.api_name for r in used]
    if pointing:
        raise Problem(
            409,
            f"Lookup fields point at {api_name}: {', '.join(pointing)}. Delete them first.",
            title="Conflict",
        )
    await objects.delete(conn, actor, obj["id"], if_match=if_match)


async def _counter(conn: AsyncConnection, actor: Actor, id: str, start: int) -> None:
    await conn.execute(COUNTERS.insert().values(team_id=actor.team_id, id=id, next_value=start))


async def next_number(conn: AsyncConnection, actor: Actor, id: str) -> int:
    """The next number of the auto-number ``id`` (an object's or a field's): row-locked, so two
    concurrent creates never get the same one."""
    stmt = (
        COUNTERS.update()
        .where(COUNTERS.c.team_id == actor.team_id, COUNTERS.c.id == id)
        .values(next_value=COUNTERS.c.next_value + 1)
        .returning(COUNTERS.c.next_value - 1)
    )
    return (await conn.execute(stmt)).scalar_one()


def format_number(fmt: str, n: int) -> str:
    """``PRJ-{0000}`` and 7 → ``PRJ-0007``."""
    return re.sub(r"\{(0+)\}", lambda m: str(n).zfill(len(m.group(1))), fmt, count=1)


# ---------------------------------------------------------------------------- fields


async def resolve(
    conn: AsyncConnection, actor: Actor, object: str
) -> tuple[str, dict[str, Any] | None]:
    """An object named in a URL → (the key its fields carry, the custom object or None)."""
    if object in STANDARD_OBJECTS:
        return object, None
    obj = await get_object(conn, actor, object)
    return obj["id"], obj


def _reserved_fields(object: str) -> frozenset[str]:
    table = cf.STANDARD_TABLES.get(object)
    return RECORD_FIELDS | frozenset(table.c.keys() if table is not None else ())


async def field_rows(
    conn: AsyncConnection, actor: Actor, object_id: str, *, deleted: bool = False
) -> list[dict[str, Any]]:
    q = select(FIELDS).where(FIELDS.c.team_id == actor.team_id, FIELDS.c.object_id == object_id)
    q = q.where(FIELDS.c.deleted_at.is_not(None) if deleted else FIELDS.c.deleted_at.is_(None))
    return [
        dict(r._mapping) for r in await conn.execute(q.order_by(FIELDS.c.created_at, FIELDS.c.id))
    ]


async def get_field(
    conn: AsyncConnection, actor: Actor, object_id: str, api_name: str, *, deleted: bool = False
) -> dict[str, Any]:
    if not API_NAME.match(api_name) or len(api_name) > 40:
        raise Problem(404, "No field by that name.")
    q = select(FIELDS).where(
        FIELDS.c.team_id == actor.team_id,
        FIELDS.c.object_id == object_id,
        FIELDS.c.api_name == api_name,
    )
    row = (await conn.execute(q)).first()
    if row is None or (row.deleted_at is not None) != deleted:
        raise Problem(404, f"No {'deleted ' if deleted else ''}field named {api_name!r}.")
    return dict(row._mapping)


def _field_def(values: Mapping[str, Any]) -> cf.FieldDef:
    return cf.FieldDef.of(
        {
            "id": values.get("id") or "cfld_x",
            "object_id": values.get("object_id") or "",
            "deleted_at": None,
            **{k: values.get(k) for k in cf.FieldDef.__slots__ if k not in ("id", "object_id", "deleted")},
        }
        | {"required": bool(values.get("required")), "unique": bool(values.get("unique")),
           "indexed": bool(values.get("indexed"))}
    )  # fmt: skip


def _check_spec(v: dict[str, Any]) -> None:
    """Type-specific settings of a field (merged values): 422 naming what does not fit."""
    t = v["type"]
    errors: list[dict[str, str]] = []

    def need(cond: bool, field: str, message: str) -> None:
        if not cond:
            errors.append({"field": field, "message": message})

    need(
        t in ("picklist", "multi_picklist") or not v.get("options"),
        "options",
        "Only picklists have options.",
    )
    if t in ("picklist", "multi_picklist"):
        opts = v.get("options") or []
        need(bool(opts), "options", "A picklist needs at least one option.")
        values = [o["value"] for o in opts]
        need(len(values) == len(set(values)), "options", "Option values must be distinct.")
    numeric = t in cf.NUMERIC_TYPES
    need(
        numeric or v.get("precision") is None,
        "precision",
        "Only decimal, currency and percent fields have a precision.",
    )
    need(
        numeric or v.get("scale") is None,
        "scale",
        "Only decimal, currency and percent fields have a scale.",
    )
    if numeric and v.get("precision") is not None and v.get("scale") is not None:
        need(v["scale"] <= v["precision"], "scale", "The scale cannot exceed the precision.")
    need(
        (t == "lookup") == (v.get("lookup") is not None),
        "lookup",
        "A lookup field (and only one) has lookup settings.",
    )
    need(
        (t == "formula") == (v.get("formula") is not None),
        "formula",
        "A formula field (and only one) has formula settings.",
    )
    need(
        (t == "auto_number") == (v.get("auto_number") is not None),
        "auto_number",
        "An auto-number field (and only one) has auto_number settings.",
    )
    need(not v.get("unique") or t in UNIQUE_TYPES, "unique", f"A {t} field cannot be unique.")
    need(t not in NO_DEFAULT or v.get("default") is None, "default", f"A {t} field has no default.")
    need(
        not (v.get("required") and t in ("formula", "auto_number")),
        "required",
        "Computed fields cannot be required.",
    )
    formula = v.get("formula") or {}
    if len(formula.get("expression") or "") > MAX_FORMULA_LENGTH:
        need(False, "formula.expression", f"Limit: formulas up to {MAX_FORMULA_LENGTH} characters.")
    if errors:
        names = ", ".join(dict.fromkeys(e["field"] for e in errors))
        raise validation(
            errors, f"The field is not valid: {'; '.join(e['message'] for e in errors)} ({names})."
        )
    if v.get("default") is not None:
        v["default"] = cf.convert(_field_def(v), v["default"], name="default")  # fmt: skip


async def create_field(
    conn: AsyncConnection, actor: Actor, object: str, values: dict[str, Any]
) -> dict[str, Any]:
    object_id, _ = await resolve(conn, actor, object)
    name = values["api_name"]
    check_name(name, "api_name", _reserved_fields(object))
    count = (
        await conn.execute(
            select(func.count())
            .select_from(FIELDS)
            .where(
                FIELDS.c.team_id == actor.team_id,
                FIELDS.c.object_id == object_id,
                FIELDS.c.deleted_at.is_(None),
            )
        )
    ).scalar_one()
    if count >= MAX_FIELDS:
        raise validation(
            [{"field": "api_name", "message": f"Limit reached: {MAX_FIELDS} custom fields."}],
            f"An object has at most {MAX_FIELDS} custom fields (the limit is reached).",
        )
    existing = (
        await conn.execute(
            select(FIELDS.c.deleted_at).where(
                FIELDS.c.team_id == actor.team_id,
                FIELDS.c.object_id == object_id,
                FIELDS.c.api_name == name,
            )
        )
    ).first()
    if existing is not None:
        hint = " (a deleted field holds it: restore it)" if existing.deleted_at else ""
        raise Problem(
            409,
            f"The object has a field named {name!r} already{hint}.",
            title="Conflict",
            errors=[{"field": "api_name", "message": "Already taken."}],
        )
    values["object_id"] = object_id
    _check_spec(values)
    await _check_formula(conn, actor, object, values)
    if values.get("lookup") is not None:
        await _check_lookup(conn, actor, object, values["lookup"])
    values["id"] = new_id("cfld")
    values["index_state"] = "building" if _wants_index(values) else "none"
    row = await fields.create(conn, actor, values)
    if values["type"] == "auto_number":
        await _counter(conn, actor, row["id"], values["auto_number"].get("start", 1))
    return row


async def _check_lookup(
    conn: AsyncConnection, actor: Actor, object: str, lookup: dict[str, Any]
) -> None:
    target = lookup["object"]
    if target not in STANDARD_OBJECTS:
        await get_object(conn, actor, target)
    lookup.setdefault("relationship_name", None)
    if not lookup["relationship_name"]:
        lookup["relationship_name"] = object
    check_name(lookup["relationship_name"], "lookup.relationship_name")
    clash = await conn.execute(
        select(FIELDS.c.id).where(
            FIELDS.c.team_id == actor.team_id,
            FIELDS.c.type == "lookup",
            FIELDS.c.lookup["object"].astext == target,
            FIELDS.c.lookup["relationship_name"].astext == lookup["relationship_name"],
        )
    )
    if clash.first() is not None:
        raise Problem(
            409,
            f"{target} has a related list named {lookup['relationship_name']!r} already.",
            title="Conflict",
            errors=[{"field": "lookup.relationship_name", "message": "Already taken."}],
        )


async def _check_formula(
    conn: AsyncConnection, actor: Actor, object: str, values: Mapping[str, Any]
) -> None:
    """A formula field's expression type-checks against the object (422 naming the position)."""
    if values["type"] != "formula":
        return
    if object in STANDARD_OBJECTS:
        raise validation(
            [{"field": "type", "message": "Formula fields are for custom objects (for now)."}]
        )
    spec = values["formula"]
    t = await custom_formulas.team(conn, actor)
    field = formulas.Field(
        values["api_name"], "formula", None, spec["expression"], spec["return_type"]
    )
    schema = t.schema(object, extra=field)
    try:
        formulas.check(spec["expression"], schema, spec["return_type"], field=values["api_name"])
    except formulas.FormulaError as e:
        raise e.problem("formula.expression") from None


def _wants_index(v: Mapping[str, Any]) -> bool:
    return bool(v.get("indexed") or v.get("unique") or v.get("type") == "lookup")


async def update_field(
    conn: AsyncConnection,
    actor: Actor,
    object: str,
    api_name: str,
    values: dict[str, Any],
    if_match: int | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Change a field (a type only along a safe conversion): (before, after)."""
    object_id, _ = await resolve(conn, actor, object)
    current = await get_field(conn, actor, object_id, api_name)
    new_type = values.get("type", current["type"])
    if new_type != current["type"] and (current["type"], new_type) not in SAFE_CONVERSIONS:
        raise validation(
            [{"field": "type", "message": f"Cannot convert {current['type']} to {new_type}."}],
            f"{current['type']} → {new_type} is not a safe conversion (stored values would not "
            "fit): create a new field and copy the values instead.",
        )
    merged = {**current, **values}
    _check_spec(merged)
    await _check_formula(conn, actor, object, merged)
    if "default" in values:
        values["default"] = merged["default"]
    if index_changes(current, merged):
        values["index_state"] = "building" if _wants_index(merged) else "none"
    row = await fields.update(conn, actor, current["id"], values, if_match=if_match)
    return current, row


def index_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    return any(before[k] != after[k] for k in ("indexed", "unique", "type"))


async def delete_field(
    conn: AsyncConnection, actor: Actor, object: str, api_name: str, if_match: int | None
) -> None:
    object_id, _ = await resolve(conn, actor, object)
    current = await get_field(conn, actor, object_id, api_name)
    await fields.delete(conn, actor, current["id"], if_match=if_match)


async def restore_field(
    conn: AsyncConnection, actor: Actor, object: str, api_name: str
) -> dict[str, Any]:
    object_id, _ = await resolve(conn, actor, object)
    current = await get_field(conn, actor, object_id, api_name, deleted=True)
    return await fields.restore(conn, actor, current["id"])


def index_plan(
    before: Mapping[str, Any] | None, after: Mapping[str, Any]
) -> tuple[list[tuple[str, str]], list[str]]:
    """(indexes to build as (ddl, name), indexes to drop) after a field changed from
    ``before`` (None: created) to ``after``."""
    table = "custom_records" if after["object_id"] not in STANDARD_OBJECTS else after["object_id"]
    new, old = cf.FieldDef.of({**after, "deleted_at": None}), None
    if before is not None:
        old = cf.FieldDef.of({**before, "deleted_at": None})
    build: list[tuple[str, str]] = []
    drop: list[str] = []
    retyped = old is not None and old.type != new.type
    for unique, wanted in ((True, new.unique), (False, new.indexed or new.type == "lookup")):
        had = old is not None and (old.unique if unique else (old.indexed or old.type == "lookup"))
        if had and (not wanted or retyped):
            drop.append(cf.index_name(old, unique))
        if wanted and (not had or retyped):
            build.append((cf.index_ddl(new, unique, table), cf.index_name(new, unique)))
    return build, drop


async def build_indexes(
    conn_factory: Any, actor: Actor, before: Mapping[str, Any] | None, after: Mapping[str, Any]
) -> dict[str, Any]:
    """Build (concurrently, outside any transaction) the indexes ``after`` needs and drop those
    it no longer does; then mark the field ``ready``. A unique index that cannot be built
    (stored values clash) turns ``unique`` off again and raises 409. ``conn_factory()``: a new
    tenant transaction for the bookkeeping."""
    build, drop = index_plan(before, after)
    for name in drop:
        await ddl.drop_index(name)
    failed: str | None = None
    for statement, name in build:
        try:
            await ddl.create_index(statement, name)
        except psycopg.errors.UniqueViolation:
            failed = name
    async with conn_factory() as conn:
        current = await fields.get(conn, actor, after["id"])
        change: dict[str, Any] = {}
        if failed is not None:
            change["unique"] = False
        if current["index_state"] == "building":
            change["index_state"] = "ready" if _wants_index({**current, **change}) else "none"
        row = await fields.apply(conn, actor, current, change, "indexed") if change else current
    if failed is not None:
        raise Problem(
            409,
            f"Records of this object already share values of {after['api_name']}: it cannot be "
            "unique until they differ.",
            title="Conflict",
            errors=[{"field": "unique", "message": "Stored values clash."}],
        )
    return row
