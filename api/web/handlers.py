"""The shapes route handlers repeat, written once: who may call (the request's actor holding a
scope, or a writer's scope and role), and a service call answered as JSON in one tenant
transaction (read, or written with ``Idempotency-Key`` honoured)::

    @get("/{task_id:str}/time-logs")
    async def list_time_logs(self, request: Request, task_id: str) -> Response[list[TimeLog]]:
        return await read_json(caller(request, "tasks:read"), time_logs.time_logs, task_id)

A handler with more to do than one call (a problem to build, a status that depends on the
answer) keeps its own ``run`` and calls :func:`api.web.http.read` / ``write``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.guards import require_scope
from api.web.crud import check_writable
from api.web.http import current_actor, json_response, read, write
from leadly.actor import Actor

Call = Callable[..., Awaitable[Any]]
"""A service function called as ``call(conn, actor, *args)``."""


def caller(request: Request, scope: str) -> Actor:
    """The request's actor, which must hold ``scope`` (403 otherwise)."""
    actor = current_actor(request)
    require_scope(actor, scope)
    return actor


def writer(request: Request, area: str) -> Actor:
    """The request's actor, holding ``<area>:write`` and at least the user role (403)."""
    actor = current_actor(request)
    check_writable(actor, area)
    return actor


async def read_json(actor: Actor, call: Call, *args: Any) -> Response:
    """``call(conn, actor, *args)``'s answer as JSON, read in one tenant transaction."""

    async def run(conn: AsyncConnection) -> Response:
        return json_response(await call(conn, actor, *args))

    return await read(actor, run)


async def write_json(
    request: Request, actor: Actor, call: Call, *args: Any, status: int = 200
) -> Response:
    """``call(conn, actor, *args)`` in one write transaction (``Idempotency-Key`` honoured on
    POST), its answer as JSON with ``status``."""

    async def run(conn: AsyncConnection) -> Response:
        return json_response(await call(conn, actor, *args), status)

    return await write(request, actor, run)
