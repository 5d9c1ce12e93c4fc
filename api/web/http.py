"""Glue between Litestar handlers and the services: transactions, JSON, ETags, idempotency."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar import Request, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.scope import tenant_scope
from api.web import idempotency
from leadly.actor import Actor
from leadly.problem import Problem

JSON = "application/json"
encoder = msgspec.json.Encoder(decimal_format="number")


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        content=encoder.encode(data), status_code=status, media_type=JSON, headers=headers or {}
    )


def whole_list(data: list[Any]) -> Response:
    """A list answered whole, in the list envelope of every list (no further page)."""
    return json_response({"data": data, "next_cursor": None, "has_more": False})


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


class RollbackWith(Exception):
    """Raised inside :func:`write` to roll the transaction back and still answer ``response``."""

    def __init__(self, response: Response) -> None:
        super().__init__("rollback")
        self.response = response


async def read(actor: Actor, fn: Callable[[AsyncConnection], Awaitable[Response]]) -> Response:
    async with tenant_scope(actor) as conn:
        return await fn(conn)


async def write(
    request: Request,
    actor: Actor,
    fn: Callable[[AsyncConnection], Awaitable[Response]],
    *,
    idempotent: bool = True,
) -> Response:
    """Run ``fn`` in one tenant transaction; honour ``Idempotency-Key`` on POST.

    The key is claimed inside the same transaction as the write, so a retry that races the first
    attempt waits for it and then replays its response; nothing is created twice.
    ``idempotent=False`` for calls that issue a secret (a calendar feed's URL, a socket
    ticket): their responses are never stored, so the key is ignored.
    """
    try:
        return await _write(request, actor, fn, idempotent)
    except RollbackWith as r:
        return r.response


async def _write(
    request: Request,
    actor: Actor,
    fn: Callable[[AsyncConnection], Awaitable[Response]],
    idempotent: bool,
) -> Response:
    post = request.method == "POST" and idempotent
    key = request.headers.get("idempotency-key") if post else None
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
