"""The notification center: what a member sees of their notifications (lists by status, the
unread count, one notification) and does with them (read, unread, archive, snooze, reply to a
mention), the snoozes that end (:func:`wake_snoozed`), and what goes to the member's real-time
channel (``notification.created`` / ``notification.updated`` and ``unread_count``).

Whether a snooze is over is decided by :func:`leadly.clock.now` (passed to the queries), so
tests move the clock instead of waiting."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.listing import Lister, ListParams
from api.common.records import actor_event
from api.realtime import broker
from leadly import clock
from leadly.actor import Actor
from leadly.problem import Problem, bad_param, not_found, validation
from warehouse import events
from warehouse.db import api_engine, tenant_tx
from warehouse.db import engine as db_engine
from warehouse.events import EventRecord
from warehouse.models import Notification

notifications = Notification.__table__

STATUSES = ("unread", "read", "archived")

PUBLIC = (
    "id",
    "type",
    "title",
    "message",
    "action_url",
    "priority",
    "related_to_type",
    "related_to_id",
    "actor_id",
    "metadata",
    "read_at",
    "archived_at",
    "snoozed_until",
    "created_at",
    "updated_at",
)


def present(row: Any) -> dict[str, Any]:
    m = row._mapping if hasattr(row, "_mapping") else row
    out = {k: m[k] for k in PUBLIC}
    out["status"] = "archived" if out["archived_at"] else ("read" if out["read_at"] else "unread")
    return out


def clip(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def system_event(
    team_id: str,
    id: str,
    action: str,
    changes: dict[str, list[Any]],
    data: dict[str, Any] | None = None,
) -> EventRecord:
    """The event of a change the system made to notification ``id``."""
    return EventRecord(
        team_id=team_id,
        actor_type="system",
        actor_id=None,
        object_type="notification",
        object_id=id,
        action=action,
        changes=changes,
        data=data,
    )


# =========================================================================== real time


def by_member(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """``rows`` (each with its ``member_id``) grouped by member, in order."""
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["member_id"], []).append(r)
    return out


def _wire(n: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in n.items() if k != "member_id"}
    return out


async def publish_created(
    team_id: str, member_id: str, items: list[dict[str, Any]], count: int | None = None
) -> None:
    channel = broker.member_channel(team_id, member_id)
    for n in items:
        payload = broker.message("notification.created", _wire(n))
        if len(payload) > broker.PG_MAX_PAYLOAD:
            slim = _wire(n) | {"message": clip(n["message"], 200), "metadata": {}}
            payload = broker.message("notification.created", slim | {"truncated": True})
        await broker.publish_quietly(channel, payload)
    await publish_count(team_id, member_id, count)


async def publish_count(team_id: str, member_id: str, count: int | None = None) -> None:
    if count is None:
        async with tenant_tx(api_engine(), team_id, member_id) as conn:
            count = await unread_of(conn, team_id, member_id)
    await broker.publish_quietly(
        broker.member_channel(team_id, member_id), broker.message("unread_count", {"count": count})
    )


async def publish_updated(team_id: str, member_id: str, rows: list[dict[str, Any]]) -> None:
    channel = broker.member_channel(team_id, member_id)
    for n in rows[:100]:
        await broker.publish_quietly(channel, broker.message("notification.updated", _wire(n)))
    await publish_count(team_id, member_id)


# =========================================================================== the center


def _visible() -> Any:
    """Not snoozed, or snoozed until a time that has come (before :func:`wake_snoozed` ran)."""
    c = notifications.c
    return or_(c.snoozed_until.is_(None), c.snoozed_until <= clock.now())


def status_filter(status: str | None) -> list[Any]:
    c = notifications.c
    if status == "archived":
        return [c.archived_at.is_not(None)]
    base = [c.archived_at.is_(None), _visible()]
    if status == "unread":
        return [*base, c.read_at.is_(None)]
    if status == "read":
        return [*base, c.read_at.is_not(None)]
    return base


def parse_status(raw: str | None) -> str | None:
    if raw is None or raw == "":
        return None
    if raw not in STATUSES:
        raise bad_param(
            "status",
            f"status must be one of {', '.join(STATUSES)}, not {raw!r}.",
            "Unknown status.",
        )
    return raw


LIST_FIELDS = (
    "id",
    "type",
    "priority",
    "related_to_type",
    "related_to_id",
    "actor_id",
    "read_at",
    "archived_at",
    "snoozed_until",
    "created_at",
    "updated_at",
    "title",
)
lister = Lister({n: notifications.c[n] for n in LIST_FIELDS}, notifications.c.id)


async def list_for_member(
    conn: AsyncConnection, actor: Actor, params: ListParams, status: str | None
) -> dict[str, Any]:
    c = notifications.c
    stmt = select(notifications).where(
        c.team_id == actor.team_id, c.member_id == actor.member_id, *status_filter(status)
    )
    stmt = stmt.where(*lister.where(params.filters))
    stmt, keys = lister.apply(stmt, params)
    return lister.page(list(await conn.execute(stmt)), keys, params, present)


async def unread_of(conn: AsyncConnection, team_id: str, member_id: str) -> int:
    c = notifications.c
    return int(
        (
            await conn.execute(
                select(func.count())
                .select_from(notifications)
                .where(c.team_id == team_id, c.member_id == member_id, *status_filter("unread"))
            )
        ).scalar_one()
    )


async def unread_count(conn: AsyncConnection, actor: Actor) -> int:
    return await unread_of(conn, actor.team_id, actor.member_id)


async def get(conn: AsyncConnection, actor: Actor, id: str, *, lock: bool = False) -> dict:
    c = notifications.c
    q = select(notifications).where(
        c.team_id == actor.team_id, c.member_id == actor.member_id, c.id == id
    )
    if lock:
        q = q.with_for_update()
    row = (await conn.execute(q)).first()
    if row is None:
        raise not_found("notification", id)
    return present(row)


def _event(actor: Actor, id: str, action: str, before: dict, after: dict) -> EventRecord:
    return actor_event(actor, "notification", id, action, events.diff(before, after))


async def _change(
    conn: AsyncConnection, actor: Actor, id: str, action: str, values: dict[str, Any]
) -> dict[str, Any]:
    current = await get(conn, actor, id, lock=True)
    c = notifications.c
    row = (
        await conn.execute(
            update(notifications)
            .where(c.team_id == actor.team_id, c.id == id)
            .values(**values, updated_at=func.now())
            .returning(*notifications.c)
        )
    ).one()
    after = present(row)
    changed = {k: current[k] for k in values}
    await events.append(conn, _event(actor, id, action, changed, {k: after[k] for k in values}))
    return after


async def mark_read(
    conn: AsyncConnection, actor: Actor, ids: list[str] | None, all_: bool
) -> list[dict[str, Any]]:
    """Mark the given notifications (every unread one with ``all_``) read; 404 if an id is not
    one of the caller's."""
    c = notifications.c
    mine = and_(c.team_id == actor.team_id, c.member_id == actor.member_id)
    if all_:
        where = and_(mine, c.read_at.is_(None), c.archived_at.is_(None))
    else:
        wanted = list(dict.fromkeys(ids or []))
        found = {
            r.id
            for r in await conn.execute(
                select(c.id).where(mine, c.id.in_(wanted)).with_for_update()
            )
        }
        missing = [i for i in wanted if i not in found]
        if missing:
            raise Problem(
                404,
                f"No notification with id {missing[0]!r}.",
                errors=[
                    {"field": "ids", "message": f"Unknown notification {m!r}."} for m in missing
                ],
            )
        where = and_(mine, c.id.in_(wanted), c.read_at.is_(None))
    rows = [
        present(r)
        for r in await conn.execute(
            update(notifications)
            .where(where)
            .values(read_at=func.now(), updated_at=func.now())
            .returning(*notifications.c)
        )
    ]
    if rows:
        await events.append(
            conn,
            *[
                _event(actor, r["id"], "read", {"read_at": None}, {"read_at": r["read_at"]})
                for r in rows
            ],
        )
    return rows


async def mark_unread(conn: AsyncConnection, actor: Actor, id: str) -> dict[str, Any]:
    return await _change(conn, actor, id, "unread", {"read_at": None})


async def archive(conn: AsyncConnection, actor: Actor, id: str) -> dict[str, Any]:
    current = await get(conn, actor, id)
    values: dict[str, Any] = {"snoozed_until": None}
    if current["archived_at"] is None:
        values["archived_at"] = func.now()
    return await _change(conn, actor, id, "archived", values)


async def snooze(conn: AsyncConnection, actor: Actor, id: str, until: datetime) -> dict[str, Any]:
    now = clock.now()
    if until <= now:
        raise validation([{"field": "until", "message": "Must be in the future."}])
    if until > now + timedelta(days=366):
        raise validation([{"field": "until", "message": "At most a year ahead."}])
    current = await get(conn, actor, id)
    if current["archived_at"] is not None:
        raise Problem(409, "An archived notification cannot be snoozed.", title="Conflict")
    return await _change(conn, actor, id, "snoozed", {"snoozed_until": until})


async def reply(conn: AsyncConnection, actor: Actor, id: str, text_: str) -> dict[str, Any]:
    """Answer a mention: the comment is created by the activities service (as a reply to the
    comment that mentioned the caller), and the notification is marked read."""
    n = await get(conn, actor, id, lock=True)
    if n["type"] != "mention":
        raise Problem(
            409, "Only a mention can be answered from its notification.", title="Conflict"
        )
    activity_id = n["metadata"].get("activity_id")
    if not activity_id:
        raise Problem(
            409, "This mention does not name the activity it was made in.", title="Conflict"
        )
    try:
        from api.activities import comments as activities
    except ImportError:
        raise Problem(
            501, "Comments are not available in this installation.", title="Not Implemented"
        ) from None
    comment = await activities.add_comment(
        conn, actor, activity_id, text_, parent_comment_id=n["metadata"].get("comment_id")
    )
    if n["read_at"] is None:
        await _change(conn, actor, id, "read", {"read_at": func.now()})
    return comment if isinstance(comment, dict) else {"comment": comment}


async def wake_snoozed() -> dict[str, int]:
    """Bring back every notification whose snooze ended (``snoozed_until`` cleared, an event
    ``woken``) and push ``notification.updated`` + ``unread_count`` to its member. Run every
    minute by Dagster; a snoozed notification is hidden only until its time even before it
    runs."""
    now = clock.now()
    async with db_engine("worker").connect() as wconn:
        teams = [
            r.team_id
            for r in await wconn.execute(
                text(
                    "SELECT DISTINCT team_id FROM app.notifications "
                    "WHERE snoozed_until IS NOT NULL AND snoozed_until <= :now"
                ),
                {"now": now},
            )
        ]
    woken = 0
    for team_id in teams:
        async with tenant_tx(api_engine(), team_id) as conn:
            c = notifications.c
            old = {
                r.id: r.snoozed_until
                for r in await conn.execute(
                    select(c.id, c.snoozed_until)
                    .where(c.team_id == team_id, c.snoozed_until <= now)
                    .with_for_update(skip_locked=True)
                )
            }
            if not old:
                continue
            rows = [
                present(r) | {"member_id": r.member_id}
                for r in await conn.execute(
                    update(notifications)
                    .where(c.team_id == team_id, c.id.in_(list(old)))
                    .values(snoozed_until=None, updated_at=func.now())
                    .returning(*notifications.c)
                )
            ]
            await events.append(
                conn,
                *[
                    system_event(
                        team_id,
                        r["id"],
                        "woken",
                        events.diff({"snoozed_until": old[r["id"]]}, {"snoozed_until": None}),
                    )
                    for r in rows
                ],
            )
        woken += len(rows)
        for member_id, items in by_member(rows).items():
            await publish_updated(team_id, member_id, items)
    return {"woken": woken}
