"""``/api/v1/webhooks`` (endpoints, their delivery log, secret rotation, replay) and
``/api/v1/webhook-deliveries/{id}`` (one delivery with its attempts; retry). Admins (and owners)
only; API keys need ``webhooks:read`` / ``webhooks:write``."""

# No ``from __future__ import annotations``: Litestar reads these handlers' real annotations.

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.guards import require_role, require_scope, values_of
from api.common.listing import check_known_params, parse_params
from api.web.body import strict_body
from api.web.handlers import read_json, write_json
from api.web.http import current_actor, if_match, read, record_response, write
from api.webhooks import service
from api.webhooks.schemas import (
    DeliveryDetail,
    DeliveryPage,
    ReplayIn,
    ReplayOut,
    Webhook,
    WebhookCreate,
    WebhookPage,
    WebhookUpdate,
    WebhookWithSecret,
)
from leadly.actor import Actor

svc = service.webhook_service


def _admin(request: Request, access: str) -> Actor:
    actor = current_actor(request)
    require_scope(actor, f"webhooks:{access}")
    require_role(actor, "admin")
    return actor


async def _admin_only(request: Request) -> None:
    """Before a body is read: who may not manage webhooks learns nothing from validation."""
    _admin(request, "write")


def _body(struct: type) -> object:
    check = strict_body(struct)

    async def hook(request: Request) -> None:
        await _admin_only(request)
        await check(request)

    return hook


class WebhooksController(Controller):
    path = "/api/v1/webhooks"
    tags = ["webhooks"]

    @post(
        "/",
        status_code=201,
        operation_id="create_webhook",
        summary="Register a webhook endpoint",
        description="The answer holds the signing secret (whsec_...): it is shown only here.",
        before_request=_body(WebhookCreate),
    )
    async def create(
        self, request: Request, data: JSONBody[WebhookCreate]
    ) -> Response[WebhookWithSecret]:
        actor = _admin(request, "write")

        async def run(conn: AsyncConnection) -> Response:
            row = await svc.create(conn, actor, values_of(data))
            resp = record_response(row, 201)
            resp.headers["Location"] = f"/api/v1/webhooks/{row['id']}"
            return resp

        return await write(request, actor, run, idempotent=False)

    @get("/", operation_id="list_webhooks", summary="List the team's webhook endpoints")
    async def list_webhooks(self, request: Request) -> Response[WebhookPage]:
        actor = _admin(request, "read")
        check_known_params(request.query_params)
        return await read_json(actor, svc.list, parse_params(request.query_params))

    @get("/{webhook_id:str}", operation_id="get_webhook", summary="Read a webhook endpoint")
    async def get_webhook(self, request: Request, webhook_id: FromPath[str]) -> Response[Webhook]:
        actor = _admin(request, "read")

        async def run(conn: AsyncConnection) -> Response:
            return record_response(await svc.get(conn, actor, webhook_id))

        return await read(actor, run)

    @patch(
        "/{webhook_id:str}",
        operation_id="update_webhook",
        summary="Change a webhook endpoint (enabled: true switches a disabled one back on)",
        before_request=_body(WebhookUpdate),
    )
    async def update(
        self, request: Request, webhook_id: FromPath[str], data: JSONBody[WebhookUpdate]
    ) -> Response[Webhook]:
        actor = _admin(request, "write")
        expected = if_match(request)

        async def run(conn: AsyncConnection) -> Response:
            row = await svc.update(conn, actor, webhook_id, values_of(data), if_match=expected)
            return record_response(row)

        return await write(request, actor, run)

    @delete(
        "/{webhook_id:str}",
        status_code=204,
        operation_id="delete_webhook",
        summary="Remove a webhook endpoint (its pending deliveries are not sent)",
    )
    async def delete_webhook(self, request: Request, webhook_id: FromPath[str]) -> None:
        actor = _admin(request, "write")
        expected = if_match(request)

        async def run(conn: AsyncConnection) -> Response:
            await svc.delete(conn, actor, webhook_id, if_match=expected)
            return Response(content=b"", status_code=204)

        await write(request, actor, run)

    @post(
        "/{webhook_id:str}/rotate-secret",
        status_code=200,
        operation_id="rotate_webhook_secret",
        summary="Issue a new signing secret",
        description="Deliveries are signed with both the new and the old secret for 24 hours.",
    )
    async def rotate_secret(
        self, request: Request, webhook_id: FromPath[str]
    ) -> Response[WebhookWithSecret]:
        actor = _admin(request, "write")

        async def run(conn: AsyncConnection) -> Response:
            return record_response(await svc.rotate(conn, actor, webhook_id))

        return await write(request, actor, run, idempotent=False)

    @get(
        "/{webhook_id:str}/deliveries",
        operation_id="list_webhook_deliveries",
        summary="The endpoint's delivery log, newest first",
    )
    async def deliveries(
        self, request: Request, webhook_id: FromPath[str]
    ) -> Response[DeliveryPage]:
        actor = _admin(request, "read")
        check_known_params(request.query_params)
        params = parse_params(request.query_params)
        return await read_json(actor, service.list_deliveries, webhook_id, params)

    @post(
        "/{webhook_id:str}/replay",
        status_code=200,
        operation_id="replay_webhook",
        summary="Send every failed delivery since a time again",
        before_request=_body(ReplayIn),
    )
    async def replay(
        self, request: Request, webhook_id: FromPath[str], data: JSONBody[ReplayIn]
    ) -> Response[ReplayOut]:
        actor = _admin(request, "write")
        since = service.check_since(data.since)
        return await write_json(request, actor, service.replay, webhook_id, since)


class WebhookDeliveriesController(Controller):
    path = "/api/v1/webhook-deliveries"
    tags = ["webhooks"]

    @get(
        "/{delivery_id:str}",
        operation_id="get_webhook_delivery",
        summary="One delivery: its payload and every attempt (request, truncated response)",
    )
    async def get_delivery(
        self, request: Request, delivery_id: FromPath[str]
    ) -> Response[DeliveryDetail]:
        return await read_json(_admin(request, "read"), service.get_delivery, delivery_id)

    @post(
        "/{delivery_id:str}/retry",
        status_code=200,
        operation_id="retry_webhook_delivery",
        summary="Send one delivery again now",
    )
    async def retry(self, request: Request, delivery_id: FromPath[str]) -> Response[DeliveryDetail]:
        actor = _admin(request, "write")
        return await write_json(request, actor, service.retry_delivery, delivery_id)


routers = [WebhooksController, WebhookDeliveriesController]
