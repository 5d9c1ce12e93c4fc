"""Timers and time logs: one running timer per member; manual logs of at most 24 hours, never
in the future; edits and deletes by the author or a manager and above. Each change appends a
``time_log`` event (``data.task_id``; ``deleted`` when a log is removed: the row goes, the
event keeps it). A task's hours roll up through its subtasks (:func:`time_summary`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.guards import require_author
from api.common.records import check_version, execute, plausible_id
from api.tasks.basics import localize, tx_now, zone
from api.tasks.service import row_event, task_service
from leadly import clock
from leadly.actor import Actor
from leadly.ids import new_id
from leadly.problem import Problem, not_found, validation
from warehouse import events
from warehouse.events import EventRecord, diff
from warehouse.models import TimeLog

LOGS: Table = TimeLog.__table__


def _log_out(row: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k not in ("team_id", "updated_at")}
    end = row["ended_at"] or clock.now()
    out["hours"] = round((end - row["started_at"]).total_seconds() / 3600, 4)
    return out


async def _running(
    conn: AsyncConnection, actor: Actor, *, for_update: bool = False
) -> dict[str, Any] | None:
    q = select(LOGS).where(
        LOGS.c.team_id == actor.team_id,
        LOGS.c.member_id == actor.member_id,
        LOGS.c.ended_at.is_(None),
    )
    if for_update:
        q = q.with_for_update()
    row = (await conn.execute(q)).first()
    return dict(row._mapping) if row else None


async def start_timer(conn: AsyncConnection, actor: Actor, id: str) -> dict[str, Any]:
    await task_service.get(conn, actor, id)
    running = await _running(conn, actor)
    if running is not None:
        raise _timer_running(running)
    row = {
        "team_id": actor.team_id,
        "id": new_id("tlog"),
        "task_id": id,
        "member_id": actor.member_id,
        "started_at": func.now(),
        "source": "timer",
    }
    try:
        async with conn.begin_nested():
            res = await conn.execute(LOGS.insert().values(**row).returning(LOGS))
    except IntegrityError:  # a concurrent start won the partial unique index
        running = await _running(conn, actor)
        if running is None:
            raise
        raise _timer_running(running) from None
    out = dict(res.one()._mapping)
    await events.append(conn, _log_event(actor, "created", None, out))
    return _log_out(out)


def _timer_running(running: Mapping[str, Any]) -> Problem:
    return Problem(
        409,
        f"A timer is already running on task {running['task_id']!r}; stop it first "
        "(one running timer per member).",
        title="Conflict",
        running_time_log_id=running["id"],
        running_task_id=running["task_id"],
    )


async def stop_timer(conn: AsyncConnection, actor: Actor, id: str) -> dict[str, Any]:
    await task_service.get(conn, actor, id)
    running = await _running(conn, actor, for_update=True)
    if running is None or running["task_id"] != id:
        raise Problem(
            409,
            f"No timer of yours is running on task {id!r}.",
            title="Conflict",
            running_task_id=running["task_id"] if running else None,
        )
    res = await conn.execute(
        update(LOGS)
        .where(LOGS.c.team_id == actor.team_id, LOGS.c.id == running["id"])
        .values(ended_at=func.now(), updated_at=func.now(), version=LOGS.c.version + 1)
        .returning(LOGS)
    )
    out = dict(res.one()._mapping)
    await events.append(conn, _log_event(actor, "updated", running, out))
    return _log_out(out)


async def add_time_log(
    conn: AsyncConnection, actor: Actor, id: str, values: dict[str, Any]
) -> dict[str, Any]:
    task = await task_service.get(conn, actor, id)
    tz = await _zone_of(conn, actor, actor.member_id)
    start = _log_time(values["started_at"], tz, "started_at")
    end = _log_time(values["ended_at"], tz, "ended_at")
    errors = _interval_errors(start, end)
    if errors:
        raise validation(errors)
    row = {
        "team_id": actor.team_id,
        "id": new_id("tlog"),
        "task_id": task["id"],
        "member_id": actor.member_id,
        "started_at": start,
        "ended_at": end,
        "notes": values.get("notes"),
        "source": "manual",
    }
    res = await execute(conn, LOGS.insert().values(**row).returning(LOGS))
    out = dict(res.one()._mapping)
    await events.append(conn, _log_event(actor, "created", None, out))
    return _log_out(out)


async def time_logs(conn: AsyncConnection, actor: Actor, id: str) -> list[dict[str, Any]]:
    await task_service.get(conn, actor, id)
    rows = await conn.execute(
        select(LOGS)
        .where(LOGS.c.team_id == actor.team_id, LOGS.c.task_id == id)
        .order_by(LOGS.c.started_at, LOGS.c.id)
    )
    return [_log_out(dict(r._mapping)) for r in rows]


async def _changeable_log(
    conn: AsyncConnection, actor: Actor, task_id: str, log_id: str
) -> dict[str, Any]:
    """The time log ``log_id`` of the visible task ``task_id``, locked; 404 when either is
    unknown (or the log is another task's), 403 unless the caller logged it or is a
    manager and above (the rule of logged activities)."""
    await task_service.get(conn, actor, task_id)
    row = None
    if plausible_id(log_id):
        row = (
            await conn.execute(
                select(LOGS)
                .where(
                    LOGS.c.team_id == actor.team_id,
                    LOGS.c.id == log_id,
                    LOGS.c.task_id == task_id,
                )
                .with_for_update()
            )
        ).first()
    if row is None:
        raise not_found("time log", log_id)
    log = dict(row._mapping)
    require_author(actor, log["member_id"], "time log")
    return log


async def update_time_log(
    conn: AsyncConnection,
    actor: Actor,
    task_id: str,
    log_id: str,
    values: dict[str, Any],
    *,
    if_match: int | None = None,
) -> dict[str, Any]:
    """Edit a log's interval or notes. Setting ``ended_at`` on a running timer's log stops
    it then; offset-less times are read in the zone of the member who logged it."""
    current = await _changeable_log(conn, actor, task_id, log_id)
    check_version(current, if_match)
    changes = {k: values[k] for k in ("started_at", "ended_at", "notes") if k in values}
    if "ended_at" in changes and changes["ended_at"] is None:
        raise validation([{"field": "ended_at", "message": "ended_at cannot be cleared."}])
    moved = [k for k in ("started_at", "ended_at") if k in changes]
    if moved:
        tz = ZoneInfo("UTC")
        if any(changes[k].tzinfo is None for k in moved):
            tz = await _zone_of(conn, actor, current["member_id"])
        for k in moved:
            changes[k] = _log_time(changes[k], tz, k)
        start = changes.get("started_at", current["started_at"])
        end = changes.get("ended_at", current["ended_at"])
        errors = []
        if "started_at" in changes and start > await tx_now(conn):
            errors.append(
                {"field": "started_at", "message": "A time log cannot start in the future."}
            )
        if end is not None:
            blame = "ended_at" if "ended_at" in changes else "started_at"
            errors += _interval_errors(start, end, blame=blame)
        if errors:
            raise validation(errors)
    if not diff(current, {**current, **changes}):
        return _log_out(current)
    res = await execute(
        conn,
        update(LOGS)
        .where(LOGS.c.team_id == actor.team_id, LOGS.c.id == current["id"])
        .values(**changes, updated_at=func.now(), version=LOGS.c.version + 1)
        .returning(LOGS),
    )
    out = dict(res.one()._mapping)
    await events.append(conn, _log_event(actor, "updated", current, out))
    return _log_out(out)


async def delete_time_log(
    conn: AsyncConnection,
    actor: Actor,
    task_id: str,
    log_id: str,
    *,
    if_match: int | None = None,
) -> None:
    """Delete a log (a running timer's log too: the timer is discarded). The row goes;
    its ``deleted`` event keeps what it was."""
    current = await _changeable_log(conn, actor, task_id, log_id)
    check_version(current, if_match)
    await conn.execute(
        LOGS.delete().where(LOGS.c.team_id == actor.team_id, LOGS.c.id == current["id"])
    )
    await events.append(conn, _log_event(actor, "deleted", current, None))


def _log_event(
    actor: Actor,
    action: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
) -> EventRecord:
    def strip(r: Mapping[str, Any] | None) -> dict[str, Any] | None:
        if r is None:
            return None
        return {k: v for k, v in r.items() if k not in ("team_id", "updated_at", "version")}

    row = after or before
    assert row is not None
    return row_event(
        actor, "time_log", action, strip(before), strip(after), {"task_id": row["task_id"]}
    )


async def _zone_of(conn: AsyncConnection, actor: Actor, member_id: str) -> ZoneInfo:
    """The member's time zone (UTC when unknown)."""
    return zone((await task_service.member_zones(conn, actor, [member_id])).get(member_id))


def _log_time(value: datetime, tz: ZoneInfo, field: str) -> datetime:
    """A time log's bound in UTC (offset-less: read in ``tz``); 422 when out of range."""
    try:
        return localize(value, tz)
    except (OverflowError, ValueError):
        raise validation([{"field": field, "message": "Out of range."}]) from None


def _interval_errors(
    start: datetime, end: datetime, *, blame: str = "ended_at"
) -> list[dict[str, Any]]:
    """A finished log's rules: ``end`` after ``start``, at most 24 hours, not in the future
    (five minutes of clock skew allowed). ``blame``: the bound the client moved."""
    errors = []
    if end <= start:
        errors.append({"field": blame, "message": "ended_at must be after started_at."})
    elif end - start > timedelta(hours=24):
        errors.append({"field": blame, "message": "A time log covers at most 24 hours."})
    if end > clock.now() + timedelta(minutes=5):
        errors.append({"field": "ended_at", "message": "A time log cannot end in the future."})
    return errors


async def time_summary(conn: AsyncConnection, actor: Actor, id: str) -> dict[str, Any]:
    """The task's estimate and the hours logged on it and its subtasks (any depth)."""
    task = await task_service.get(conn, actor, id)
    r = (await task_service.rollup(conn, actor, [id]))[id]
    return {
        "task_id": id,
        "estimated_hours": task["estimated_hours"],
        "own_actual_hours": r["own"],
        "actual_hours": r["actual"],
        "estimated_hours_total": r["estimated"],
        "subtask_count": r["subtasks"],
    }
