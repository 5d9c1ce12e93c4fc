"""Custom objects over HTTP: the metadata API (``/api/v1/metadata/objects``) and the records of
each custom object (``/api/v1/objects/{api_name}``)."""

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.params import JSONBody
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.guards import require_scope, values_of
from api.common.listing import check_known_params, parse_params
from api.common.refs import plausible_id
from api.common.scope import tenant_scope
from api.common.validate import value_errors
from api.custom import metadata, rules, views
from api.custom import records as custom_records
from api.custom.schemas import (
    CustomFieldOut,
    CustomObjectOut,
    FieldCreate,
    FieldUpdate,
    LayoutCreate,
    LayoutOut,
    LayoutUpdate,
    ListViewCreate,
    ListViewOut,
    ListViewUpdate,
    ObjectCreate,
    ObjectUpdate,
    RuleCreate,
    RuleOut,
    RuleUpdate,
    SearchResults,
)
from api.web.body import read_body
from api.web.crud import (
    BatchIn,
    BatchOut,
    HistoryPage,
    check_batch,
    check_writable,
    history_params,
    record_params,
    run_batch,
)
from api.web.http import (
    current_actor,
    etag,
    if_match,
    json_response,
    read,
    record_response,
    write,
)
from leadly.actor import Actor
from leadly.problem import Problem, validation

FIELD_KEYS = tuple(f for f in CustomFieldOut.__struct_fields__ if f != "object")
OBJECT_KEYS = CustomObjectOut.__struct_fields__


def _admin_body(struct: Any) -> Callable[[Request], Awaitable[None]]:
    """Admins only (403 before the body is looked at), then the body strictly as ``struct``."""

    async def check(request: Request) -> None:
        metadata.check_admin(request.user)
        await read_body(request, struct)

    return check


def _reader(request: Request, scope: str) -> Actor:
    actor = current_actor(request)
    require_scope(actor, f"{scope}:read")
    return actor


def _admin(request: Request) -> Actor:
    actor = current_actor(request)
    metadata.check_admin(actor)
    return actor


def object_out(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in OBJECT_KEYS}


def field_out(row: dict[str, Any], object: str) -> dict[str, Any]:
    return {"object": object} | {k: row.get(k) for k in FIELD_KEYS}


async def _history(
    request: Request, service: Any, find: Callable[[AsyncConnection, Actor], Awaitable[str]]
) -> Response:
    actor = _reader(request, "metadata")
    after, limit = history_params(request.query_params)

    async def run(conn: AsyncConnection) -> Response:
        id = await find(conn, actor)
        return json_response(await service.history(conn, actor, id, after_id=after, limit=limit))

    return await read(actor, run)


class MetadataController(Controller):
    path = "/api/v1/metadata/objects"
    tags = ["custom objects"]

    @post("/", status_code=201, before_request=_admin_body(ObjectCreate))
    async def create_object(
        self, request: Request, data: JSONBody[ObjectCreate]
    ) -> Response[CustomObjectOut]:
        actor = _admin(request)

        async def run(conn: AsyncConnection) -> Response:
            row = await metadata.create_object(
                conn, actor, values_of(data) | {"record_name": _plain(data.record_name)}
            )
            resp = record_response(object_out(row), 201)
            resp.headers["Location"] = f"{self.path}/{row['api_name']}"
            return resp

        return await write(request, actor, run)

    @get("/")
    async def list_objects(self, request: Request) -> Response[list[CustomObjectOut]]:
        actor = _reader(request, "metadata")

        async def run(conn: AsyncConnection) -> Response:
            rows = await metadata.list_objects(conn, actor)
            return json_response({"data": [object_out(r) for r in rows]})

        return await read(actor, run)

    @get("/{api_name:str}")
    async def get_object(self, request: Request, api_name: str) -> Response[CustomObjectOut]:
        actor = _reader(request, "metadata")

        async def run(conn: AsyncConnection) -> Response:
            return record_response(object_out(await metadata.get_object(conn, actor, api_name)))

        return await read(actor, run)

    @patch("/{api_name:str}", before_request=_admin_body(ObjectUpdate))
    async def update_object(
        self, request: Request, api_name: str, data: JSONBody[ObjectUpdate]
    ) -> Response[CustomObjectOut]:
        actor = _admin(request)
        expected = if_match(request)

        async def run(conn: AsyncConnection) -> Response:
            row = await metadata.update_object(conn, actor, api_name, values_of(data), expected)
            return record_response(object_out(row))

        return await write(request, actor, run)

    @delete("/{api_name:str}", status_code=204)
    async def delete_object(self, request: Request, api_name: str) -> None:
        actor = _admin(request)
        expected = if_match(request)

        async def run(conn: AsyncConnection) -> Response:
            await metadata.delete_object(conn, actor, api_name, expected)
            return Response(content=b"", status_code=204)

        await write(request, actor, run)

    @get("/{api_name:str}/history")
    async def object_history(self, request: Request, api_name: str) -> Response[HistoryPage]:
        async def find(conn: AsyncConnection, actor: Actor) -> str:
            return (await metadata.get_object(conn, actor, api_name))["id"]

        return await _history(request, metadata.objects, find)

    # ------------------------------------------------------------------ fields

    @post("/{object:str}/fields", status_code=201, before_request=_admin_body(FieldCreate))
    async def create_field(
        self, request: Request, object: str, data: JSONBody[FieldCreate]
    ) -> Response[CustomFieldOut]:
        actor = _admin(request)
        values = _plain_values(data)
        made: dict[str, Any] = {}

        async def run(conn: AsyncConnection) -> Response:
            made.update(await metadata.create_field(conn, actor, object, values))
            return record_response(field_out(made, object), 201)

        resp = await write(request, actor, run)
        if made.get("index_state") == "building":
            row = await metadata.build_indexes(lambda: tenant_scope(actor), actor, None, made)
            resp = record_response(field_out(row, object), 201)
        return resp

    @get("/{object:str}/fields")
    async def list_fields(self, request: Request, object: str) -> Response[list[CustomFieldOut]]:
        actor = _reader(request, "metadata")
        deleted = request.query_params.get("deleted", "false").lower() in ("true", "1")

        async def run(conn: AsyncConnection) -> Response:
            object_id, _ = await metadata.resolve(conn, actor, object)
            rows = await metadata.field_rows(conn, actor, object_id, deleted=deleted)
            return json_response({"data": [field_out(r, object) for r in rows]})

        return await read(actor, run)

    @get("/{object:str}/fields/{api_name:str}")
    async def get_field(
        self, request: Request, object: str, api_name: str
    ) -> Response[CustomFieldOut]:
        actor = _reader(request, "metadata")

        async def run(conn: AsyncConnection) -> Response:
            object_id, _ = await metadata.resolve(conn, actor, object)
            row = await metadata.get_field(conn, actor, object_id, api_name)
            return record_response(field_out(row, object))

        return await read(actor, run)

    @patch("/{object:str}/fields/{api_name:str}", before_request=_admin_body(FieldUpdate))
    async def update_field(
        self, request: Request, object: str, api_name: str, data: JSONBody[FieldUpdate]
    ) -> Response[CustomFieldOut]:
        actor = _admin(request)
        expected = if_match(request)
        values = _plain_values(data)
        change: dict[str, Any] = {}

        async def run(conn: AsyncConnection) -> Response:
            before, after = await metadata.update_field(
                conn, actor, object, api_name, values, expected
            )
            change.update(before=before, after=after)
            return record_response(field_out(after, object))

        resp = await write(request, actor, run)
        if change and metadata.index_changes(change["before"], change["after"]):
            row = await metadata.build_indexes(
                lambda: tenant_scope(actor), actor, change["before"], change["after"]
            )
            resp = record_response(field_out(row, object))
        return resp

    @delete("/{object:str}/fields/{api_name:str}", status_code=204)
    async def delete_field(self, request: Request, object: str, api_name: str) -> None:
        actor = _admin(request)
        expected = if_match(request)

        async def run(conn: AsyncConnection) -> Response:
            await metadata.delete_field(conn, actor, object, api_name, expected)
            return Response(content=b"", status_code=204)

        await write(request, actor, run)

    @post("/{object:str}/fields/{api_name:str}/restore", status_code=200)
    async def restore_field(
        self, request: Request, object: str, api_name: str
    ) -> Response[CustomFieldOut]:
        actor = _admin(request)

        async def run(conn: AsyncConnection) -> Response:
            return record_response(
                field_out(await metadata.restore_field(conn, actor, object, api_name), object)
            )

        return await write(request, actor, run)

    @get("/{object:str}/fields/{api_name:str}/history")
    async def field_history(
        self, request: Request, object: str, api_name: str
    ) -> Response[HistoryPage]:
        async def find(conn: AsyncConnection, actor: Actor) -> str:
            object_id, _ = await metadata.resolve(conn, actor, object)
            try:
                return (await metadata.get_field(conn, actor, object_id, api_name))["id"]
            except Problem:
                return (await metadata.get_field(conn, actor, object_id, api_name, deleted=True))[
                    "id"
                ]

        return await _history(request, metadata.fields, find)


def _plain(value: Any) -> Any:
    return msgspec.to_builtins(value) if value is not None else None


def _plain_values(
    data: Any, nested: tuple[str, ...] = ("options", "lookup", "formula", "auto_number")
) -> dict[str, Any]:
    """A body's values with its ``nested`` settings as plain JSON (they are stored as such)."""
    return {k: _plain(v) if k in nested else v for k, v in values_of(data).items()}


RULE_KEYS = tuple(f for f in RuleOut.__struct_fields__ if f != "object")


def rule_out(row: dict[str, Any], object: str) -> dict[str, Any]:
    return {"object": object} | {k: row.get(k) for k in RULE_KEYS}


class RulesController(Controller):
    path = "/api/v1/metadata/objects/{object:str}/validation-rules"
    tags = ["custom objects"]

    @post("/", status_code=201, before_request=_admin_body(RuleCreate))
    async def create_rule(
        self, request: Request, object: str, data: JSONBody[RuleCreate]
    ) -> Response[RuleOut]:
        actor = _admin(request)

        async def run(conn: AsyncConnection) -> Response:
            row = await rules.create_rule(conn, actor, object, values_of(data))
            return record_response(rule_out(row, object), 201)

        return await write(request, actor, run)

    @get("/")
    async def list_rules(self, request: Request, object: str) -> Response[list[RuleOut]]:
        actor = _reader(request, "metadata")

        async def run(conn: AsyncConnection) -> Response:
            rows = await rules.list_rules(conn, actor, object)
            return json_response({"data": [rule_out(r, object) for r in rows]})

        return await read(actor, run)

    @get("/{rule_id:str}")
    async def get_rule(self, request: Request, object: str, rule_id: str) -> Response[RuleOut]:
        actor = _reader(request, "metadata")

        async def run(conn: AsyncConnection) -> Response:
            return record_response(
                rule_out(await rules.get_rule(conn, actor, object, rule_id), object)
            )

        return await read(actor, run)

    @patch("/{rule_id:str}", before_request=_admin_body(RuleUpdate))
    async def update_rule(
        self, request: Request, object: str, rule_id: str, data: JSONBody[RuleUpdate]
    ) -> Response[RuleOut]:
        actor = _admin(request)
        expected = if_match(request)

        async def run(conn: AsyncConnection) -> Response:
            row = await rules.update_rule(conn, actor, object, rule_id, values_of(data), expected)
            return record_response(rule_out(row, object))

        return await write(request, actor, run)

    @delete("/{rule_id:str}", status_code=204)
    async def delete_rule(self, request: Request, object: str, rule_id: str) -> None:
        actor = _admin(request)
        expected = if_match(request)

        async def run(conn: AsyncConnection) -> Response:
            await rules.delete_rule(conn, actor, object, rule_id, expected)
            return Response(content=b"", status_code=204)

        await write(request, actor, run)


# -------------------------------------------------------------------------------- records


class ObjectRecordsController(Controller):
    """The records of a team's custom object: the core's conventions, generically documented
    (each team's objects have their own fields: see ``/api/v1/metadata/objects``)."""

    path = "/api/v1/objects"
    tags = ["custom object records"]

    @post("/{api_name:str}", status_code=201)
    async def create_record(self, request: Request, api_name: str) -> Response[dict[str, Any]]:
        actor = current_actor(request)
        check_writable(actor, "objects")
        body = await read_body(request, dict[str, Any])

        async def run(conn: AsyncConnection) -> Response:
            service = await custom_records.for_object(conn, actor, api_name)
            row = await service.create_record(conn, actor, body)
            resp = record_response(row, 201)
            resp.headers["Location"] = f"{self.path}/{api_name}/{row['id']}"
            return resp

        return await write(request, actor, run)

    @get("/{api_name:str}")
    async def list_records(self, request: Request, api_name: str) -> Response[dict[str, Any]]:
        actor = _reader(request, "objects")
        check_known_params(request.query_params)
        params = parse_params(request.query_params)

        async def run(conn: AsyncConnection) -> Response:
            service = await custom_records.for_object(conn, actor, api_name)
            return json_response(await service.list_records(conn, actor, params))

        return await read(actor, run)

    @post("/{api_name:str}/batch", status_code=200)
    async def batch(self, request: Request, api_name: str) -> Response[BatchOut]:
        actor = current_actor(request)
        check_writable(actor, "objects")
        data = await read_body(request, BatchIn, nul=False)
        check_batch(data)

        async def run(conn: AsyncConnection) -> Response:
            service = await custom_records.for_object(conn, actor, api_name)

            async def create_item(conn: AsyncConnection, item: dict[str, Any]) -> dict[str, Any]:
                return await service.create_record(conn, actor, _item(item))

            async def update_item(
                conn: AsyncConnection, rid: str, item: dict[str, Any], expected: int | None
            ) -> dict[str, Any]:
                return await service.update_record(conn, actor, rid, _item(item), expected)

            return await run_batch(conn, data, create_item, update_item)

        return await write(request, actor, run)

    @get("/{api_name:str}/{record_id:str}")
    async def get_record(
        self, request: Request, api_name: str, record_id: str
    ) -> Response[dict[str, Any]]:
        actor = _reader(request, "objects")
        moment = record_params(request.query_params)
        wanted = parse_params(request.query_params).fields

        async def run(conn: AsyncConnection) -> Response:
            service = await custom_records.for_object(conn, actor, api_name)
            if moment is not None:
                row = (
                    await service.present(
                        conn, actor, [await service.as_of(conn, actor, record_id, moment)]
                    )
                )[0]
            else:
                row = await service.show(conn, actor, await service.get(conn, actor, record_id))
            if wanted is not None:
                names = service.typed_lister(actor)[0].fields(wanted) or []
                row = {k: row[k] for k in names}
            headers = {"ETag": etag(row["version"])} if moment is None and "version" in row else {}
            return json_response(row, headers=headers)

        return await read(actor, run)

    @patch("/{api_name:str}/{record_id:str}")
    async def update_record(
        self, request: Request, api_name: str, record_id: str
    ) -> Response[dict[str, Any]]:
        actor = current_actor(request)
        check_writable(actor, "objects")
        expected = if_match(request)
        body = await read_body(request, dict[str, Any])

        async def run(conn: AsyncConnection) -> Response:
            service = await custom_records.for_object(conn, actor, api_name)
            return record_response(
                await service.update_record(conn, actor, record_id, body, expected)
            )

        return await write(request, actor, run)

    @delete("/{api_name:str}/{record_id:str}", status_code=204)
    async def delete_record(self, request: Request, api_name: str, record_id: str) -> None:
        actor = current_actor(request)
        check_writable(actor, "objects")
        expected = if_match(request)

        async def run(conn: AsyncConnection) -> Response:
            service = await custom_records.for_object(conn, actor, api_name)
            await service.delete_record(conn, actor, record_id, expected)
            return Response(content=b"", status_code=204)

        await write(request, actor, run)

    @post("/{api_name:str}/{record_id:str}/restore", status_code=200)
    async def restore_record(
        self, request: Request, api_name: str, record_id: str
    ) -> Response[dict[str, Any]]:
        actor = current_actor(request)
        check_writable(actor, "objects")

        async def run(conn: AsyncConnection) -> Response:
            service = await custom_records.for_object(conn, actor, api_name)
            return record_response(
                await service.show(conn, actor, await service.restore(conn, actor, record_id))
            )

        return await write(request, actor, run)

    @get("/{api_name:str}/{record_id:str}/history")
    async def history(
        self, request: Request, api_name: str, record_id: str
    ) -> Response[HistoryPage]:
        actor = _reader(request, "objects")
        after, limit = history_params(request.query_params)

        async def run(conn: AsyncConnection) -> Response:
            service = await custom_records.for_object(conn, actor, api_name)
            return json_response(
                await service.history(conn, actor, record_id, after_id=after, limit=limit)
            )

        return await read(actor, run)

    @get("/{api_name:str}/{record_id:str}/related/{relationship_name:str}")
    async def related(
        self, request: Request, api_name: str, record_id: str, relationship_name: str
    ) -> Response[dict[str, Any]]:
        """The records whose lookup (with this relationship name) names the record; ``api_name``
        may be a custom object or a standard one (leads, contacts, accounts, deals, tasks)."""
        actor = _reader(request, "objects")
        check_known_params(request.query_params)
        params = parse_params(request.query_params)

        async def run(conn: AsyncConnection) -> Response:
            if not plausible_id(record_id):
                raise Problem(404, f"No record {record_id!r}.")
            if api_name in metadata.STANDARD_OBJECTS:
                table = metadata.cf.STANDARD_TABLES[api_name]
                found = await conn.execute(
                    select(table.c.id).where(
                        table.c.team_id == actor.team_id, table.c.id == record_id
                    )
                )
                if found.first() is None:
                    raise Problem(404, f"No record {record_id!r} in {api_name}.")
            else:
                await (await custom_records.for_object(conn, actor, api_name)).get(
                    conn, actor, record_id
                )
            rel = await custom_records.related(conn, actor, api_name, relationship_name)
            expr = metadata.cf.expression(rel.field, f"{custom_records.RECORDS.name}.data")
            return json_response(
                await rel.service.list_records(conn, actor, params, [expr == record_id])
            )

        return await read(actor, run)


def _item(item: dict[str, Any]) -> dict[str, Any]:
    errors = value_errors(item)
    if errors:
        raise validation(errors)
    return item


# ------------------------------------------------------------------ layouts, list views, search

LAYOUT_KEYS = LayoutOut.__struct_fields__
VIEW_KEYS = ListViewOut.__struct_fields__


def _shape(row: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: row.get(k) for k in keys}


def _writer(request: Request, scope: str) -> Actor:
    actor = current_actor(request)
    check_writable(actor, scope)
    return actor


class LayoutsController(Controller):
    """Page layouts: sections of ordered fields, per object (admins write them)."""

    path = "/api/v1/layouts"
    tags = ["layouts"]

    @post("/", status_code=201, before_request=_admin_body(LayoutCreate))
    async def create_layout(
        self, request: Request, data: JSONBody[LayoutCreate]
    ) -> Response[LayoutOut]:
        actor = _admin(request)

        async def run(conn: AsyncConnection) -> Response:
            row = await views.create_layout(conn, actor, _plain_values(data, ("sections",)))
            return record_response(_shape(row, LAYOUT_KEYS), 201)

        return await write(request, actor, run)

    @get("/")
    async def list_layouts(self, request: Request) -> Response[dict[str, Any]]:
        actor = _reader(request, "metadata")
        object = request.query_params.get("object")

        async def run(conn: AsyncConnection) -> Response:
            q = views.layouts._scoped(actor)
            if object is not None:
                q = q.where(views.LAYOUTS.c.object == object)
            rows = await conn.execute(q.order_by(views.LAYOUTS.c.name, views.LAYOUTS.c.id))
            return json_response({"data": [_shape(dict(r._mapping), LAYOUT_KEYS) for r in rows]})

        return await read(actor, run)

    @get("/{layout_id:str}")
    async def get_layout(self, request: Request, layout_id: str) -> Response[LayoutOut]:
        actor = _reader(request, "metadata")

        async def run(conn: AsyncConnection) -> Response:
            return record_response(
                _shape(await views.layouts.get(conn, actor, layout_id), LAYOUT_KEYS)
            )

        return await read(actor, run)

    @patch("/{layout_id:str}", before_request=_admin_body(LayoutUpdate))
    async def update_layout(
        self, request: Request, layout_id: str, data: JSONBody[LayoutUpdate]
    ) -> Response[LayoutOut]:
        actor = _admin(request)
        expected = if_match(request)

        async def run(conn: AsyncConnection) -> Response:
            values = _plain_values(data, ("sections",))
            row = await views.update_layout(conn, actor, layout_id, values, expected)
            return record_response(_shape(row, LAYOUT_KEYS))

        return await write(request, actor, run)

    @delete("/{layout_id:str}", status_code=204)
    async def delete_layout(self, request: Request, layout_id: str) -> None:
        actor = _admin(request)
        expected = if_match(request)

        async def run(conn: AsyncConnection) -> Response:
            await views.layouts.delete(conn, actor, layout_id, if_match=expected)
            return Response(content=b"", status_code=204)

        await write(request, actor, run)


class ListViewsController(Controller):
    """List views of every object: columns, filters, sort; personal or the team's."""

    path = "/api/v1/list-views"
    tags = ["list views"]

    @post("/", status_code=201)
    async def create_view(self, request: Request) -> Response[ListViewOut]:
        actor = _writer(request, "list_views")
        data = await read_body(request, ListViewCreate)

        async def run(conn: AsyncConnection) -> Response:
            row = await views.create_view(conn, actor, values_of(data))
            return record_response(_shape(row, VIEW_KEYS), 201)

        return await write(request, actor, run)

    @get("/")
    async def list_views(self, request: Request) -> Response[dict[str, Any]]:
        actor = _reader(request, "list_views")
        object = request.query_params.get("object")

        async def run(conn: AsyncConnection) -> Response:
            rows = await views.list_views(conn, actor, object)
            return json_response({"data": [_shape(r, VIEW_KEYS) for r in rows]})

        return await read(actor, run)

    @get("/{view_id:str}")
    async def get_view(self, request: Request, view_id: str) -> Response[ListViewOut]:
        actor = _reader(request, "list_views")

        async def run(conn: AsyncConnection) -> Response:
            return record_response(_shape(await views.get_view(conn, actor, view_id), VIEW_KEYS))

        return await read(actor, run)

    @get("/{view_id:str}/records")
    async def view_records(self, request: Request, view_id: str) -> Response[dict[str, Any]]:
        """The view's records: its filters, sort and columns; ``limit`` and ``cursor`` page."""
        actor = _reader(request, "list_views")
        query = dict(request.query_params)
        if set(query) - {"limit", "cursor"}:
            raise Problem(400, "A list view's records take limit and cursor only.")

        async def run(conn: AsyncConnection) -> Response:
            view = await views.get_view(conn, actor, view_id)
            return json_response(await views.run_view(conn, actor, view, query))

        return await read(actor, run)

    @patch("/{view_id:str}")
    async def update_view(self, request: Request, view_id: str) -> Response[ListViewOut]:
        actor = _writer(request, "list_views")
        expected = if_match(request)
        data = await read_body(request, ListViewUpdate)

        async def run(conn: AsyncConnection) -> Response:
            row = await views.update_view(conn, actor, view_id, values_of(data), expected)
            return record_response(_shape(row, VIEW_KEYS))

        return await write(request, actor, run)

    @delete("/{view_id:str}", status_code=204)
    async def delete_view(self, request: Request, view_id: str) -> None:
        actor = _writer(request, "list_views")
        expected = if_match(request)

        async def run(conn: AsyncConnection) -> Response:
            await views.delete_view(conn, actor, view_id, expected)
            return Response(content=b"", status_code=204)

        await write(request, actor, run)


class SearchController(Controller):
    path = "/api/v1/search"
    tags = ["search"]

    @get("/", operation_id="search_records")
    async def search(self, request: Request) -> Response[SearchResults]:
        """Records of every object, standard and custom, whose searchable fields hold ``q``
        (case-insensitive): exact matches first, then prefixes, then substrings; the most
        recently updated first among equals. ``limit``: 1 to 50 (default 20)."""
        actor = _reader(request, "search")
        q = (request.query_params.get("q") or "").strip()
        if not q or "\x00" in q or len(q) > 200:
            raise Problem(
                400,
                "Give the text to search for in q (1 to 200 characters).",
                errors=[{"field": "q", "message": "Required."}],
            )
        try:
            limit = int(request.query_params.get("limit", 20))
        except ValueError:
            limit = 0
        if not 1 <= limit <= views.MAX_SEARCH:
            raise Problem(400, f"limit must be between 1 and {views.MAX_SEARCH}.")

        async def run(conn: AsyncConnection) -> Response:
            return json_response({"data": await views.search(conn, actor, q, limit)})

        return await read(actor, run)


routers = [
    MetadataController,
    RulesController,
    ObjectRecordsController,
    LayoutsController,
    ListViewsController,
    SearchController,
]
