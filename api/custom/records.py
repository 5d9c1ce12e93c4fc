"""Records of custom objects: the core's record service over ``custom_records``, one object at a
time, with the object's fields at the top level of each record.

Field values are stored in ``data``; events carry each field as its own change (``{"hours":
[2, 3]}``), so history, ``as_of`` and timelines read like a standard object's. Lists filter and
sort on each field's typed expression (the one its expression index holds), through the core's
:class:`~api.common.listing.Lister`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import literal_column, select
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common import custom_fields as cf
from api.common import custom_formulas
from api.common.listing import Lister, ListParams
from api.common.records import RecordService, check_writable
from api.custom import metadata
from leadly.actor import Actor
from leadly.problem import Problem, validation
from warehouse.events import EventRecord
from warehouse.models.custom import STANDARD_OBJECTS

RECORDS = cf.RECORDS
STANDARD = (
    "id",
    "name",
    "owner_id",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
    "version",
)
WRITABLE = frozenset({"name", "owner_id"})
MAX_CASCADE = 5


class CustomRecordService(RecordService):
    """The record service of one custom object (an instance per object)."""

    table = RECORDS
    object_type = "custom_record"
    plural = "custom_records"
    prefix = "rec"
    read_only: ClassVar[frozenset[str]] = frozenset(
        {"id", "created_at", "created_by", "updated_at", "updated_by", "version"}
    )

    def __init__(self, obj: Mapping[str, Any], fields: list[cf.FieldDef]) -> None:
        self.obj = obj
        self.object_type = obj["api_name"]
        self.fields = fields
        self.live = [f for f in fields if not f.deleted]
        self.by_name = {f.api_name: f for f in self.live}
        assert cf._ID.match(obj["id"])
        self.object_filter = RECORDS.c.object_id == literal_column(f"'{obj['id']}'")

    def _scoped(self, actor: Actor, *, include_deleted: bool = False) -> Any:
        return super()._scoped(actor, include_deleted=include_deleted).where(self.object_filter)

    def _event(
        self,
        actor: Actor,
        id: str,
        action: str,
        changes: dict[str, list[Any]],
        data: dict[str, Any] | None = None,
    ) -> EventRecord:
        """Each field of ``data`` as its own change; ``object_id`` stays out (it never changes)."""
        changes = dict(changes)
        changes.pop("object_id", None)
        before, after = changes.pop("data", [None, None])
        before, after = before or {}, after or {}
        for key in sorted(set(before) | set(after)):
            if before.get(key) != after.get(key):
                changes[key] = [before.get(key), after.get(key)]
        return super()._event(actor, id, action, changes, data)

    def from_state(self, state: Mapping[str, Any]) -> dict[str, Any]:
        row = super().from_state(state)
        row["data"] = {f.api_name: state.get(f.api_name) for f in self.fields}
        return self.out(row)

    # ------------------------------------------------------------------ shapes

    def out(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A stored row as the API shows it: standard fields, then every live field."""
        return {k: row.get(k) for k in STANDARD} | cf.shown(self.live, row.get("data") or {})

    def typed_lister(
        self,
        actor: Actor,
        extra: Iterable[Any] = (),
        team: custom_formulas.Team | None = None,
    ) -> tuple[Lister, Any]:
        """A lister over the object's typed fields (formulas compiled to SQL when ``team`` is
        given: filtering and sorting on them), and the select it applies to."""
        column = f"{RECORDS.name}.data"
        typed = [
            cf.expression(f, column).label(f.api_name) for f in self.live if f.type != "formula"
        ]
        if team is not None:
            for name, checked in team.formulas_of(self.obj["api_name"]):
                sql = custom_formulas.to_sql(team, self.obj["api_name"], checked, RECORDS.name)
                typed.append(sql.label(name))
        sub = self._scoped(actor).where(*extra).add_columns(*typed).subquery("r")
        columns = {k: sub.c[k] for k in STANDARD} | {c.name: sub.c[c.name] for c in typed}
        return Lister(columns, sub.c.id), select(sub)

    # ------------------------------------------------------------------ reads

    async def list_records(
        self, conn: AsyncConnection, actor: Actor, params: ListParams, extra: Iterable[Any] = ()
    ) -> dict[str, Any]:
        team = None
        if any(f.type == "formula" for f in self.live) and _names_formula(params, self.live):
            team = await custom_formulas.team(conn, actor)
        lister, base = self.typed_lister(actor, extra, team)
        stmt, keys = lister.apply(base, params)
        rows = (await conn.execute(stmt)).all()
        page = lister.page(rows, keys, params, lambda r: self.out(r._mapping))
        await self.present(conn, actor, page["data"])
        return page

    async def present(
        self, conn: AsyncConnection, actor: Actor, rows: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """``rows`` (as :meth:`out` shows them) with their formula fields' current values."""
        if any(f.type == "formula" for f in self.live):
            t = await custom_formulas.team(conn, actor)
            await custom_formulas.compute(conn, actor, t, self.obj["api_name"], rows)
        return rows

    async def show(
        self, conn: AsyncConnection, actor: Actor, row: Mapping[str, Any]
    ) -> dict[str, Any]:
        return (await self.present(conn, actor, [self.out(row)]))[0]

    # ------------------------------------------------------------------ writes

    async def values(
        self,
        conn: AsyncConnection,
        actor: Actor,
        body: Mapping[str, Any],
        current: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        """A body (standard and custom fields at the top level) as the row's values."""
        check_writable(
            {k: v for k, v in body.items() if k in self.read_only}, read_only=self.read_only
        )
        standard = {k: v for k, v in body.items() if k in WRITABLE}
        given = {k: v for k, v in body.items() if k not in WRITABLE}
        auto_name = self.obj["record_name"].get("type") == "auto_number"
        errors = []
        if "name" in standard:
            name = standard["name"]
            if auto_name:
                errors.append(
                    {"field": "name", "message": "The name is an auto-number: read-only."}
                )
            elif not isinstance(name, str) or not name.strip() or len(name) > 255 or "\x00" in name:
                errors.append(
                    {"field": "name", "message": "Expected a name (1 to 255 characters)."}
                )
        elif current is None and not auto_name:
            errors.append({"field": "name", "message": "This field is required."})
        owner = standard.get("owner_id")
        if owner is not None and not (isinstance(owner, str) and cf._ID.match(owner)):
            errors.append({"field": "owner_id", "message": "Expected a member id."})
        if errors:
            raise validation(
                errors, f"The request is not valid: check {', '.join(e['field'] for e in errors)}."
            )
        stored = (current or {}).get("data") or {}
        data = cf.check(self.live, given, None if current is None else stored, strict=True)
        await cf.check_lookups(conn, actor, self.live, data, stored)
        if current is None:
            for f in self.live:
                if f.type == "auto_number":
                    number = await metadata.next_number(conn, actor, f.id)
                    fmt = (await metadata.get_field(conn, actor, f.object_id, f.api_name))[
                        "auto_number"
                    ]
                    data[f.api_name] = metadata.format_number(fmt["format"], number)
            if auto_name:
                number = await metadata.next_number(conn, actor, self.obj["id"])
                standard["name"] = metadata.format_number(self.obj["record_name"]["format"], number)
        merged = {**(current or {}), **standard, "data": data}
        await custom_formulas.check_rules(
            conn,
            actor,
            self.obj["api_name"],
            custom_formulas.flat(merged, "data") or {},
            custom_formulas.flat(current, "data"),
            key=self.obj["id"],
        )
        out = {**standard, "data": data}
        if current is None:
            out["object_id"] = self.obj["id"]
        if actor.actor_type != "system":
            out["updated_by"] = actor.member_id
        return out

    async def create_record(
        self, conn: AsyncConnection, actor: Actor, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        values = await self.values(conn, actor, body, None)
        return await self.show(conn, actor, await self.create(conn, actor, values))

    async def update_record(
        self,
        conn: AsyncConnection,
        actor: Actor,
        id: str,
        body: Mapping[str, Any],
        if_match: int | None,
    ) -> dict[str, Any]:
        current = await self.get(conn, actor, id, for_update=True)
        values = await self.values(conn, actor, body, current)
        row = await self.update(conn, actor, id, values, if_match=if_match, allow=("updated_by",))
        return await self.show(conn, actor, row)

    async def delete_record(
        self, conn: AsyncConnection, actor: Actor, id: str, if_match: int | None, depth: int = 0
    ) -> None:
        """Delete a record after the delete rules of the lookups naming it: ``restrict`` → 409,
        ``set_null`` clears them, ``cascade`` deletes those records too."""
        await self.get(conn, actor, id, for_update=True)
        for source, f in await referencing(conn, actor, self.obj["api_name"]):
            rule = (f.lookup or {}).get("on_delete", "restrict")
            ids = await source.referring(conn, actor, f, id)
            if not ids:
                continue
            if rule == "restrict":
                raise Problem(
                    409,
                    f"{len(ids)} {source.obj['api_name']} record(s) point at this record through "
                    f"{f.api_name} (delete rule restrict).",
                    title="Conflict",
                    errors=[{"field": f.api_name, "message": "Records still point here."}],
                )
            for rid in ids:
                if rule == "cascade":
                    if depth >= MAX_CASCADE:
                        raise Problem(
                            409, "Cascading deletes go deeper than 5 levels.", title="Conflict"
                        )
                    await source.delete_record(conn, actor, rid, None, depth + 1)
                else:
                    current = await source.get(conn, actor, rid, for_update=True)
                    data = {k: v for k, v in current["data"].items() if k != f.api_name}
                    await source.apply(conn, actor, current, {"data": data}, "updated")
        await self.delete(conn, actor, id, if_match=if_match)

    async def referring(
        self, conn: AsyncConnection, actor: Actor, f: cf.FieldDef, id: str
    ) -> list[str]:
        expr = cf.expression(f, f"{RECORDS.name}.data")
        rows = await conn.execute(
            self._scoped(actor).with_only_columns(RECORDS.c.id).where(expr == id)
        )
        return [r.id for r in rows]


def _names_formula(params: ListParams, fields: list[cf.FieldDef]) -> bool:
    """Whether a list filters or sorts on a formula field."""
    formulas = {f.api_name for f in fields if f.type == "formula"}
    names = {f[0] for f in params.filters} | {s[0] for s in params.sort}
    return bool(names & formulas)


async def for_object(conn: AsyncConnection, actor: Actor, api_name: str) -> CustomRecordService:
    """The record service of the team's custom object ``api_name`` (404 when there is none)."""
    obj = await metadata.get_object(conn, actor, api_name)
    return CustomRecordService(obj, await cf.load(conn, actor.team_id, obj["id"], deleted=True))


async def referencing(
    conn: AsyncConnection, actor: Actor, target: str
) -> list[tuple[CustomRecordService, cf.FieldDef]]:
    """The lookup fields of custom objects that point at ``target`` (an object's api name)."""
    rows = await conn.execute(
        select(metadata.FIELDS).where(
            metadata.FIELDS.c.team_id == actor.team_id,
            metadata.FIELDS.c.deleted_at.is_(None),
            metadata.FIELDS.c.type == "lookup",
            metadata.FIELDS.c.lookup["object"].astext == target,
        )
    )
    found = [cf.FieldDef.of(r._mapping) for r in rows]
    by_id = {o["id"]: o for o in await metadata.list_objects(conn, actor)}
    out = []
    for f in found:
        if f.object_id in STANDARD_OBJECTS or f.object_id not in by_id:
            continue
        obj = by_id[f.object_id]
        out.append(
            (
                CustomRecordService(
                    obj, await cf.load(conn, actor.team_id, obj["id"], deleted=True)
                ),
                f,
            )
        )
    return out


@dataclass(frozen=True)
class Related:
    service: CustomRecordService
    field: cf.FieldDef


async def related(conn: AsyncConnection, actor: Actor, target: str, relationship: str) -> Related:
    """The related list ``relationship`` of ``target``: the object and lookup field behind it."""
    for service, f in await referencing(conn, actor, target):
        if (f.lookup or {}).get("relationship_name") == relationship:
            return Related(service, f)
    raise Problem(404, f"{target} has no related list named {relationship!r}.")
