"""RFC 5545 recurrence with python-dateutil, in the task's time zone.

A series is anchored at ``series_start_at`` (DTSTART) and expanded in the task's zone, so "every
day at 09:00" stays 09:00 local across daylight-saving changes. ``UNTIL`` is stored in UTC
(``...Z``, as RFC 5545 requires with a zoned DTSTART); a floating or date-only ``UNTIL`` given
by a client is read in the task's zone (a date means the end of that day) and rewritten.
Exceptions (EXDATE) are occurrence start times that are skipped.

The operations on a task's series take the task service (``tasks``) they work through: finishing
an occurrence creates the next one (:func:`spawn_next`, called by the service's update), a "this
and following" edit splits the series (:func:`split_series`), :func:`upcoming` lists what is
next.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from dateutil.rrule import YEARLY, rrule, rruleset, rrulestr
from sqlalchemy import Table, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from api.tasks.basics import DONE, zone
from leadly.actor import Actor
from leadly.problem import Problem, validation
from warehouse.models import Task

if TYPE_CHECKING:
    from api.tasks.service import TaskService

ALLOWED_FREQ = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
_UNTIL = re.compile(r"UNTIL=([0-9T]+Z?)", re.IGNORECASE)
MAX_LENGTH = 500
PROBE = timedelta(days=3653)


class RuleError(ValueError):
    pass


def _strip(rule: str) -> str:
    text = rule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    return text


def normalize(rule: str, tz: ZoneInfo, start: datetime | None = None) -> str:
    """Validate ``rule`` (an RRULE value, with or without the ``RRULE:`` prefix) and return it
    in canonical form with ``UNTIL`` in UTC. Raises :class:`RuleError` with a readable reason.

    The rule must produce an occurrence within ten years of ``start`` (default: now): a rule
    that never matches (``FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30``) would otherwise make dateutil
    search to the year 9999."""
    text = _strip(rule)
    if not text or len(text) > MAX_LENGTH or "\n" in text or "\r" in text:
        raise RuleError("Expected one RRULE value such as FREQ=WEEKLY;BYDAY=MO,WE.")
    parts = {}
    for part in text.split(";"):
        key, sep, value = part.partition("=")
        if not sep or not key or not value:
            raise RuleError(f"{part!r} is not NAME=VALUE.")
        key = key.upper()
        if key in parts:
            raise RuleError(f"{key} is given twice.")
        if key in ("DTSTART", "TZID"):
            raise RuleError(f"{key} does not belong in the rule: the task's due_at is the start.")
        parts[key] = value.upper() if key != "UNTIL" else value
    freq = parts.get("FREQ")
    if freq not in ALLOWED_FREQ:
        raise RuleError(f"FREQ must be one of {', '.join(ALLOWED_FREQ)}.")
    if freq in ("DAILY", "WEEKLY"):
        # Rules dateutil could search for thousands of years without a match (see _probe):
        # none is something a person means ("every 7 days, on Mondays": use FREQ=WEEKLY).
        if "BYSETPOS" in parts:
            raise RuleError(f"BYSETPOS applies to MONTHLY or YEARLY rules, not {freq}.")
        if any(not d.isalpha() for d in parts.get("BYDAY", "").split(",") if d):
            raise RuleError(
                f"Numbered weekdays (2TU) apply to MONTHLY or YEARLY rules, not {freq}."
            )
        if parts.get("INTERVAL", "1") != "1":
            allowed = {"FREQ", "INTERVAL", "COUNT", "UNTIL", "WKST", "BYHOUR", "BYMINUTE"}
            if freq == "WEEKLY":
                allowed.add("BYDAY")
            extra = sorted(set(parts) - allowed)
            if extra:
                raise RuleError(
                    f"{', '.join(extra)} cannot be combined with INTERVAL in a {freq} rule."
                )
    if "UNTIL" in parts and "COUNT" in parts:
        raise RuleError("UNTIL and COUNT cannot both be given.")
    if "UNTIL" in parts:
        parts["UNTIL"] = _until_utc(parts["UNTIL"], tz)
    canonical = ";".join(f"{k}={v}" for k, v in parts.items())
    begin = (start or datetime.now(UTC)).astimezone(tz).replace(microsecond=0)
    try:
        r = rrulestr(canonical, dtstart=begin)
        assert isinstance(r, rrule)
        first = _probe(parts, r, begin)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as e:
        raise RuleError(f"Not a valid RRULE: {e}.") from None
    if first is None:
        raise RuleError("The rule has no occurrence in the ten years from the due date.")
    return canonical


def _probe(parts: dict[str, str], r: rrule, begin: datetime) -> datetime | None:
    """The rule's first occurrence within ten years of ``begin`` (None: none).

    dateutil walks period by period until it yields a date or reaches the year 9999, so a rule
    that never matches would search millions of days. A DAILY or WEEKLY rule without INTERVAL,
    BYSETPOS or numbered weekdays, and with a day filter (BYMONTHDAY, BYYEARDAY, BYWEEKNO or
    BYDAY), selects the same dates as the YEARLY rule with the same BY parts, which walks at
    most ten thousand periods: that one is probed instead. Without a day filter such a rule
    matches within a year anyway."""
    end = begin + PROBE
    until = r._until
    if until is not None and until < end:
        end = until
    probe = r
    simple_by_day = all(d.isalpha() for d in parts.get("BYDAY", "").split(",") if d)
    day_filters = {"BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYDAY"} & set(parts)
    if (
        parts["FREQ"] in ("DAILY", "WEEKLY")
        and parts.get("INTERVAL", "1") == "1"
        and "BYSETPOS" not in parts
        and simple_by_day
        and day_filters  # without one, YEARLY would keep only DTSTART's day of the month
    ):
        probe = r.replace(freq=YEARLY)
    if r._count == 0:
        return None
    found = probe.replace(count=None, until=None).after(begin, inc=True)
    return found if found is not None and found <= end else None


def _until_utc(raw: str, tz: ZoneInfo) -> str:
    v = raw.strip().upper()
    try:
        if v.endswith("Z"):
            moment = datetime.strptime(v, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        elif "T" in v:
            moment = datetime.strptime(v, "%Y%m%dT%H%M%S").replace(tzinfo=tz)
        else:
            day = datetime.strptime(v, "%Y%m%d")
            moment = (day + timedelta(days=1, seconds=-1)).replace(tzinfo=tz)
    except ValueError:
        raise RuleError(f"UNTIL={raw} is not a date (YYYYMMDD) or date-time.") from None
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def series(rule: str, start: datetime, tz: ZoneInfo, exdates: Iterable[datetime] = ()) -> rruleset:
    """The occurrences of ``rule`` from ``start`` (aware), expanded in ``tz``."""
    local_start = start.astimezone(tz).replace(microsecond=0)
    rset = rruleset()
    r = rrulestr(_strip(rule), dtstart=local_start)
    assert isinstance(r, rrule)
    rset.rrule(r)
    for ex in exdates:
        rset.exdate(ex.astimezone(tz))
    return rset


def next_after(
    rule: str, start: datetime, tz: ZoneInfo, exdates: Iterable[datetime], after: datetime
) -> datetime | None:
    """The first occurrence strictly after ``after``, in UTC (None when the series ended)."""
    nxt = series(rule, start, tz, exdates).after(after.astimezone(tz), inc=False)
    return None if nxt is None else nxt.astimezone(UTC)


def occurrences(
    rule: str,
    start: datetime,
    tz: ZoneInfo,
    exdates: Iterable[datetime] = (),
    *,
    limit: int = 50,
    after: datetime | None = None,
) -> list[datetime]:
    """Up to ``limit`` occurrences (UTC), from ``after`` (exclusive) or from the start."""
    out: list[datetime] = []
    s = series(rule, start, tz, exdates)
    it = s.xafter(after.astimezone(tz), count=limit, inc=False) if after else iter(s)
    for dt in it:
        out.append(dt.astimezone(UTC))
        if len(out) >= limit:
            break
    return out


def with_until(rule: str, until: datetime) -> str:
    """``rule`` ending at ``until`` (exclusive of later occurrences): COUNT/UNTIL replaced."""
    parts = [
        p for p in _strip(rule).split(";") if p.split("=", 1)[0].upper() not in ("UNTIL", "COUNT")
    ]
    parts.append("UNTIL=" + until.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ"))
    return ";".join(parts)


# ---------------------------------------------------------------------- a task's series

TASKS: Table = Task.__table__
# What a copy keeps of its task: the next occurrence (with SERIES too) and each copied subtask.
COPIED = (
    "title",
    "description",
    "priority",
    "assignee_ids",
    "related_to_type",
    "related_to_id",
    "tags",
    "estimated_hours",
    "reminders",
    "custom",
)
SERIES = ("parent_task_id", "recurrence_rule", "recurrence_exdates")


def _copy(row: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    out = {f: row.get(f) for f in fields}
    if out.get("estimated_hours") is not None:
        out["estimated_hours"] = float(out["estimated_hours"])
    return out


async def spawn_next(
    tasks: TaskService, conn: AsyncConnection, actor: Actor, done: Mapping[str, Any]
) -> dict[str, Any] | None:
    """Create the occurrence after ``done`` (subtasks copied); None when the series ended."""
    tz = zone(done["time_zone"])
    anchor = done.get("occurrence_at") or done["due_at"]
    start = done.get("series_start_at") or done["due_at"]
    slot = next_after(
        done["recurrence_rule"], start, tz, done.get("recurrence_exdates") or [], anchor
    )
    if slot is None:
        return None
    nxt = await tasks.create(
        conn,
        actor,
        {
            **_copy(done, COPIED + SERIES),
            "status": "todo",
            "due_at": slot,
            "series_id": done.get("series_id") or done["id"],
            "series_start_at": start,
            "occurrence_at": slot,
        },
        data={"recurrence_of": done["id"]},
    )
    shift = slot - (done.get("due_at") or anchor)
    await _copy_subtasks(tasks, conn, actor, done["id"], nxt["id"], shift)
    return nxt


async def _copy_subtasks(
    tasks: TaskService,
    conn: AsyncConnection,
    actor: Actor,
    from_id: str,
    to_id: str,
    shift: timedelta,
) -> None:
    rows = await conn.execute(
        tasks._select.where(
            TASKS.c.team_id == actor.team_id,
            TASKS.c.parent_task_id == from_id,
            TASKS.c.deleted_at.is_(None),
        ).order_by(TASKS.c.created_at, TASKS.c.id)
    )
    for sub in [dict(r._mapping) for r in rows]:
        values = _copy(sub, COPIED)
        values["due_at"] = sub["due_at"] + shift if sub["due_at"] else None
        copy = await tasks.create(
            conn,
            actor,
            {**values, "status": "todo", "parent_task_id": to_id},
            data={"recurrence_of": sub["id"]},
        )
        await _copy_subtasks(tasks, conn, actor, sub["id"], copy["id"], shift)


async def split_series(
    tasks: TaskService, conn: AsyncConnection, actor: Actor, id: str, values: dict[str, Any]
) -> dict[str, Any]:
    """A "this and following" edit: the series ends before this occurrence (earlier
    occurrences keep the old rule, ending with UNTIL), and this occurrence starts a new
    series with the edits applied; later occurrences follow from it."""
    current = await tasks.get(conn, actor, id, for_update=True)
    if not current["recurrence_rule"]:
        raise Problem(
            409,
            f"Task {id!r} is not an occurrence of a recurring series.",
            title="Conflict",
        )
    if current["status"] in DONE:
        raise Problem(409, "A finished occurrence cannot start a new series.", title="Conflict")
    old_rule = current["recurrence_rule"]
    slot = current["occurrence_at"] or current["due_at"]
    earlier = await conn.execute(
        select(TASKS.c.id).where(
            TASKS.c.team_id == actor.team_id,
            TASKS.c.series_id == current["series_id"],
            TASKS.c.id != id,
            TASKS.c.deleted_at.is_(None),
            or_(TASKS.c.occurrence_at < slot, TASKS.c.occurrence_at.is_(None)),
        )
    )
    ended = with_until(old_rule, slot - timedelta(seconds=1))
    for other in [r.id for r in earlier]:
        prev = await tasks.get(conn, actor, other, for_update=True)
        await tasks.apply(conn, actor, prev, {"recurrence_rule": ended}, "updated")
    values = dict(values)
    await tasks.validate(conn, actor, values, current)
    rule = values.get("recurrence_rule", old_rule)
    due = values.get("due_at", current["due_at"])
    if rule is None:
        values.update(series_id=None, series_start_at=None, occurrence_at=None)
    else:
        if due is None:
            raise validation([{"field": "due_at", "message": "A recurring task needs a due_at."}])
        values.update(series_id=id, series_start_at=due, occurrence_at=due, recurrence_rule=rule)
    row = await tasks.apply(conn, actor, current, values, "updated")
    return (await tasks.decorate(conn, actor, [row]))[0]


async def upcoming(
    tasks: TaskService, conn: AsyncConnection, actor: Actor, id: str, limit: int
) -> list[datetime]:
    """The next ``limit`` occurrences of the task's series after this one (none when the task
    does not recur)."""
    task = await tasks.get(conn, actor, id)
    if not task["recurrence_rule"]:
        return []
    return occurrences(
        task["recurrence_rule"],
        task["series_start_at"] or task["due_at"],
        zone(task["time_zone"]),
        task["recurrence_exdates"],
        limit=limit,
        after=(task["occurrence_at"] or task["due_at"]) - timedelta(seconds=1),
    )
