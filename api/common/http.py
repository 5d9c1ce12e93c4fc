"""Glue between Litestar handlers and the services: transactions, JSON, ETags, idempotency."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from typing import Any

import msgspec
from litestar import Request, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common import idempotency
from api.common.context import Actor
from api.common.errors import Problem
from warehouse.db import api_engine, set_tenant, tenant_tx

# The connection the auth middleware opened for this request; its transaction is already
# authenticated and scoped to the caller's team.
REQUEST_CONN: ContextVar[AsyncConnection | None] = ContextVar("leadly_request_conn", default=None)

JSON = "application/json"
encoder = msgspec.json.Encoder(decimal_format="number")


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        content=encoder.encode(data), status_code=status, media_type=JSON, headers=headers or {}
    )


def etag(version: int) -> str:
    return f'"{version}"'


def record_response(row: dict[str, Any], status: int = 200) -> Response:
    return json_response(row, status, {"ETag": etag(row["version"])})


def if_match(request: Request) -> int | None:
    raw = request.headers.get("if-match")
    if raw is None or raw.strip() == "*":
        return None
    value = raw.strip().removeprefix("W/").strip('"')
    try:
        return int(value)
    except ValueError:
        raise Problem(
            400,
            'If-Match must be an ETag returned by the API, e.g. "3".',
            errors=[{"field": "If-Match", "message": "Not a valid ETag."}],
        ) from None


def current_actor(request: Request) -> Actor:
    return request.user


def require_scope(actor: Actor, scope: str) -> None:
    if not actor.has_scope(scope):
        raise Problem(
            403, f"This API key lacks the scope {scope!r}.", title="Forbidden", required_scope=scope
        )


def require_role(actor: Actor, role: str) -> None:
    if not actor.at_least(role):
        raise Problem(403, f"This action needs the {role} role or higher.", title="Forbidden")


def require_author(actor: Actor, author_id: str | None, what: str) -> None:
    """Only the member who logged ``what`` (an activity, a time log), or a manager and above,
    may change or delete it (403)."""
    if author_id != actor.member_id and not actor.at_least("manager"):
        raise Problem(
            403,
            f"Only the member who logged this {what} (or a manager) can change it.",
            title="Forbidden",
        )


def values_of(struct: msgspec.Struct) -> dict[str, Any]:
    """The fields a client actually sent (UNSET ones dropped)."""
    return {k: v for k, v in msgspec.structs.asdict(struct).items() if v is not msgspec.UNSET}


class RollbackWith(Exception):
    """Raised inside :func:`write` to roll the transaction back and still answer ``response``."""

    def __init__(self, response: Response) -> None:
        super().__init__("rollback")
        self.response = response


@contextlib.asynccontextmanager
async def tenant_scope(actor: Actor) -> AsyncIterator[AsyncConnection]:
    """One transaction scoped to the actor's team: the request's own when the auth middleware
    opened one (no extra round trips), else a new one. Commits on success, rolls back on error."""
    conn = REQUEST_CONN.get()
    if conn is None:
        async with tenant_tx(api_engine(), actor.team_id, actor.member_id) as fresh:
            yield fresh
        return
    if not conn.in_transaction():
        await conn.begin()
        await set_tenant(conn, actor.team_id, actor.member_id)
    try:
        yield conn
    except BaseException:
        await conn.rollback()
        raise
    await conn.commit()


async def read(actor: Actor, fn: Callable[[AsyncConnection], Awaitable[Response]]) -> Response:
    async with tenant_scope(actor) as conn:
        return await fn(conn)


async def write(
    request: Request, actor: Actor, fn: Callable[[AsyncConnection], Awaitable[Response]]
) -> Response:
    """Run ``fn`` in one tenant transaction; honour ``Idempotency-Key`` on POST.

    The key is claimed inside the same transaction as the write, so a retry that races the first
    attempt waits for it and then replays its response; nothing is created twice.
    """
    try:
        return await _write(request, actor, fn)
    except RollbackWith as r:
        return r.response


async def _write(
    request: Request, actor: Actor, fn: Callable[[AsyncConnection], Awaitable[Response]]
) -> Response:
    key = request.headers.get("idempotency-key") if request.method == "POST" else None
    async with tenant_scope(actor) as conn:
        if not key:
            return await fn(conn)
        if len(key) > 255:
            raise Problem(400, "Idempotency-Key is longer than 255 characters.")
        body = await request.body()
        digest = idempotency.fingerprint(request.method, request.url.path, body)
        replay = await idempotency.claim(conn, actor, key, request.method, request.url.path, digest)
        if replay is not None:
            return replay
        response = await fn(conn)
        await idempotency.store(conn, actor, key, response)
        return response
