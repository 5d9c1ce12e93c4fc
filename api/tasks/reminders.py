"""Task reminders and overdue alerts.

Who is reminded: the task's assignees (its creator when it has none). When: each offset of the
task's ``reminders`` (when set) or of the member's defaults (``member_task_settings``;
``["1h", "1d"]`` until they choose), before ``due_at``, computed in the member's time zone: "1d"
and "1w" are calendar days (the same wall-clock time the day or week before, so 23 or 25 hours
across a daylight-saving change), "1h"/"30m" are exact durations. An overdue alert falls due at
``due_at`` itself for members with ``overdue_alerts`` on.

:func:`fire_due_reminders` fires what fell due, once each: a row in ``app.task_reminders``
(unique per task, member, kind, offset and due date) and, in the same transaction, the event
``task``/``reminder_fired`` with ``changes = {}`` and ``data = {member_id, kind, due_at,
remind_at}``, which the notifications area delivers. A reminder whose time had passed when the
due date was set is skipped, not fired late; so is one still unfired when the task falls due
(the overdue alert then speaks for it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from api.common.records import actor_event
from api.tasks.basics import MAX_REMINDER, OPEN, local_shift, offset_delta, zone
from api.tasks.service import MEMBERS, TASKS, task_service
from leadly import clock
from leadly.actor import Actor, system_actor
from leadly.ids import new_id
from leadly.problem import validation
from warehouse import events
from warehouse.events import EventRecord, diff
from warehouse.models import MemberTaskSettings, TaskReminder

SETTINGS = MemberTaskSettings.__table__
FIRED = TaskReminder.__table__
DEFAULT_OFFSETS = ("1h", "1d")
LOOKBACK = timedelta(days=31)  # overdue alerts older than this are not fired any more
HORIZON = timedelta(weeks=5)  # the longest reminder offset (4 weeks) plus a margin


def remind_at(due_at: datetime, offset: str, tz_name: str) -> datetime:
    """When the ``offset`` reminder of a task due at ``due_at`` falls, in UTC."""
    delta = offset_delta(offset)
    calendar = offset[-1] in "dw"
    return local_shift(due_at, -delta, zone(tz_name), calendar=calendar)


async def member_settings(
    conn: AsyncConnection, team_id: str, member_ids: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """Per member: time zone, default offsets, overdue alerts (defaults when never set)."""
    ids = list(dict.fromkeys(member_ids))
    if not ids:
        return {}
    rows = await conn.execute(
        select(
            MEMBERS.c.id,
            MEMBERS.c.time_zone,
            SETTINGS.c.reminder_offsets,
            SETTINGS.c.overdue_alerts,
        )
        .select_from(
            MEMBERS.outerjoin(
                SETTINGS,
                (SETTINGS.c.team_id == MEMBERS.c.team_id) & (SETTINGS.c.id == MEMBERS.c.id),
            )
        )
        .where(MEMBERS.c.team_id == team_id, MEMBERS.c.id.in_(ids))
    )
    return {
        r.id: {
            "time_zone": r.time_zone,
            "reminder_offsets": list(r.reminder_offsets)
            if r.reminder_offsets is not None
            else list(DEFAULT_OFFSETS),
            "overdue_alerts": r.overdue_alerts if r.overdue_alerts is not None else True,
        }
        for r in rows
    }


def recipients(task: Mapping[str, Any]) -> list[str]:
    return list(task["assignee_ids"]) or ([task["created_by"]] if task["created_by"] else [])


def planned(
    task: Mapping[str, Any], settings: Mapping[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """Every reminder and overdue alert of the task's current due date."""
    if task["due_at"] is None:
        return []
    out = []
    for member in recipients(task):
        s = settings.get(member)
        if s is None:
            continue
        offsets = task["reminders"] if task["reminders"] is not None else s["reminder_offsets"]
        for offset in offsets:
            out.append(
                {
                    "member_id": member,
                    "kind": "reminder",
                    "offset": offset,
                    "due_at": task["due_at"],
                    "remind_at": remind_at(task["due_at"], offset, s["time_zone"]),
                }
            )
        if s["overdue_alerts"]:
            out.append(
                {
                    "member_id": member,
                    "kind": "overdue",
                    "offset": "0",
                    "due_at": task["due_at"],
                    "remind_at": task["due_at"],
                }
            )
    return out


def _key(r: Mapping[str, Any]) -> tuple[Any, ...]:
    return (r["member_id"], r["kind"], r["offset"], r["due_at"])


async def for_task(conn: AsyncConnection, actor: Actor, task_id: str) -> list[dict[str, Any]]:
    """The task's reminders: those that fired (for any due date it had) and those planned for
    its current due date (scheduled, or skipped when their time had passed when it was set)."""
    task = await task_service.get(conn, actor, task_id)
    row = (
        await conn.execute(
            select(TASKS.c.due_set_at).where(
                TASKS.c.team_id == actor.team_id, TASKS.c.id == task_id
            )
        )
    ).one()
    fired = {
        _key(r): dict(r)
        for r in (
            await conn.execute(
                select(
                    FIRED.c.member_id,
                    FIRED.c.kind,
                    FIRED.c.offset,
                    FIRED.c.due_at,
                    FIRED.c.remind_at,
                    FIRED.c.fired_at,
                ).where(FIRED.c.team_id == actor.team_id, FIRED.c.task_id == task_id)
            )
        ).mappings()
    }
    settings = await member_settings(conn, actor.team_id, recipients(task))
    now = clock.now()
    out = []
    for p in planned(task, settings):
        done = fired.pop(_key(p), None)
        if done is not None:
            out.append({**p, "status": "fired", "fired_at": done["fired_at"]})
        elif task["status"] in OPEN:
            late = (row.due_set_at is not None and p["remind_at"] < row.due_set_at) or (
                p["kind"] == "reminder" and p["due_at"] <= now
            )
            out.append({**p, "status": "skipped" if late else "scheduled", "fired_at": None})
    out += [{**f, "status": "fired"} for f in fired.values()]
    return sorted(out, key=lambda r: (r["remind_at"], r["member_id"], r["kind"]))


async def fire_team(conn: AsyncConnection, team_id: str, now: datetime) -> list[dict[str, Any]]:
    """Fire what fell due by ``now`` in one team (inside the caller's tenant transaction)."""
    rows = await conn.execute(
        select(TASKS)
        .where(
            TASKS.c.team_id == team_id,
            TASKS.c.deleted_at.is_(None),
            TASKS.c.status.in_(OPEN),
            TASKS.c.due_at.is_not(None),
            TASKS.c.due_at <= now + HORIZON,
            TASKS.c.due_at >= now - LOOKBACK,
        )
        .order_by(TASKS.c.due_at, TASKS.c.id)
    )
    tasks = [dict(r._mapping) for r in rows]
    if not tasks:
        return []
    settings = await member_settings(conn, team_id, [m for t in tasks for m in recipients(t)])
    due: list[dict[str, Any]] = []
    for t in tasks:
        since = t["due_set_at"] or t["created_at"]
        for p in planned(t, settings):
            # A reminder missed until its task fell due is dropped: the overdue alert says it.
            current = p["kind"] == "overdue" or now < p["due_at"]
            if p["remind_at"] <= now and p["remind_at"] >= since and current:
                due.append({**p, "task_id": t["id"]})
    if not due:
        return []
    stmt = (
        insert(FIRED)
        .values(
            [
                {
                    "team_id": team_id,
                    "id": new_id("trem"),
                    "task_id": d["task_id"],
                    "member_id": d["member_id"],
                    "kind": d["kind"],
                    "offset": d["offset"],
                    "due_at": d["due_at"],
                    "remind_at": d["remind_at"],
                    "fired_at": now,
                }
                for d in due
            ]
        )
        .on_conflict_do_nothing(
            index_elements=["team_id", "task_id", "member_id", "kind", "offset", "due_at"]
        )
        .returning(
            FIRED.c.task_id, FIRED.c.member_id, FIRED.c.kind, FIRED.c.due_at, FIRED.c.remind_at
        )
    )
    fired = [dict(r._mapping) for r in await conn.execute(stmt)]
    actor = system_actor(team_id)
    await events.append(
        conn,
        *[
            EventRecord(
                team_id=team_id,
                actor_type=actor.actor_type,
                actor_id=None,
                object_type="task",
                object_id=f["task_id"],
                action="reminder_fired",
                changes={},
                data={
                    "member_id": f["member_id"],
                    "kind": f["kind"],
                    "due_at": f["due_at"].astimezone(UTC).isoformat(),
                    "remind_at": f["remind_at"].astimezone(UTC).isoformat(),
                },
            )
            for f in fired
        ],
    )
    return [{**f, "team_id": team_id} for f in fired]


CANDIDATE_TEAMS = text(
    """
    SELECT DISTINCT team_id FROM app.tasks
    WHERE deleted_at IS NULL AND status IN ('todo', 'in_progress', 'waiting')
      AND due_at BETWEEN :lo AND :hi
    """
)


async def fire_due_reminders(
    now: datetime | None = None,
    team_ids: Iterable[str] | None = None,
    engine: AsyncEngine | None = None,
) -> list[dict[str, Any]]:
    """Fire every reminder and overdue alert that fell due by ``now`` (default: the current
    time, :func:`leadly.clock.now`), once each; one transaction per team. Returns what fired. Safe to run concurrently
    and repeatedly (the Dagster schedule runs it every minute). ``engine``: the API-role
    engine to write with (default: the process's cached one)."""
    from warehouse.db import api_engine, tenant_tx
    from warehouse.db import engine as db_engine

    moment = (now or clock.now()).astimezone(UTC)
    if team_ids is None:
        async with db_engine("worker").connect() as conn:
            rows = await conn.execute(
                CANDIDATE_TEAMS, {"lo": moment - LOOKBACK, "hi": moment + HORIZON}
            )
            teams = [r.team_id for r in rows]
    else:
        teams = list(team_ids)
    out: list[dict[str, Any]] = []
    for team in teams:
        async with tenant_tx(engine or api_engine(), team) as conn:
            out += await fire_team(conn, team, moment)
    return out


async def defaults_of(conn: AsyncConnection, actor: Actor) -> dict[str, Any]:
    s = (await member_settings(conn, actor.team_id, [actor.member_id]))[actor.member_id]
    return {"member_id": actor.member_id, **s}


async def set_defaults(
    conn: AsyncConnection, actor: Actor, offsets: list[str], overdue_alerts: bool
) -> dict[str, Any]:
    """Replace the caller's default reminders (an event records the change)."""
    offsets = list(dict.fromkeys(offsets))
    bad = [o for o in offsets if offset_delta(o) > MAX_REMINDER]
    if bad:
        raise validation(
            [{"field": "reminder_offsets", "message": f"{bad[0]}: at most 4 weeks before due."}]
        )
    before = await defaults_of(conn, actor)
    await conn.execute(
        insert(SETTINGS)
        .values(
            team_id=actor.team_id,
            id=actor.member_id,
            reminder_offsets=offsets,
            overdue_alerts=overdue_alerts,
        )
        .on_conflict_do_update(
            index_elements=["team_id", "id"],
            set_={
                "reminder_offsets": offsets,
                "overdue_alerts": overdue_alerts,
                "updated_at": text("now()"),
            },
        )
    )
    after = await defaults_of(conn, actor)
    await events.append(
        conn,
        actor_event(actor, "member_task_settings", actor.member_id, "updated", diff(before, after)),
    )
    return after
