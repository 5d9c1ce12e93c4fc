"""Watches: a member follows a record (deal, lead, contact, account, task) or another member;
the producers notify a record's watchers (:func:`watchers_of`) of its stage changes and a watched
member's new records."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.records import actor_event
from api.notifications.own import delete_own, list_own
from leadly.actor import Actor
from leadly.ids import new_id
from leadly.problem import not_found, validation
from warehouse import events
from warehouse.models import TeamMember, Watch
from warehouse.models.notifications import WATCH_TARGETS

watches = Watch.__table__
members = TeamMember.__table__
FIELDS = ("id", "target_type", "target_id", "created_at")


async def list_watches(conn: AsyncConnection, actor: Actor) -> list[dict[str, Any]]:
    return await list_own(conn, actor, watches, FIELDS)


_TARGET_TABLES = {
    "deal": "deals",
    "lead": "leads",
    "contact": "contacts",
    "account": "accounts",
    "task": "tasks",
}


async def _target_exists(conn: AsyncConnection, actor: Actor, target_type: str, id: str) -> bool:
    if target_type == "member":
        m = members.c
        row = (
            await conn.execute(
                select(m.id).where(m.team_id == actor.team_id, m.id == id, m.is_active.is_(True))
            )
        ).first()
        return row is not None
    table = _TARGET_TABLES[target_type]
    exists = (await conn.execute(text(f"SELECT to_regclass('app.{table}') IS NOT NULL"))).scalar()
    if not exists:
        return False
    row = (
        await conn.execute(
            text(f"SELECT 1 FROM app.{table} WHERE team_id = :t AND id = :id"),
            {"t": actor.team_id, "id": id},
        )
    ).first()
    return row is not None


async def add_watch(
    conn: AsyncConnection, actor: Actor, target_type: str, target_id: str
) -> tuple[dict[str, Any], bool]:
    if target_type not in WATCH_TARGETS:
        raise validation(
            [{"field": "target_type", "message": f"One of {', '.join(WATCH_TARGETS)}."}]
        )
    if target_type == "member" and target_id == actor.member_id:
        raise validation([{"field": "target_id", "message": "You cannot watch yourself."}])
    if not await _target_exists(conn, actor, target_type, target_id):
        raise not_found(target_type, target_id)
    w = watches.c
    row = (
        await conn.execute(
            pg_insert(watches)
            .values(
                team_id=actor.team_id,
                id=new_id("wch"),
                member_id=actor.member_id,
                target_type=target_type,
                target_id=target_id,
            )
            .on_conflict_do_nothing(
                index_elements=["team_id", "member_id", "target_type", "target_id"]
            )
            .returning(*(w[k] for k in FIELDS))
        )
    ).first()
    if row is None:
        existing = (
            await conn.execute(
                select(*(w[k] for k in FIELDS)).where(
                    w.team_id == actor.team_id,
                    w.member_id == actor.member_id,
                    w.target_type == target_type,
                    w.target_id == target_id,
                )
            )
        ).one()
        return dict(existing._mapping), False
    out = dict(row._mapping)
    await events.append(
        conn,
        actor_event(
            actor,
            "watch",
            out["id"],
            "created",
            events.diff(None, {"target_type": target_type, "target_id": target_id}),
        ),
    )
    return out, True


async def delete_watch(conn: AsyncConnection, actor: Actor, id: str) -> None:
    await delete_own(conn, actor, watches, id, "watch", "watch", ("target_type", "target_id"))


async def watchers_of(
    conn: AsyncConnection, team_id: str, target_type: str, target_id: str
) -> list[str]:
    w = watches.c
    rows = await conn.execute(
        select(w.member_id).where(
            w.team_id == team_id, w.target_type == target_type, w.target_id == target_id
        )
    )
    return [r.member_id for r in rows]
