"""Web Push subscriptions: a browser's ``PushSubscription`` per member and endpoint (the
``push`` channel's targets; :mod:`api.notifications.delivery` sends to them and drops one its
push service says is gone)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common import outbound
from api.common.records import actor_event
from api.notifications.own import delete_own, list_own
from leadly.actor import Actor
from leadly.ids import new_id
from warehouse import events
from warehouse.models import PushSubscription

push_subs = PushSubscription.__table__
FIELDS = ("id", "endpoint", "created_at")


async def list_push(conn: AsyncConnection, actor: Actor) -> list[dict[str, Any]]:
    return await list_own(conn, actor, push_subs, FIELDS)


async def add_push(
    conn: AsyncConnection, actor: Actor, endpoint: str, p256dh: str, auth: str, ua: str | None
) -> dict[str, Any]:
    await outbound.check_url(endpoint, "endpoint")  # a push service's public https endpoint
    p = push_subs.c
    row = (
        await conn.execute(
            pg_insert(push_subs)
            .values(
                team_id=actor.team_id,
                id=new_id("psub"),
                member_id=actor.member_id,
                endpoint=endpoint,
                p256dh=p256dh,
                auth=auth,
                user_agent=(ua or "")[:500] or None,
            )
            .on_conflict_do_update(
                index_elements=["team_id", "member_id", "endpoint"],
                set_={"p256dh": p256dh, "auth": auth},
            )
            .returning(*(p[k] for k in FIELDS))
        )
    ).one()
    out = dict(row._mapping)
    await events.append(
        conn,
        actor_event(
            actor,
            "push_subscription",
            out["id"],
            "created",
            events.diff(None, {"endpoint": endpoint}),
        ),
    )
    return out


async def delete_push(conn: AsyncConnection, actor: Actor, id: str) -> None:
    await delete_own(
        conn, actor, push_subs, id, "push_subscription", "push subscription", ("endpoint",)
    )
