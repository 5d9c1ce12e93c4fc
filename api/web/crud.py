"""Build the uniform REST surface of a standard object from its service and its Structs.

``crud_controller`` gives ``/api/v1/<plural>``: POST (201 + ETag), GET list, GET one (ETag,
``?as_of=``), PATCH (If-Match → 412 when stale), DELETE (204, soft), POST ``/{id}/restore``,
GET ``/{id}/history`` and POST ``/batch``. Domain routes add their own actions next to it.
"""

# No ``from __future__ import annotations``: Litestar reads these handlers' real annotations.

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.params import JSONBody
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.guards import require_role, require_scope, values_of
from api.common.listing import check_known_params, parse_params
from api.common.records import RecordService
from api.common.structs import page_of
from api.common.validate import decode_item
from api.web.body import strict_body
from api.web.http import (
    RollbackWith,
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

MAX_BATCH = 1000

CreateHook = Callable[[AsyncConnection, Actor, dict[str, Any]], Awaitable[dict[str, Any]]]


class BatchIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    items: list[Any]
    """Objects to create, or to update when they carry ``id`` (and optionally ``version``)."""
    all_or_none: bool = False
    """Apply every item or none: one failing item rolls the whole batch back."""


class BatchResult(msgspec.Struct, kw_only=True, omit_defaults=True):
    index: int
    status: int
    record: dict[str, Any] | None = None
    problem: dict[str, Any] | None = None


class BatchOut(msgspec.Struct):
    results: list[BatchResult]


class HistoryEntry(msgspec.Struct, kw_only=True):
    """One changed field of one event: who changed it, when, from what to what."""

    event_id: int
    action: str
    field: str | None
    old: Any
    new: Any
    changed_at: datetime
    changed_by: str | None
    actor_type: str
    request_id: str | None


HistoryPage = page_of(HistoryEntry, name="HistoryPage")


def parse_as_of(raw: str) -> datetime:
    text = raw.strip()
    candidates = [text]
    head, sep, tail = text.rpartition(" ")
    if sep and tail[:1].isdigit():  # an unescaped "+" in the query string arrives as a space
        candidates.append(f"{head}+{tail}")
    for candidate in candidates:
        try:
            moment = datetime.fromisoformat(candidate)
        except ValueError:
            continue
        if candidate[:1].isdigit() and len(candidate) >= 10:
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    raise Problem(
        400,
        f"as_of must be an ISO 8601 timestamp (e.g. 2026-01-31T12:00:00Z), not {raw!r}.",
        errors=[{"field": "as_of", "message": "Not an ISO 8601 timestamp."}],
    )


def record_params(query: Any) -> datetime | None:
    """The query of a one-record GET: ``as_of`` (parsed) and ``fields``; 400 on anything else."""
    unknown = sorted(set(query) - {"as_of", "fields", "expand"})
    if unknown:
        raise Problem(
            400,
            f"Unknown query parameter(s): {', '.join(unknown)} (this takes as_of, fields and "
            "expand).",
            errors=[{"field": k, "message": "Unknown query parameter."} for k in unknown],
        )
    raw_as_of = query.get("as_of")
    return parse_as_of(raw_as_of) if raw_as_of is not None else None


def history_params(query: Any) -> tuple[int, int]:
    """A history page's ``cursor`` (an event id) and ``limit``."""
    cursor = query.get("cursor")
    try:
        after = int(cursor) if cursor else 0
        limit = int(query.get("limit", 100))
    except ValueError:
        raise Problem(400, "cursor and limit must be integers.") from None
    if not 1 <= limit <= 1000:
        raise Problem(400, "limit must be between 1 and 1000.")
    return after, limit


def check_writable(actor: Actor, scope_base: str) -> None:
    require_scope(actor, f"{scope_base}:write")
    require_role(actor, "user")


def check_batch(data: BatchIn) -> None:
    if not data.items:
        raise validation([{"field": "items", "message": "Send at least one item."}])
    if len(data.items) > MAX_BATCH:
        raise Problem(413, f"A batch holds at most {MAX_BATCH} items.", title="Content Too Large")


async def run_batch(
    conn: AsyncConnection,
    data: BatchIn,
    create_item: Callable[[AsyncConnection, dict[str, Any]], Awaitable[dict[str, Any]]],
    update_item: Callable[
        [AsyncConnection, str, dict[str, Any], int | None], Awaitable[dict[str, Any]]
    ],
) -> Response:
    """Apply a batch's items one by one, each in a savepoint (an item with ``id`` updates,
    else creates); with ``all_or_none`` one failure rolls every item back (424 for the rest)."""
    results: list[dict[str, Any]] = []
    failed = False
    for i, item in enumerate(data.items):
        try:
            if not isinstance(item, dict):
                raise validation([{"field": "$", "message": "Expected an object."}])
            async with conn.begin_nested():
                if "id" in item:
                    item = dict(item)
                    rid = item.pop("id")
                    expected = item.pop("version", None)
                    if not isinstance(rid, str) or not (
                        expected is None or isinstance(expected, int)
                    ):
                        raise validation([{"field": "id", "message": "Bad id/version."}])
                    row = await update_item(conn, rid, item, expected)
                    results.append({"index": i, "status": 200, "record": row})
                else:
                    row = await create_item(conn, item)
                    results.append({"index": i, "status": 201, "record": row})
        except Problem as p:
            failed = True
            results.append({"index": i, "status": p.status, "problem": p.to_dict()})
    if failed and data.all_or_none:
        first = next(r["index"] for r in results if "problem" in r)
        for r in results:
            if "record" in r:
                r.pop("record")
                r["status"] = 424
                r["problem"] = Problem(
                    424,
                    f"Not applied: item {first} failed and all_or_none is set.",
                    title="Failed Dependency",
                ).to_dict()
        raise RollbackWith(json_response({"results": results}))
    return json_response({"results": results})


def crud_controller(
    service: RecordService,
    create_struct: type[msgspec.Struct],
    update_struct: type[msgspec.Struct],
    out_struct: type[msgspec.Struct],
    *,
    tag: str | None = None,
) -> type[Controller]:
    plural = service.plural.replace("_", "-")  # URL segment: call_logs → call-logs
    scope = service.plural

    async def create_one(
        conn: AsyncConnection, actor: Actor, values: dict[str, Any]
    ) -> dict[str, Any]:
        return await service.create(conn, actor, values)

    async def update_one(
        conn: AsyncConnection, actor: Actor, id: str, values: dict[str, Any], expected: int | None
    ) -> dict[str, Any]:
        return await service.update(conn, actor, id, values, if_match=expected)

    async def create_handler(self: Any, request: Request, data: Any) -> Any:
        actor = current_actor(request)
        check_writable(actor, scope)

        async def run(conn: AsyncConnection) -> Response:
            row = await create_one(conn, actor, values_of(data))
            resp = record_response(row, 201)
            resp.headers["Location"] = f"/api/v1/{plural}/{row['id']}"
            return resp

        return await write(request, actor, run)

    async def list_handler(self: Any, request: Request) -> Any:
        actor = current_actor(request)
        require_scope(actor, f"{scope}:read")
        check_known_params(request.query_params)
        params = parse_params(request.query_params)

        async def run(conn: AsyncConnection) -> Response:
            return json_response(await service.list(conn, actor, params))

        return await read(actor, run)

    async def get_handler(self: Any, request: Request, record_id: str) -> Any:
        actor = current_actor(request)
        require_scope(actor, f"{scope}:read")
        query = request.query_params
        moment = record_params(query)
        params = parse_params(query)
        service.lister.fields(params.fields)  # 400 before any read

        async def shape(conn: AsyncConnection, row: dict[str, Any]) -> dict[str, Any]:
            return (await service.shape(conn, actor, [row], params))[0]

        async def run(conn: AsyncConnection) -> Response:
            if moment is not None:
                row = await service.as_of(conn, actor, record_id, moment)
                return json_response(await shape(conn, row))
            row = await service.get(conn, actor, record_id)
            return json_response(await shape(conn, row), headers={"ETag": etag(row["version"])})

        return await read(actor, run)

    async def update_handler(self: Any, request: Request, record_id: str, data: Any) -> Any:
        actor = current_actor(request)
        check_writable(actor, scope)
        expected = if_match(request)

        async def run(conn: AsyncConnection) -> Response:
            return record_response(
                await update_one(conn, actor, record_id, values_of(data), expected)
            )

        return await write(request, actor, run)

    async def delete_handler(self: Any, request: Request, record_id: str) -> None:
        actor = current_actor(request)
        check_writable(actor, scope)
        expected = if_match(request)

        async def run(conn: AsyncConnection) -> Response:
            await service.delete(conn, actor, record_id, if_match=expected)
            return Response(content=b"", status_code=204)

        await write(request, actor, run)

    async def restore_handler(self: Any, request: Request, record_id: str) -> Any:
        actor = current_actor(request)
        check_writable(actor, scope)

        async def run(conn: AsyncConnection) -> Response:
            return record_response(await service.restore(conn, actor, record_id))

        return await write(request, actor, run)

    async def history_handler(self: Any, request: Request, record_id: str) -> Any:
        actor = current_actor(request)
        require_scope(actor, f"{scope}:read")
        after, limit = history_params(request.query_params)

        async def run(conn: AsyncConnection) -> Response:
            return json_response(
                await service.history(conn, actor, record_id, after_id=after, limit=limit)
            )

        return await read(actor, run)

    async def batch_handler(self: Any, request: Request, data: BatchIn) -> Any:
        actor = current_actor(request)
        check_writable(actor, scope)
        check_batch(data)

        async def create_item(conn: AsyncConnection, item: dict[str, Any]) -> dict[str, Any]:
            return await create_one(conn, actor, decode_item(create_struct, item))

        async def update_item(
            conn: AsyncConnection, rid: str, item: dict[str, Any], expected: int | None
        ) -> dict[str, Any]:
            return await update_one(conn, actor, rid, decode_item(update_struct, item), expected)

        async def run(conn: AsyncConnection) -> Response:
            return await run_batch(conn, data, create_item, update_item)

        return await write(request, actor, run)

    create_handler.__annotations__ = {
        "request": Request,
        "data": JSONBody[create_struct],
        "return": Response[out_struct],
    }
    list_handler.__annotations__ = {"request": Request, "return": Response[page_of(out_struct)]}
    one = {"request": Request, "record_id": str}  # the handlers of one record
    get_handler.__annotations__ = {**one, "return": Response[out_struct]}
    update_handler.__annotations__ = {
        **one,
        "data": JSONBody[update_struct],
        "return": Response[out_struct],
    }
    delete_handler.__annotations__ = {**one, "return": None}
    restore_handler.__annotations__ = {**one, "return": Response[out_struct]}
    history_handler.__annotations__ = {**one, "return": Response[HistoryPage]}
    batch_handler.__annotations__ = {
        "request": Request,
        "data": JSONBody[BatchIn],
        "return": Response[BatchOut],
    }

    obj = service.object_type
    attrs = {
        "path": f"/api/v1/{plural}",
        "tags": [tag or service.plural.replace("_", " ")],
        "create": post(
            "/",
            status_code=201,
            operation_id=f"create_{obj}",
            before_request=strict_body(create_struct, writes=(scope,)),
        )(create_handler),
        "list_records": get("/", operation_id=f"list_{scope}")(list_handler),
        "batch": post(
            "/batch",
            status_code=200,
            operation_id=f"batch_{scope}",
            before_request=strict_body(BatchIn, writes=(scope,), nul=False),
        )(batch_handler),
        "get_record": get("/{record_id:str}", operation_id=f"get_{obj}")(get_handler),
        "update": patch(
            "/{record_id:str}",
            operation_id=f"update_{obj}",
            before_request=strict_body(update_struct, writes=(scope,)),
        )(update_handler),
        "delete_record": delete("/{record_id:str}", status_code=204, operation_id=f"delete_{obj}")(
            delete_handler
        ),
        "restore": post("/{record_id:str}/restore", status_code=200, operation_id=f"restore_{obj}")(
            restore_handler
        ),
        "history": get("/{record_id:str}/history", operation_id=f"history_{obj}")(history_handler),
    }
    return type(f"{scope.title().replace('_', '')}Controller", (Controller,), attrs)
