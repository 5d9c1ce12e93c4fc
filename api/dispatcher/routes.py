"""Dispatcher routes: dead letters (list, read, retry) and consumer positions. Admins only: a
failure shows another part of the system's error and the event's full payload."""

# No ``from __future__ import annotations``: Litestar reads these handlers' real annotations.

from typing import Annotated

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, QueryParameter

from api.common.guards import require_role, require_scope
from api.common.listing import parse_params
from api.dispatcher import service
from api.dispatcher.schemas import ConsumerList, Failure, FailureList
from api.web.handlers import read_json, write_json
from api.web.http import current_actor
from leadly.actor import Actor

STATUS_DOC = "Only failures in these states: retrying, dead or resolved (comma-separated)."


def _admin(request: Request, scope: str) -> Actor:
    actor = current_actor(request)
    require_scope(actor, scope)
    require_role(actor, "admin")
    return actor


class DispatcherController(Controller):
    path = "/api/v1/dispatcher"
    tags = ["dispatcher"]

    @get("/failures", operation_id="list_dispatch_failures")
    async def list_failures(
        self,
        request: Request,
        status_filter: Annotated[
            str | None, QueryParameter(name="status", description=STATUS_DOC, max_length=100)
        ] = None,
    ) -> Response[FailureList]:
        actor = _admin(request, "dispatcher:read")
        statuses = service.parse_statuses(status_filter)
        params = parse_params(request.query_params)

        return await read_json(actor, service.list_for_team, params, statuses)

    @get("/failures/{failure_id:str}", operation_id="get_dispatch_failure")
    async def get_failure(self, request: Request, failure_id: FromPath[str]) -> Response[Failure]:
        actor = _admin(request, "dispatcher:read")
        return await read_json(actor, service.get_for_team, failure_id)

    @post(
        "/failures/{failure_id:str}/retry", status_code=200, operation_id="retry_dispatch_failure"
    )
    async def retry_failure(self, request: Request, failure_id: FromPath[str]) -> Response[Failure]:
        actor = _admin(request, "dispatcher:write")
        return await write_json(request, actor, service.retry_for_team, failure_id)

    @get("/consumers", operation_id="list_dispatch_consumers")
    async def list_consumers(self, request: Request) -> Response[ConsumerList]:
        actor = _admin(request, "dispatcher:read")
        return await read_json(actor, service.consumers_for_team)


routers = [DispatcherController]
