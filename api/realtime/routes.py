"""Real-time routes: WebSocket tickets and the gateway socket."""

# No ``from __future__ import annotations``: Litestar reads the handlers' annotations.

from datetime import datetime

import msgspec
from litestar import Controller, Request, Response, post
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.guards import require_scope
from api.realtime import gateway, tickets
from api.realtime.gateway import ws
from api.web.http import current_actor, json_response, write


class Ticket(msgspec.Struct, kw_only=True):
    ticket: str
    expires_at: datetime


class RealtimeController(Controller):
    path = "/api/v1/realtime"
    tags = ["realtime"]

    @post("/tickets", status_code=201)
    async def create_ticket(self, request: Request) -> Response[Ticket]:
        """A single-use ticket (valid 60 s) for ``wss://…/api/v1/ws?ticket=…``: it needs a scope
        of what the socket carries (``notifications:read``), and ``Idempotency-Key`` is not
        honoured (a ticket is a secret: it is never stored to be replayed)."""
        actor = current_actor(request)
        if not gateway.may_open(actor):
            require_scope(actor, gateway.scopes_carried()[0])

        async def run(conn: AsyncConnection) -> Response:
            return json_response(await tickets.issue(conn, actor), 201)

        return await write(request, actor, run, idempotent=False)


routers = [RealtimeController, ws]
