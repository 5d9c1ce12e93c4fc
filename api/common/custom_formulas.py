"""Formula fields and validation rules of an object, through :mod:`api.formulas`.

The team's objects as formulas see them (:func:`schemas`): a custom object's standard fields
and custom fields; a standard object's own columns (its ``account_id``, ``contact_id``,
``lead_id`` and ``deal_id`` also as the lookups ``account``, ``contact``, ``lead``, ``deal``)
and its custom fields. A formula's value is computed when a record is read (so it is always
current, across lookups too); the related records it reads are fetched as the evaluation asks
for them (:func:`evaluate`). Validation rules run in the write path (:func:`check_rules`).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import ARRAY, Boolean, Date, DateTime, Integer, Numeric, select
from sqlalchemy.ext.asyncio import AsyncConnection

from api import formulas
from api.common import custom_fields as cf
from leadly.actor import Actor
from leadly.problem import validation
from warehouse.models.custom import CustomValidationRule

RULES = CustomValidationRule.__table__
#: A standard object's reference columns, as the lookups formulas name (``account.industry``).
STANDARD_LOOKUPS = {
    "account_id": ("account", "accounts"),
    "contact_id": ("contact", "contacts"),
    "lead_id": ("lead", "leads"),
    "deal_id": ("deal", "deals"),
}
#: The standard fields of every custom record.
RECORD_FIELDS = (
    formulas.Field("name", "text"),
    formulas.Field("owner_id", "text"),
    formulas.Field("created_at", "datetime"),
    formulas.Field("updated_at", "datetime"),
)
MAX_ROUNDS = 12  # lookup hops a formula may walk


def _column_type(column: Any) -> str | None:
    t = column.type
    for sql, name in (
        (Boolean, "boolean"),
        (DateTime, "datetime"),
        (Date, "date"),
        (Integer, "integer"),
        (Numeric, "decimal"),
        (ARRAY, None),
    ):
        if isinstance(t, sql):
            return name
    return "text"


def _field(f: Mapping[str, Any]) -> formulas.Field:
    if f["type"] == "formula":
        spec = f["formula"] or {}
        return formulas.Field(
            f["api_name"], "formula", None, spec.get("expression"), spec.get("return_type")
        )
    target = (f["lookup"] or {}).get("object") if f["type"] == "lookup" else None
    return formulas.Field(f["api_name"], f["type"], target)


def _native(plural: str) -> list[formulas.Field]:
    out = []
    for c in cf.STANDARD_TABLES[plural].c:
        if c.name in ("team_id", "custom", "deleted_at") or c.name.endswith("_normalized"):
            continue
        kind = _column_type(c)
        if kind is not None:
            out.append(formulas.Field(c.name, kind))
        if c.name in STANDARD_LOOKUPS:
            name, target = STANDARD_LOOKUPS[c.name]
            out.append(formulas.Field(name, "lookup", target))
    return out


class Team:
    """The team's objects for formulas: schemas, and the related records evaluations read
    (cached for one request)."""

    def __init__(self, objects: Mapping[str, str], rows: list[Mapping[str, Any]]) -> None:
        self.objects = dict(objects)  # custom api name → id
        self.rows = rows
        self._schemas: dict[str, formulas.Schema | None] = {}
        self.records: dict[tuple[str, Any], dict[str, Any] | None] = {}

    def key(self, object: str) -> str | None:
        """The ``object_id`` fields of ``object`` (an api name or a standard plural) carry."""
        return object if object in cf.STANDARD_TABLES else self.objects.get(object)

    def schema(self, object: str, *, extra: formulas.Field | None = None) -> formulas.Schema | None:
        """``object``'s schema (``extra``: a field being saved, replacing its namesake)."""
        if extra is None and object in self._schemas:
            return self._schemas[object]
        key = self.key(object)
        if key is None:
            return None
        base = _native(object) if object in cf.STANDARD_TABLES else list(RECORD_FIELDS)
        fields = {f.api_name: f for f in base}
        fields.update({r["api_name"]: _field(r) for r in self.rows if r["object_id"] == key})
        if extra is not None:
            fields[extra.api_name] = extra
        found = formulas.Schema(object, fields, self.schema)
        if extra is None:
            self._schemas[object] = found
        return found

    def formulas_of(self, object: str) -> list[tuple[str, formulas.Checked]]:
        """The formula fields of ``object``, checked."""
        key = self.key(object)
        schema = self.schema(object)
        out = []
        for r in self.rows:
            if r["object_id"] == key and r["type"] == "formula" and schema is not None:
                spec = r["formula"] or {}
                try:
                    checked = formulas.check(
                        spec["expression"], schema, spec["return_type"], field=r["api_name"]
                    )
                except formulas.FormulaError:
                    continue  # a field it read changed since: the formula reads as null
                out.append((r["api_name"], checked))
        return out


async def team(conn: AsyncConnection, actor: Actor) -> Team:
    rows = await conn.execute(
        select(cf.FIELDS).where(
            cf.FIELDS.c.team_id == actor.team_id, cf.FIELDS.c.deleted_at.is_(None)
        )
    )
    return Team(await cf.object_targets(conn, actor), [dict(r._mapping) for r in rows])


async def _fetch(
    conn: AsyncConnection, actor: Actor, t: Team, object: str, id: Any
) -> dict[str, Any] | None:
    """A related record as formulas read it (fields by api name; standard lookups by name)."""
    if not isinstance(id, str):
        return None
    table = cf.STANDARD_TABLES.get(object)
    if table is None:
        oid = t.objects.get(object)
        if oid is None:
            return None
        table = cf.RECORDS
        q = select(table).where(table.c.object_id == oid)
    else:
        q = select(table)
    q = q.where(table.c.team_id == actor.team_id, table.c.id == id, table.c.deleted_at.is_(None))
    row = (await conn.execute(q)).first()
    if row is None:
        return None
    found = dict(row._mapping)
    return flat(found, "data" if "data" in found else "custom")


async def evaluate(
    conn: AsyncConnection,
    actor: Actor,
    t: Team,
    checked: formulas.Checked,
    record: Mapping[str, Any],
    prior: Mapping[str, Any] | None = None,
) -> Any:
    """``checked`` for ``record``, fetching the related records it reads (several rounds when
    it walks lookups of lookups); ``prior``: a validation rule's record before the change."""
    for _ in range(MAX_ROUNDS):
        misses: set[tuple[str, Any]] = set()

        def lookup(
            object: str, id: Any, misses: set[tuple[str, Any]] = misses
        ) -> dict[str, Any] | None:
            if (object, id) in t.records:
                return t.records[(object, id)]
            misses.add((object, id))
            return None

        before = dict(prior) if prior is not None else None
        value = formulas.evaluate(checked, dict(record), lookup=lookup, prior=before)
        if not misses:
            return value
        for object, id in misses:
            t.records[(object, id)] = await _fetch(conn, actor, t, object, id)
    return None


def shown(value: Any) -> Any:
    """A formula's value as the API shows it (decimals as strings, like stored decimals)."""
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


async def compute(
    conn: AsyncConnection, actor: Actor, t: Team, object: str, records: list[dict[str, Any]]
) -> None:
    """Fill each record's formula fields (those it shows) with their current values."""
    checked = t.formulas_of(object)
    for r in records:
        for name, c in checked:
            if name in r:
                r[name] = shown(await evaluate(conn, actor, t, c, r))


async def check_rules(
    conn: AsyncConnection,
    actor: Actor,
    object: str,
    record: Mapping[str, Any],
    prior: Mapping[str, Any] | None,
    *,
    key: str | None = None,
) -> None:
    """Run ``object``'s active validation rules (``object``: a custom object's api name or a
    standard plural; ``key``: its fields' ``object_id`` when the caller knows it) on ``record``
    as it would be saved (``prior``: as it is, None for a new one): a 422 with
    ``errors: [{field, message}]`` for every rule whose condition is true."""
    key = key or (object if object in cf.STANDARD_TABLES else None)
    if key is None:
        key = (await cf.object_targets(conn, actor)).get(object)
    rules = (
        await conn.execute(
            select(RULES)
            .where(
                RULES.c.team_id == actor.team_id,
                RULES.c.object_id == key,
                RULES.c.active.is_(True),
                RULES.c.deleted_at.is_(None),
            )
            .order_by(RULES.c.created_at, RULES.c.id)
        )
    ).all()
    if not rules:
        return
    t = await team(conn, actor)
    schema = t.schema(object)
    errors = []
    for rule in rules:
        if schema is None:
            break
        try:
            checked = formulas.check_rule(rule.condition, schema)
        except formulas.FormulaError:
            continue  # a rule a later field change broke: its metadata shows it, not enforced
        if await evaluate(conn, actor, t, checked, record, prior) is True:
            errors.append({"field": rule.error_field or "$", "message": rule.message})
    if errors:
        raise validation(errors, "; ".join(e["message"] for e in errors))


def flat(record: Mapping[str, Any] | None, values_key: str) -> dict[str, Any] | None:
    """A stored record as formulas read it: its custom values (``data`` / ``custom``) beside
    its own fields, its reference columns also under their lookup names."""
    if record is None:
        return None
    out = {k: v for k, v in record.items() if k != values_key}
    for column, (name, _) in STANDARD_LOOKUPS.items():
        if column in out:
            out[name] = out[column]
    return {**out, **(record.get(values_key) or {})}


async def check_standard_rules(
    conn: AsyncConnection,
    actor: Actor,
    plural: str,
    values: Mapping[str, Any],
    current: Mapping[str, Any] | None,
) -> None:
    """The validation rules of a standard object on a create or update (``values`` over
    ``current``)."""
    if plural not in cf.STANDARD_TABLES:
        return
    merged = {**(current or {}), **values}
    await check_rules(conn, actor, plural, flat(merged, "custom") or {}, flat(current, "custom"))


# ---------------------------------------------------------------------------- SQL


def _own_sql(t: Team, object: str, alias: str, name: str) -> str:
    """The typed SQL of field ``name`` of ``object`` read from the row ``alias``."""
    key = t.key(object)
    row = next((r for r in t.rows if r["object_id"] == key and r["api_name"] == name), None)
    values = "custom" if object in cf.STANDARD_TABLES else "data"
    if row is None:  # a standard field (a column), or a standard lookup's name
        column = next((c for c, (n, _) in STANDARD_LOOKUPS.items() if n == name), name)
        return f"{alias}.{column}"
    f = cf.FieldDef.of(row)
    if f.type == "multi_picklist":
        raw = f"{alias}.{values} -> '{f.api_name}'"
        return (
            "ARRAY(SELECT jsonb_array_elements_text(CASE jsonb_typeof(" + raw + ") WHEN 'string' "
            f"THEN jsonb_build_array({raw}) ELSE {raw} END))"
        )
    return cf.expression_sql(f, f"{alias}.{values}")


def _target(t: Team, object: str, lookup: str) -> str | None:
    key = t.key(object)
    row = next(
        (
            r
            for r in t.rows
            if r["object_id"] == key and r["api_name"] == lookup and r["type"] == "lookup"
        ),
        None,
    )
    if row is not None:
        return (row["lookup"] or {}).get("object")
    found = [tgt for c, (n, tgt) in STANDARD_LOOKUPS.items() if n == lookup]
    return found[0] if found else None


def to_sql(t: Team, object: str, checked: formulas.Checked, alias: str) -> Any:
    """``checked`` (a formula of ``object``) as SQL over the row ``alias``: own fields typed as
    their indexes read them, fields across lookups as scalar subqueries (team-scoped)."""

    def column(name: str) -> str:
        return _own_sql(t, object, alias, name)

    def lookup_sql(path: tuple[str, ...]) -> str:
        current, outer = object, alias
        chain: list[tuple[str, str, str]] = []  # (table, alias, id expression)
        for depth, name in enumerate(path[:-1], start=1):
            target = _target(t, current, name)
            if target is None:
                return "NULL"
            inner = f"lk{depth}"
            table = target if target in cf.STANDARD_TABLES else "custom_records"
            chain.append((table, inner, _own_sql(t, current, outer, name)))
            current, outer = target, inner
        expr = _own_sql(t, current, outer, path[-1])
        for table, inner, ref in reversed(chain):
            expr = (
                f"(SELECT {expr} FROM app.{table} {inner} WHERE {inner}.team_id = {alias}.team_id "
                f"AND {inner}.id = {ref} AND {inner}.deleted_at IS NULL)"
            )
        return expr

    return formulas.to_sql(checked, column=column, lookup_sql=lookup_sql)
