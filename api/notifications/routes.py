"""Notification center, preferences, watches, push subscriptions and the delivery log.

Every route acts on the caller's own notifications (a member never reads or changes another
member's, and another team's ids are 404). API keys need ``notifications:read`` /
``notifications:write``.
"""

# No ``from __future__ import annotations``: Litestar reads these handlers' real annotations.

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.params import FromPath, QueryParameter
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.guards import values_of
from api.common.listing import check_known_params, parse_params
from api.notifications import center, delivery_log, preferences, push, watches
from api.notifications.schemas import (
    Delivery,
    Notification,
    NotificationPage,
    Preferences,
    PreferencesIn,
    PushSubscription,
    PushSubscriptionIn,
    ReadIn,
    ReadOut,
    ReplyIn,
    SnoozeIn,
    UnreadCount,
    Watch,
    WatchIn,
)
from api.realtime import gateway
from api.realtime.broker import member_channel, message
from api.web.body import read_body
from api.web.handlers import caller, read_json, write_json
from api.web.http import json_response, read, whole_list, write
from leadly.actor import Actor
from leadly.problem import Problem, not_found, validation
from warehouse.db import api_engine, tenant_tx

STATUS_DOC = "unread | read | archived (default: every notification not archived)."


def _reader(request: Request) -> Actor:
    return caller(request, "notifications:read")


def _writer(request: Request) -> Actor:
    return caller(request, "notifications:write")


async def _body(request: Request, struct: Any) -> Any:
    return await read_body(request, struct)


async def _every_own(request: Request, list_own: Any) -> Response:
    """One page of all the caller's rows that ``list_own(conn, actor)`` returns."""
    actor = _reader(request)

    async def run(conn: AsyncConnection) -> Response:
        return whole_list(await list_own(conn, actor))

    return await read(actor, run)


async def _delete_own(request: Request, delete: Any, id: str) -> Response[None]:
    """204 once ``delete(conn, actor, id)`` removed the caller's row."""
    actor = _writer(request)

    async def run(conn: AsyncConnection) -> Response:
        await delete(conn, actor, id)
        return Response(content=None, status_code=204)

    return await write(request, actor, run)


class NotificationsController(Controller):
    path = "/api/v1/notifications"
    tags = ["notifications"]

    @get("/", operation_id="list_notifications")
    async def list_notifications(
        self,
        request: Request,
        status_filter: Annotated[
            str | None, QueryParameter(name="status", description=STATUS_DOC, max_length=20)
        ] = None,
    ) -> Response[NotificationPage]:
        """The caller's notifications, newest first (cursor pagination, ``filter[type]=`` …).
        Snoozed ones are left out until their ``snoozed_until``."""
        actor = _reader(request)
        check_known_params(request.query_params, extra=("status",))
        status = center.parse_status(status_filter)
        params = parse_params(request.query_params)

        return await read_json(actor, center.list_for_member, params, status)

    @get("/unread-count", operation_id="notifications_unread_count")
    async def unread_count(self, request: Request) -> Response[UnreadCount]:
        actor = _reader(request)

        async def run(conn: AsyncConnection) -> Response:
            return json_response({"count": await center.unread_count(conn, actor)})

        return await read(actor, run)

    @get("/{notification_id:str}", operation_id="get_notification")
    async def get_one(
        self, request: Request, notification_id: FromPath[str]
    ) -> Response[Notification]:
        actor = _reader(request)
        return await read_json(actor, center.get, notification_id)

    @post("/read", status_code=200, operation_id="mark_notifications_read")
    async def mark_read(self, request: Request) -> Response[ReadOut]:
        """``{"ids": [...]}`` or ``{"all": true}``."""
        actor = _writer(request)
        body: ReadIn = await _body(request, ReadIn)
        ids = None if body.ids is _unset() else body.ids
        all_ = body.all is True
        if (ids is None) == (not all_):
            raise validation(
                [{"field": "$", "message": 'Send either "ids" or "all": true (not both).'}]
            )
        state: dict[str, Any] = {}

        async def run(conn: AsyncConnection) -> Response:
            rows = await center.mark_read(conn, actor, ids, all_)
            count = await center.unread_count(conn, actor)
            state.update(rows=rows, count=count)
            return json_response({"updated": len(rows), "unread_count": count})

        response = await write(request, actor, run)
        if state:
            await center.publish_updated(actor.team_id, actor.member_id, state["rows"])
        return response

    async def _one(self, request: Request, id: str, op: Any) -> Response:
        actor = _writer(request)
        state: dict[str, Any] = {}

        async def run(conn: AsyncConnection) -> Response:
            row = await op(conn, actor)
            state["row"] = row
            return json_response(row)

        response = await write(request, actor, run)
        if "row" in state:
            await center.publish_updated(actor.team_id, actor.member_id, [state["row"]])
        return response

    @post("/{notification_id:str}/unread", status_code=200, operation_id="mark_notification_unread")
    async def mark_unread(
        self, request: Request, notification_id: FromPath[str]
    ) -> Response[Notification]:
        return await self._one(
            request,
            notification_id,
            lambda conn, actor: center.mark_unread(conn, actor, notification_id),
        )

    @post("/{notification_id:str}/archive", status_code=200, operation_id="archive_notification")
    async def archive(
        self, request: Request, notification_id: FromPath[str]
    ) -> Response[Notification]:
        """Archive (and un-snooze) a notification; ``status=archived`` lists it."""
        return await self._one(
            request,
            notification_id,
            lambda conn, actor: center.archive(conn, actor, notification_id),
        )

    @post("/{notification_id:str}/snooze", status_code=200, operation_id="snooze_notification")
    async def snooze(
        self, request: Request, notification_id: FromPath[str]
    ) -> Response[Notification]:
        """``{"until": "<RFC 3339 time with offset>"}``: hidden from lists and the unread count
        until then."""
        body: SnoozeIn = await _body(request, SnoozeIn)
        return await self._one(
            request,
            notification_id,
            lambda conn, actor: center.snooze(conn, actor, notification_id, body.until),
        )

    @post("/{notification_id:str}/reply", status_code=201, operation_id="reply_to_mention")
    async def reply(self, request: Request, notification_id: FromPath[str]) -> Response[Any]:
        """Answer a mention: ``{"text": ...}`` becomes a reply comment on the activity the
        member was mentioned in (and the notification is marked read)."""
        actor = _writer(request)
        body: ReplyIn = await _body(request, ReplyIn)

        async def run(conn: AsyncConnection) -> Response:
            return json_response(await center.reply(conn, actor, notification_id, body.text), 201)

        response = await write(request, actor, run)
        if response.status_code < 300:  # the notification was marked read: push it
            async with tenant_tx(api_engine(), actor.team_id, actor.member_id) as conn:
                row = await center.get(conn, actor, notification_id)
            await center.publish_updated(actor.team_id, actor.member_id, [row])
        return response


def _unset() -> Any:
    import msgspec

    return msgspec.UNSET


class PreferencesController(Controller):
    path = "/api/v1/notification-preferences"
    tags = ["notifications"]

    @get("/", operation_id="get_notification_preferences")
    async def get_prefs(self, request: Request) -> Response[Preferences]:
        """Channels per notification type (in_app, email, sms, push, webhook), do-not-disturb
        hours in ``time_zone``, email digest mode, phone and Slack/Teams webhook URLs."""
        actor = _reader(request)
        return await read_json(actor, preferences.get_prefs)

    @put("/", operation_id="put_notification_preferences")
    async def put_prefs(self, request: Request) -> Response[Preferences]:
        """Change what is sent (fields left out stay as they are)."""
        actor = _writer(request)
        body: PreferencesIn = await _body(request, PreferencesIn)
        values = values_of(body)

        return await write_json(request, actor, preferences.put_prefs, values)


class WatchesController(Controller):
    path = "/api/v1/watches"
    tags = ["notifications"]

    @get("/", operation_id="list_watches")
    async def list_watches(self, request: Request) -> Response[list[Watch]]:
        return await _every_own(request, watches.list_watches)

    @post("/", operation_id="create_watch")
    async def create_watch(self, request: Request) -> Response[Watch]:
        """Watch a member (``member_activity`` notifications for what they do) or a record
        (``deal``: its stage changes)."""
        actor = _writer(request)
        body: WatchIn = await _body(request, WatchIn)

        async def run(conn: AsyncConnection) -> Response:
            row, created = await watches.add_watch(conn, actor, body.target_type, body.target_id)
            return json_response(row, 201 if created else 200)

        return await write(request, actor, run)

    @delete("/{watch_id:str}", status_code=204, operation_id="delete_watch")
    async def delete_watch(self, request: Request, watch_id: FromPath[str]) -> Response[None]:
        return await _delete_own(request, watches.delete_watch, watch_id)


class PushController(Controller):
    path = "/api/v1/push-subscriptions"
    tags = ["notifications"]

    @get("/vapid-public-key", operation_id="vapid_public_key")
    async def vapid_key(self, request: Request) -> Response[dict[str, str]]:
        """The application server key browsers subscribe with."""
        from leadly.settings import get_settings

        _reader(request)
        key = get_settings().vapid_public_key
        if not key:
            raise Problem(503, "Web Push is not configured (LEADLY_VAPID_PUBLIC_KEY).")
        return json_response({"public_key": key})

    @get("/", operation_id="list_push_subscriptions")
    async def list_subs(self, request: Request) -> Response[list[PushSubscription]]:
        return await _every_own(request, push.list_push)

    @post("/", operation_id="create_push_subscription")
    async def create_sub(self, request: Request) -> Response[PushSubscription]:
        """A browser's ``PushSubscription.toJSON()``."""
        actor = _writer(request)
        body: PushSubscriptionIn = await _body(request, PushSubscriptionIn)

        async def run(conn: AsyncConnection) -> Response:
            row = await push.add_push(
                conn,
                actor,
                body.endpoint,
                body.keys.p256dh,
                body.keys.auth,
                request.headers.get("user-agent"),
            )
            return json_response(row, 201)

        return await write(request, actor, run)

    @delete("/{subscription_id:str}", status_code=204, operation_id="delete_push_subscription")
    async def delete_sub(self, request: Request, subscription_id: FromPath[str]) -> Response[None]:
        return await _delete_own(request, push.delete_push, subscription_id)


class DeliveriesController(Controller):
    path = "/api/v1/notification-deliveries"
    tags = ["notifications"]

    @get("/", operation_id="list_notification_deliveries")
    async def list_deliveries(self, request: Request) -> Response[list[Delivery]]:
        """The delivery log (email, sms, push, slack, teams): status pending | sending | sent |
        delivered | failed | skipped, attempts, last error. Admins see the whole team's."""
        actor = _reader(request)
        check_known_params(request.query_params)
        params = parse_params(request.query_params)

        return await read_json(actor, delivery_log.list_deliveries, params)

    @post(
        "/twilio-status/{team_id:str}/{delivery_id:str}",
        status_code=204,
        opt={"exclude_from_auth": True},
        operation_id="twilio_status_callback",
    )
    async def twilio_status(
        self, request: Request, team_id: FromPath[str], delivery_id: FromPath[str]
    ) -> Response[None]:
        """Twilio's status callback for one SMS (the URL each SMS names when
        ``LEADLY_API_PUBLIC_URL`` is set), signed with ``X-Twilio-Signature``: ``delivered``,
        ``undelivered`` and ``failed`` settle the delivery; other statuses change nothing."""
        from api.notifications import delivery  # jinja2, httpx: off the API's start-up

        form = await request.form()
        params = {k: v for k, v in form.items() if isinstance(v, str)}
        signature = request.headers.get("x-twilio-signature", "")
        try:
            found = await delivery.apply_sms_status(team_id, delivery_id, params, signature)
        except PermissionError as e:
            raise Problem(403, str(e), title="Forbidden") from None
        if not found:
            raise not_found("SMS delivery", delivery_id)
        return Response(content=None, status_code=204)


# --------------------------------------------------------------------------- the socket


@gateway.add_channels("notifications:read")
async def _member_channel(actor: Actor) -> list[str]:
    return [member_channel(actor.team_id, actor.member_id)]


@gateway.add_greeting("notifications:read")
async def _unread_greeting(actor: Actor) -> list[bytes]:
    from warehouse.db import api_engine, tenant_tx

    async with tenant_tx(api_engine(), actor.team_id, actor.member_id) as conn:
        count = await center.unread_count(conn, actor)
    return [message("unread_count", {"count": count})]


routers = [
    NotificationsController,
    PreferencesController,
    WatchesController,
    PushController,
    DeliveriesController,
]
