"""Page layouts and list views of every object (custom or standard), and the global search
across objects."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import case, func, or_
from sqlalchemy.ext.asyncio import AsyncConnection

from api.accounts.service import account_service
from api.common.guards import require_role
from api.common.listing import parse_params
from api.common.records import RecordService
from api.common.refs import plausible_id
from api.contacts.service import contact_service
from api.custom import metadata
from api.custom import records as custom_records
from api.deals.service import deal_service
from api.leads.service import lead_service
from api.tasks.service import task_service
from leadly.actor import Actor
from leadly.ids import new_id
from leadly.problem import Problem, validation
from warehouse.models.custom import STANDARD_OBJECTS, Layout, ListView

LAYOUTS = Layout.__table__
VIEWS = ListView.__table__
STANDARD_SERVICES: dict[str, RecordService] = {
    "leads": lead_service,
    "contacts": contact_service,
    "accounts": account_service,
    "deals": deal_service,
    "tasks": task_service,
}


class LayoutService(RecordService):
    table = LAYOUTS
    object_type = "layout"
    plural = "layouts"
    prefix = "lay"


class ListViewService(RecordService):
    table = VIEWS
    object_type = "list_view"
    plural = "list_views"
    prefix = "lv"


layouts = LayoutService()
views = ListViewService()


async def field_names(conn: AsyncConnection, actor: Actor, object: str) -> set[str]:
    """The fields of ``object`` a layout or a list view may name (404: no such object)."""
    object_id, _ = await metadata.resolve(conn, actor, object)
    custom = {r["api_name"] for r in await metadata.field_rows(conn, actor, object_id)}
    if object in STANDARD_OBJECTS:
        return set(STANDARD_SERVICES[object].public_columns) | {f"custom.{c}" for c in custom}
    return set(custom_records.STANDARD) | custom


# ---------------------------------------------------------------------------- layouts


async def _check_sections(
    conn: AsyncConnection, actor: Actor, object: str, sections: list[dict[str, Any]]
) -> None:
    known = await field_names(conn, actor, object)
    errors = [
        {"field": f"sections[{i}].fields", "message": f"No field {name!r} on {object}."}
        for i, s in enumerate(sections)
        for name in s["fields"]
        if name not in known
    ]
    if errors:
        raise validation(errors, f"A layout names fields {object} does not have.")


async def create_layout(
    conn: AsyncConnection, actor: Actor, values: dict[str, Any]
) -> dict[str, Any]:
    metadata.check_admin(actor)
    await _check_sections(conn, actor, values["object"], values["sections"])
    return await layouts.create(conn, actor, {**values, "id": new_id("lay")})


async def update_layout(
    conn: AsyncConnection, actor: Actor, id: str, values: dict[str, Any], if_match: int | None
) -> dict[str, Any]:
    metadata.check_admin(actor)
    current = await layouts.get(conn, actor, id)
    if "sections" in values:
        await _check_sections(conn, actor, current["object"], values["sections"])
    return await layouts.update(conn, actor, id, values, if_match=if_match)


# ---------------------------------------------------------------------------- list views


def _visible(actor: Actor) -> Any:
    return or_(VIEWS.c.visibility == "team", VIEWS.c.owner_id == actor.member_id)


async def get_view(
    conn: AsyncConnection, actor: Actor, id: str, *, write: bool = False
) -> dict[str, Any]:
    """A list view the actor may see (404 otherwise); ``write``: and may change (a personal
    view: its owner; a team view: its owner or an admin)."""
    row = None
    if plausible_id(id):
        q = views._scoped(actor).where(VIEWS.c.id == id, _visible(actor))
        row = (await conn.execute(q)).first()
    if row is None:
        raise Problem(404, f"No list view {id!r}.")
    view = dict(row._mapping)
    if write and view["owner_id"] != actor.member_id:
        require_role(actor, "admin")
    return view


async def list_views(
    conn: AsyncConnection, actor: Actor, object: str | None
) -> list[dict[str, Any]]:
    q = views._scoped(actor).where(_visible(actor))
    if object is not None:
        q = q.where(VIEWS.c.object == object)
    return [dict(r._mapping) for r in await conn.execute(q.order_by(VIEWS.c.name, VIEWS.c.id))]


def _params(view: Mapping[str, Any], query: Mapping[str, Any] | None = None) -> Any:
    items = {f"filter[{k}]": str(v) for k, v in (view.get("filters") or {}).items()}
    if view.get("sort"):
        items["sort"] = view["sort"]
    if view.get("columns"):
        items["fields"] = ",".join(view["columns"])
    for k in ("limit", "cursor"):
        if query is not None and query.get(k) is not None:
            items[k] = query[k]
    return parse_params(items)


async def run_view(
    conn: AsyncConnection,
    actor: Actor,
    view: Mapping[str, Any],
    query: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The records of a list view: its filters, sort and columns, the page ``query`` asks for."""
    params = _params(view, query)
    if view["object"] in STANDARD_OBJECTS:
        return await STANDARD_SERVICES[view["object"]].list(conn, actor, params)
    service = await custom_records.for_object(conn, actor, view["object"])
    return await service.list_records(conn, actor, params)


async def _check_view(conn: AsyncConnection, actor: Actor, view: Mapping[str, Any]) -> None:
    """A view's columns, filters and sort must work on its object: run it once (422 naming the
    part that does not)."""
    try:
        async with conn.begin_nested():
            await run_view(conn, actor, view, {"limit": "1"})
    except Problem as p:
        if p.status != 400:
            raise
        raise validation([{"field": "filters", "message": p.detail}], p.detail) from None


async def create_view(
    conn: AsyncConnection, actor: Actor, values: dict[str, Any]
) -> dict[str, Any]:
    await metadata.resolve(conn, actor, values["object"])
    values = {**values, "owner_id": actor.member_id, "id": new_id("lv")}
    await _check_view(conn, actor, values)
    return await views.create(conn, actor, values)


async def update_view(
    conn: AsyncConnection, actor: Actor, id: str, values: dict[str, Any], if_match: int | None
) -> dict[str, Any]:
    current = await get_view(conn, actor, id, write=True)
    await _check_view(conn, actor, {**current, **values})
    return await views.update(conn, actor, id, values, if_match=if_match)


async def delete_view(conn: AsyncConnection, actor: Actor, id: str, if_match: int | None) -> None:
    await get_view(conn, actor, id, write=True)
    await views.delete(conn, actor, id, if_match=if_match)


# ---------------------------------------------------------------------------- search

#: Each standard object's searchable fields, and what names a match.
STANDARD_SEARCH = {
    "leads": (("first_name", "last_name", "email", "company_name"), ("first_name", "last_name")),
    "contacts": (("first_name", "last_name", "email"), ("first_name", "last_name")),
    "accounts": (("name", "domain"), ("name",)),
    "deals": (("name",), ("name",)),
    "tasks": (("title",), ("title",)),
}
MAX_SEARCH = 50


def _rank(columns: list[Any], q: str) -> Any:
    """3 for an exact match of a field, 2 for a prefix, 1 for a substring (case-insensitive)."""
    needle = q.lower()
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    parts = [
        case(
            (func.lower(c) == needle, 3),
            (func.lower(c).like(f"{escaped}%", escape="\\"), 2),
            (func.lower(c).like(f"%{escaped}%", escape="\\"), 1),
            else_=0,
        )
        for c in columns
    ]
    return func.greatest(*parts) if len(parts) > 1 else parts[0]


async def search(conn: AsyncConnection, actor: Actor, q: str, limit: int) -> list[dict[str, Any]]:
    """Records of every object (standard and custom) whose searchable fields hold ``q``, best
    first (exact, prefix, substring; then the most recently updated), each object read as the
    actor may read it."""
    found: list[dict[str, Any]] = []
    for plural, (fields, title) in STANDARD_SEARCH.items():
        service = STANDARD_SERVICES[plural]
        t = service.table
        rank = _rank([t.c[f] for f in fields], q)
        label = func.concat_ws(" ", *[t.c[f] for f in title])
        stmt = service._scoped(actor).with_only_columns(
            t.c.id, label.label("title"), rank.label("rank"), t.c.updated_at
        )
        found += await _matches(conn, stmt, rank, t.c.updated_at, plural, limit)
    for obj in await metadata.list_objects(conn, actor):
        service = await custom_records.for_object(conn, actor, obj["api_name"])
        t = service.table
        names = [n for n in obj["searchable_fields"] if n != "name" and n in service.by_name]
        columns = [t.c.name] + [t.c.data[n].astext for n in names]
        rank = _rank(columns, q)
        stmt = service._scoped(actor).with_only_columns(
            t.c.id, t.c.name.label("title"), rank.label("rank"), t.c.updated_at
        )
        found += await _matches(conn, stmt, rank, t.c.updated_at, obj["api_name"], limit)
    found.sort(key=lambda r: (-r["rank"], -r["updated_at"].timestamp()))
    return found[:limit]


async def _matches(
    conn: AsyncConnection, stmt: Any, rank: Any, updated: Any, object: str, limit: int
) -> list[dict[str, Any]]:
    rows = await conn.execute(
        stmt.where(rank > 0).order_by(rank.desc(), updated.desc()).limit(limit)
    )
    return [
        {"object": object, "id": r.id, "title": r.title, "rank": r.rank, "updated_at": r.updated_at}
        for r in rows
    ]
