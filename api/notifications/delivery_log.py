"""The delivery log: each external delivery of a notification (email, SMS, push, Slack,
Teams), its status and attempts, as :mod:`api.notifications.delivery` records them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.listing import Lister, ListParams
from leadly.actor import Actor
from warehouse.models import NotificationDelivery

deliveries = NotificationDelivery.__table__

DELIVERY_FIELDS = (
    "id",
    "notification_id",
    "member_id",
    "channel",
    "status",
    "digest",
    "attempts",
    "next_attempt_at",
    "last_error",
    "provider_id",
    "sent_at",
    "delivered_at",
    "created_at",
    "updated_at",
)
delivery_lister = Lister({n: deliveries.c[n] for n in DELIVERY_FIELDS}, deliveries.c.id)


async def list_deliveries(
    conn: AsyncConnection, actor: Actor, params: ListParams
) -> dict[str, Any]:
    """The caller's deliveries; an admin sees the whole team's."""
    d = deliveries.c
    stmt = select(*[d[n] for n in DELIVERY_FIELDS]).where(d.team_id == actor.team_id)
    if not actor.at_least("admin"):
        stmt = stmt.where(d.member_id == actor.member_id)
    stmt = stmt.where(*delivery_lister.where(params.filters))
    stmt, keys = delivery_lister.apply(stmt, params)
    rows = list(await conn.execute(stmt))
    has_more = len(rows) > params.limit
    data = [dict(r._mapping) for r in rows[: params.limit]]
    next_cursor = delivery_lister.encode_cursor(keys, data[-1]) if has_more and data else None
    return {"data": data, "next_cursor": next_cursor, "has_more": has_more}
