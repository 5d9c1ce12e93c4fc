"""A member's own rows (watches, push subscriptions): listed and deleted only by that member."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.records import actor_event
from leadly.actor import Actor
from leadly.problem import not_found
from warehouse import events


async def list_own(
    conn: AsyncConnection, actor: Actor, table: Table, columns: tuple[str, ...]
) -> list[dict[str, Any]]:
    """The caller's ``table`` rows (``columns`` of them), oldest first."""
    c = table.c
    rows = await conn.execute(
        select(*(c[k] for k in columns))
        .where(c.team_id == actor.team_id, c.member_id == actor.member_id)
        .order_by(c.created_at, c.id)
    )
    return [dict(r._mapping) for r in rows]


async def delete_own(
    conn: AsyncConnection,
    actor: Actor,
    table: Table,
    id: str,
    object_type: str,
    label: str,
    kept: tuple[str, ...],
) -> None:
    """Delete the caller's own ``table`` row ``id`` (404 otherwise) with its ``deleted`` event,
    whose changes carry the ``kept`` columns."""
    c = table.c
    row = (
        await conn.execute(
            table.delete()
            .where(c.team_id == actor.team_id, c.member_id == actor.member_id, c.id == id)
            .returning(*(c[k] for k in kept))
        )
    ).first()
    if row is None:
        raise not_found(label, id)
    before = dict(row._mapping)
    await events.append(
        conn, actor_event(actor, object_type, id, "deleted", events.diff(before, None))
    )
