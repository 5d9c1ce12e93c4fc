"""Record timelines: a record's activity entries (and its children's), newest first, with
filters and grouping by day (in the member's time zone) or type."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import and_, false, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from api.activities import objects, paging
from api.activities.service import ACTIVITY_COLUMNS, activities
from api.common.listing import _parse_datetime
from leadly.actor import Actor
from leadly.problem import Problem, not_found
from warehouse.models import TeamMember

members = TeamMember.__table__


def parse_moment(raw: str, field: str, *, end: bool = False) -> datetime:
    """A ``from``/``to`` filter as a moment (400 naming ``field``); with ``end``, a date is the
    end of that day."""
    value = raw.strip()
    try:
        moment = _parse_datetime(value)
    except (ValueError, OverflowError):
        raise Problem(
            400,
            f"{field} must be an ISO 8601 date or timestamp, not {raw!r}.",
            errors=[{"field": field, "message": "Not an ISO 8601 date or timestamp."}],
        ) from None
    if end and len(value) == 10:  # a date: the whole day is included
        try:
            moment += timedelta(days=1)
        except OverflowError:  # 9999-12-31: its next day is past what a datetime holds
            raise Problem(
                400,
                f"{field} must be a date before 9999-12-31, not {raw!r}.",
                errors=[{"field": field, "message": "Out of range."}],
            ) from None
    return moment


class TimelineQuery(msgspec.Struct, kw_only=True):
    types: list[str] | None = None
    start: datetime | None = None
    end: datetime | None = None
    member_id: str | None = None
    related_to_type: str | None = None
    related_to_id: str | None = None
    group_by: str | None = None
    limit: int = 50
    cursor: str | None = None


def timeline_statement(actor: Actor, targets: Mapping[str, list[str]], q: TimelineQuery) -> Any:
    """The page query of a timeline over ``targets`` (object type → ids), newest first; None
    when no record is left after the filters."""
    t = activities
    if not any(targets.values()):
        return None
    related = [
        and_(
            t.c.related_to_type == k,
            t.c.related_to_id.in_(v) if len(v) > 1 else t.c.related_to_id == v[0],
        )
        for k, v in targets.items()
        if v
    ]
    stmt = select(*ACTIVITY_COLUMNS).where(
        t.c.team_id == actor.team_id, t.c.deleted_at.is_(None), or_(false(), *related)
    )
    if q.types:
        stmt = stmt.where(t.c.type.in_(q.types))
    if q.start is not None:
        stmt = stmt.where(t.c.occurred_at >= q.start)
    if q.end is not None:
        stmt = stmt.where(t.c.occurred_at < q.end)
    if q.member_id is not None:
        stmt = stmt.where(t.c.member_id == q.member_id)
    if q.cursor:
        at, aid = paging.moment_and_id(q.cursor)
        stmt = stmt.where(tuple_(t.c.occurred_at, t.c.id) < tuple_(at, aid))
    return stmt.order_by(t.c.occurred_at.desc(), t.c.id.desc()).limit(q.limit + 1)


async def timeline_page(
    conn: AsyncConnection,
    actor: Actor,
    obj: objects.TimelineObject,
    record_id: str,
    q: TimelineQuery,
) -> dict[str, Any]:
    """The record's entries (and its children's: an account's contacts and deals, a record's
    tasks), newest first."""
    targets = await objects.resolve(conn, actor, obj, record_id)
    if targets is None:
        raise not_found(obj.object_type, record_id)
    if q.related_to_type is not None:
        targets = {k: v for k, v in targets.items() if k == q.related_to_type}
    if q.related_to_id is not None:
        targets = {k: [i for i in v if i == q.related_to_id] for k, v in targets.items()}
    stmt = timeline_statement(actor, targets, q)
    rows = [dict(r._mapping) for r in await conn.execute(stmt)] if stmt is not None else []
    page = paging.page(rows, q.limit, "occurred_at")
    if q.group_by:
        page = {
            "group_by": q.group_by,
            "groups": await _group(conn, actor, page["data"], q.group_by),
            **page,
        }
    return page


async def _group(
    conn: AsyncConnection, actor: Actor, rows: list[dict[str, Any]], by: str
) -> list[dict[str, Any]]:
    """The page's entries in groups, in page order: by calendar day in the member's time zone,
    or by type. A day may continue on the next page (same key)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    if by == "day":
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        tz_name = (
            await conn.execute(
                select(members.c.time_zone).where(
                    members.c.team_id == actor.team_id, members.c.id == actor.member_id
                )
            )
        ).scalar_one_or_none() or "UTC"
        try:
            tz = ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError):
            tz = ZoneInfo("UTC")
        for r in rows:
            groups.setdefault(r["occurred_at"].astimezone(tz).date().isoformat(), []).append(r)
    else:
        for r in rows:
            groups.setdefault(r["type"], []).append(r)
    return [{"key": k, "count": len(v), "items": v} for k, v in groups.items()]
