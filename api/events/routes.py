"""``GET /api/v1/events``: the team's public events in commit order, as pages or as a
Server-Sent Events stream (``Accept: text/event-stream``) that resumes from ``Last-Event-ID``.
Admins only (the stream shows every record's changes), API keys need ``events:read``."""

# No ``from __future__ import annotations``: Litestar reads these handlers' real annotations.

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from litestar import Controller, Request, Response, get
from litestar.params import QueryParameter
from litestar.response import ServerSentEvent
from litestar.response.sse import ServerSentEventMessage
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.guards import require_role, require_scope
from api.common.scope import tenant_scope
from api.events.schemas import EventPage
from api.events.service import (
    DEFAULT_LIMIT,
    Position,
    decode_cursor,
    encode_cursor,
    parse_limit,
    parse_types,
    read_page,
)
from api.web.http import current_actor, encoder, json_response, read
from leadly.actor import Actor

#: Seconds between looks for new events while a stream is idle, and between keep-alive comments.
STREAM_POLL = 0.5
KEEPALIVE = 15.0


async def _stream(actor: Actor, position: Position, types: list[str]) -> AsyncIterator[object]:
    idle = 0.0
    while True:
        async with tenant_scope(actor) as conn:
            items, position, more = await read_page(
                conn, actor.team_id, position, types, DEFAULT_LIMIT
            )
        for pos, env in items:
            yield ServerSentEventMessage(
                data=encoder.encode(env).decode(), event=env["type"], id=encode_cursor(pos)
            )
        if items or more:
            idle = 0.0
            continue
        await asyncio.sleep(STREAM_POLL)
        idle += STREAM_POLL
        if idle >= KEEPALIVE:
            idle = 0.0
            yield ServerSentEventMessage(data=None, comment="keep-alive")


class EventsController(Controller):
    path = "/api/v1/events"
    tags = ["events"]

    @get(
        "/",
        operation_id="list_events",
        summary="Read the team's events in commit order",
        description="Pages of public event envelopes from the start of the team's history (or "
        "after a cursor); with `Accept: text/event-stream`, a Server-Sent Events stream that "
        "resumes from `Last-Event-ID`.",
    )
    async def list_events(
        self,
        request: Request,
        after: Annotated[
            str | None,
            QueryParameter(description="A next_cursor (or a stream event's id).", max_length=50),
        ] = None,
        types: Annotated[
            str | None,
            QueryParameter(
                description="Event types, comma-separated, with wildcards: deal.*,lead.created",
                max_length=2000,
            ),
        ] = None,
        limit: Annotated[
            str | None, QueryParameter(description="Events per page, 1 to 500 (100).")
        ] = None,
    ) -> Response[EventPage]:
        actor = current_actor(request)
        require_scope(actor, "events:read")
        require_role(actor, "admin")
        patterns = parse_types(types)
        size = parse_limit(limit)
        if "text/event-stream" in request.headers.get("accept", ""):
            last = request.headers.get("last-event-id")
            start = decode_cursor(last, "Last-Event-ID") if last else decode_cursor(after)

            async def commit(conn: AsyncConnection) -> Response:
                return Response(content=b"")  # ends the request's transaction before streaming

            await read(actor, commit)
            return ServerSentEvent(_stream(actor, start, patterns))  # type: ignore[return-value]
        position = decode_cursor(after)

        async def run(conn: AsyncConnection) -> Response:
            items, reached, more = await read_page(conn, actor.team_id, position, patterns, size)
            cursor = encode_cursor(reached) if reached != (0, 0) else None
            return json_response(
                {"data": [env for _, env in items], "next_cursor": cursor, "has_more": more}
            )

        return await read(actor, run)


routers = [EventsController]
