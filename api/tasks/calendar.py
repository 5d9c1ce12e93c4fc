"""Per-member iCalendar feeds of tasks.

``POST /api/v1/calendar-feeds`` makes a feed with a secret token (only its keyed hash is
stored) and answers its URL; calendar clients fetch the URL without a bearer token. Revoking the
feed (``DELETE``) makes the URL answer 404. The feed holds the member's tasks (assigned to them)
that have a due date: one VEVENT per task, starting at ``due_at`` for 30 minutes; a recurring
series is one VEVENT with its RRULE and EXDATEs, anchored at the series start in the task's time
zone (with a VTIMEZONE), so the client expands it like Leadly does.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from api.auth.crypto import new_token, token_hash
from api.auth.service import check_member_target
from api.common.records import plausible_id
from api.tasks.basics import zone
from api.tasks.service import ASSIGNEES, TASKS, row_event, task_service
from leadly.actor import Actor
from leadly.ids import new_id
from leadly.problem import Problem, not_found
from warehouse import events
from warehouse.models import CalendarFeed

if TYPE_CHECKING:
    from icalendar import Event

FEEDS = CalendarFeed.__table__
FEED_PREFIX = "ldc_"
FEED_PATH = "/api/v1/calendar-feeds/ics/"
EVENT_LENGTH = timedelta(minutes=30)
STATUS = {
    "todo": "CONFIRMED",
    "in_progress": "CONFIRMED",
    "waiting": "TENTATIVE",
    "completed": "CONFIRMED",
    "cancelled": "CANCELLED",
}
_OUT = [c for c in FEEDS.c if c.name not in ("team_id", "token_hash")]


async def create_feed(
    conn: AsyncConnection, actor: Actor, name: str | None, base_url: str
) -> dict[str, Any]:
    if actor.actor_type != "member":  # a feed URL is a credential: API keys make none
        raise Problem(403, "API keys cannot create calendar feeds; sign in.", title="Forbidden")
    token = new_token(FEED_PREFIX)
    res = await conn.execute(
        FEEDS.insert()
        .values(
            team_id=actor.team_id,
            id=new_id("feed"),
            member_id=actor.member_id,
            name=name,
            token_hash=token_hash(token),
        )
        .returning(*_OUT)
    )
    row = dict(res.one()._mapping)
    await events.append(conn, row_event(actor, "calendar_feed", "created", None, row))
    return {**row, "url": f"{base_url.rstrip('/')}{FEED_PATH}{token}.ics"}


async def list_feeds(conn: AsyncConnection, actor: Actor) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(*_OUT)
        .where(FEEDS.c.team_id == actor.team_id, FEEDS.c.member_id == actor.member_id)
        .order_by(FEEDS.c.created_at, FEEDS.c.id)
    )
    return [dict(r._mapping) for r in rows]


async def revoke_feed(conn: AsyncConnection, actor: Actor, feed_id: str) -> None:
    """Revoke one of the caller's feeds (admins may revoke anyone's)."""
    if not plausible_id(feed_id):
        raise not_found("calendar feed", feed_id)
    q = select(*_OUT).where(
        FEEDS.c.team_id == actor.team_id, FEEDS.c.id == feed_id, FEEDS.c.revoked_at.is_(None)
    )
    if not actor.at_least("admin"):
        q = q.where(FEEDS.c.member_id == actor.member_id)
    current = (await conn.execute(q.with_for_update())).first()
    if current is None:
        raise not_found("calendar feed", feed_id)
    await check_member_target(conn, actor, current.member_id)
    res = await conn.execute(
        update(FEEDS)
        .where(FEEDS.c.team_id == actor.team_id, FEEDS.c.id == feed_id)
        .values(revoked_at=datetime.now(UTC))
        .returning(*_OUT)
    )
    await events.append(
        conn,
        row_event(
            actor, "calendar_feed", "deleted", dict(current._mapping), dict(res.one()._mapping)
        ),
    )


async def resolve(conn: AsyncConnection, token: str) -> tuple[str, str] | None:
    """(team id, member id) of a live feed token, before any team is known."""
    token = token.removesuffix(".ics")
    if not token.startswith(FEED_PREFIX) or len(token) > 200:
        return None
    row = (
        await conn.execute(
            text("SELECT team_id, member_id, revoked_at FROM app.calendar_feed_lookup(:h)"),
            {"h": token_hash(token)},
        )
    ).first()
    if row is None or row.revoked_at is not None:
        return None
    return row.team_id, row.member_id


async def render(conn: AsyncConnection, actor: Actor) -> bytes | None:
    """The member's tasks as an iCalendar document; None when the member is not active."""
    from icalendar import Calendar  # ~160 ms to import: only feed requests pay for it

    active = await conn.scalar(
        text("SELECT is_active FROM app.team_members WHERE team_id = :t AND id = :m"),
        {"t": actor.team_id, "m": actor.member_id},
    )
    if not active:
        return None

    rows = await conn.execute(
        task_service._select.where(
            TASKS.c.team_id == actor.team_id,
            TASKS.c.deleted_at.is_(None),
            TASKS.c.due_at.is_not(None),
            TASKS.c.id.in_(
                select(ASSIGNEES.c.task_id).where(
                    ASSIGNEES.c.team_id == actor.team_id,
                    ASSIGNEES.c.member_id == actor.member_id,
                )
            ),
        ).order_by(TASKS.c.due_at, TASKS.c.id)
    )
    tasks = [dict(r._mapping) for r in rows]
    cal = Calendar()
    cal.add("prodid", "-//Leadly//Tasks//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", "Leadly tasks")
    now = datetime.now(UTC)
    # One VEVENT per series: its live open occurrence when there is one, else its latest.
    series: dict[str, dict[str, Any]] = {}
    for t in tasks:
        if t["recurrence_rule"] and t["series_id"]:
            prev = series.get(t["series_id"])
            if prev is None or (prev["status"] not in ("todo", "in_progress", "waiting")):
                series[t["series_id"]] = t
    for t in tasks:
        if t["recurrence_rule"] and t["series_id"]:
            if series.get(t["series_id"]) is not t:
                continue
            cal.add_component(_vevent(t, now, recurring=True))
        else:
            cal.add_component(_vevent(t, now, recurring=False))
    cal.add_missing_timezones()
    return cal.to_ical()


def _vevent(t: dict[str, Any], now: datetime, *, recurring: bool) -> Event:
    from icalendar import Event, vRecur

    ev = Event()
    ev.add("uid", f"{t['series_id'] if recurring else t['id']}@leadly")
    ev.add("dtstamp", now)
    ev.add("last-modified", t["updated_at"].astimezone(UTC))
    ev.add("summary", t["title"])
    if t["description"]:
        ev.add("description", t["description"])
    ev.add("status", STATUS[t["status"]])
    ev.add("priority", {"urgent": 1, "high": 3, "medium": 5, "low": 9}[t["priority"]])
    if t["tags"]:
        ev.add("categories", list(t["tags"]))
    if recurring:
        tz = zone(t["time_zone"])
        start = (t["series_start_at"] or t["due_at"]).astimezone(tz)
        ev.add("dtstart", start)
        ev.add("duration", EVENT_LENGTH)
        ev.add("rrule", vRecur.from_ical(t["recurrence_rule"]))
        for ex in t["recurrence_exdates"]:
            ev.add("exdate", ex.astimezone(tz))
        ev.add("x-leadly-task-id", t["id"])
    else:
        ev.add("dtstart", t["due_at"].astimezone(UTC))
        ev.add("duration", EVENT_LENGTH)
    return ev
