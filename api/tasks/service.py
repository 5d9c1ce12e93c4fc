"""Tasks: the record service plus dependencies, recurrence, time tracking and bulk actions.

Every write appends its event in the same transaction: tasks as ``task`` created/updated/
deleted (``changes`` of ``[before, after]``, so a status change is ``changes.status`` and an
assignment ``changes.assignee_ids``), dependencies as ``task_dependency``, time logs as
``time_log`` (``data.task_id``; ``deleted`` when a log is removed: the row goes, the event keeps
it). Reminders append ``task``/``reminder_fired`` (see :mod:`api.tasks.reminders`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from psycopg.pq import TransactionStatus
from sqlalchemy import Table, and_, any_, bindparam, column, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.guards import require_author
from api.common.listing import ListParams
from api.common.records import (
    READ_ONLY,
    RecordService,
    actor_event,
    check_version,
    execute,
    plausible_id,
)
from api.common.validate import RANGE_MESSAGE, in_range
from api.tasks import recurrence
from leadly.actor import Actor
from leadly.ids import new_id
from leadly.problem import Problem, not_found, validation
from warehouse import events
from warehouse.errors import db_problem
from warehouse.events import EventRecord, diff
from warehouse.models import Task, TaskAssignee, TaskDependency, TeamMember, TimeLog

OPEN = ("todo", "in_progress", "waiting")
DONE = ("completed", "cancelled")
TASKS: Table = Task.__table__
ASSIGNEES: Table = TaskAssignee.__table__
DEPS: Table = TaskDependency.__table__
LOGS: Table = TimeLog.__table__
MEMBERS: Table = TeamMember.__table__
# Set by the service, never by a client.
SYSTEM_FIELDS = frozenset(
    {
        "priority_rank",
        "time_zone",
        "started_at",
        "completed_at",
        "series_id",
        "series_start_at",
        "occurrence_at",
        "next_occurrence_id",
        "due_set_at",
    }
)
MAX_REMINDER = timedelta(weeks=4)
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ValueError, OSError, KeyError):
        return ZoneInfo("UTC")


def offset_delta(label: str) -> timedelta:
    n, unit = int(label[:-1]), label[-1]
    return timedelta(weeks=n) if unit == "w" else n * _UNITS[unit]


def local_shift(moment: datetime, delta: timedelta, tz: ZoneInfo, *, calendar: bool) -> datetime:
    """``moment + delta``; a ``calendar`` shift (days/weeks) keeps the wall-clock time in
    ``tz`` across daylight-saving changes, an exact one adds elapsed time."""
    if not calendar:
        return (moment + delta).astimezone(UTC)
    local = moment.astimezone(tz).replace(tzinfo=None) + delta
    return local.replace(tzinfo=tz).astimezone(UTC)


def localize(value: datetime, tz: ZoneInfo) -> datetime:
    """An offset-less timestamp read in ``tz`` (a time skipped by DST moves forward)."""
    if value.tzinfo is not None:
        return value.astimezone(UTC)
    return value.replace(tzinfo=tz).astimezone(UTC)


_DURATION = re.compile(
    r"^(?P<sign>[+-])?P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?$"
)


def parse_shift(raw: str) -> tuple[timedelta, timedelta]:
    """ISO 8601 duration → (calendar part: weeks/days, exact part: hours/minutes/seconds)."""
    m = _DURATION.match(raw.strip().upper())
    if not m or raw.strip().upper().rstrip("T").endswith(("P", "-P", "+P")) or raw.endswith("T"):
        raise validation(
            [{"field": "shift_by", "message": "Not an ISO 8601 duration such as P1D or -PT2H."}]
        )
    g = {k: int(v) if v and k != "sign" else 0 for k, v in m.groupdict().items()}
    sign = -1 if m.group("sign") == "-" else 1
    try:
        cal = timedelta(weeks=g["w"], days=g["d"]) * sign
        exact = timedelta(hours=g["h"], minutes=g["m"], seconds=g["s"]) * sign
    except OverflowError:  # more days than a timedelta holds (about 2.7 million years)
        cal = exact = timedelta.max
    if abs(cal) > timedelta(days=3660) or abs(exact) > timedelta(days=3660):
        raise validation([{"field": "shift_by", "message": "Shift by at most ten years."}])
    if not cal and not exact:
        raise validation([{"field": "shift_by", "message": "The duration is zero."}])
    return cal, exact


async def tx_now(conn: AsyncConnection) -> datetime:
    """The transaction's timestamp (``now()``), as every row written in it records (read
    once per transaction)."""
    tx = conn.get_transaction()
    cached = conn.info.get("leadly_tx_now")
    if cached is not None and tx is not None and cached[0] is tx:
        return cached[1]
    now = (await conn.execute(select(func.now()))).scalar_one()
    conn.info["leadly_tx_now"] = (tx, now)
    return now


# The unfinished tasks a task depends on (one plain statement: it runs once per status change).
BLOCKERS = text(
    """
    SELECT d.depends_on_task_id, d.type, p.status, p.started_at
    FROM app.task_dependencies d
    JOIN app.tasks p ON p.team_id = d.team_id AND p.id = d.depends_on_task_id
    WHERE d.team_id = :team AND d.task_id = :task
      AND p.deleted_at IS NULL AND p.status NOT IN ('completed', 'cancelled')
    ORDER BY d.created_at, d.id
    """
)


def blocked_problem(task_id: str, blockers: list[dict[str, Any]], verb: str) -> Problem:
    first = blockers[0]
    return Problem(
        409,
        f"Task {task_id!r} cannot {verb}: it depends on {first['task_id']!r} "
        f"({first['type']}, which is {first['status']}).",
        title="Conflict",
        blocking_task_id=first["task_id"],
        blocking_task_ids=[b["task_id"] for b in blockers],
        blockers=blockers,
    )


class TaskService(RecordService):
    table = TASKS
    object_type = "task"
    plural = "tasks"
    prefix = "task"
    extra_hidden = frozenset({"due_set_at"})

    # ------------------------------------------------------------------ visibility

    def _scoped(self, actor: Actor, *, include_deleted: bool = False) -> Any:
        q = super()._scoped(actor, include_deleted=include_deleted)
        if not actor.at_least("user") and actor.actor_type != "system":
            # Guests see the tasks assigned to them (assignees always see their tasks).
            q = q.where(self._assigned_to(actor, actor.member_id))
        return q

    def _assigned_to(self, actor: Actor, member_id: str) -> Any:
        """``member_id`` is an assignee: through the B-tree mirror, which row-level security
        lets the planner use (``assignee_ids @> ...`` is not leakproof, so its GIN index
        cannot be used under RLS). See bench/tasks.py."""
        sub = select(ASSIGNEES.c.task_id).where(
            ASSIGNEES.c.team_id == actor.team_id, ASSIGNEES.c.member_id == member_id
        )
        # id = ANY(ARRAY(subquery)): the member's ids are read once from the mirror's primary
        # key, then fetched by the tasks' primary key; the cost follows the member's tasks, not
        # the team's (an IN semi-join may instead walk the team's whole sort index).
        return TASKS.c.id == any_(func.array(sub.scalar_subquery()))

    # ------------------------------------------------------------------ reads

    async def get(
        self, conn: AsyncConnection, actor: Actor, id: str, *, for_update: bool = False
    ) -> dict[str, Any]:
        row = await super().get(conn, actor, id, for_update=for_update)
        if for_update:
            return row
        return (await self.decorate(conn, actor, [row]))[0]

    async def list(
        self, conn: AsyncConnection, actor: Actor, params: ListParams, extra: Iterable[Any] = ()
    ) -> dict[str, Any]:
        """The views are list filters: ``filter[assignee_ids__contains]=<member id | me>``
        (mine), ``filter[overdue]=true``, ``filter[priority]=``/``sort=-priority_rank``,
        ``sort=due_at``, ``filter[related_to_type]=&filter[related_to_id]=``."""
        where = list(extra)
        kept: list[tuple[str, str, str]] = []
        for name, op, raw in params.filters:
            if name == "assignee_ids" and op in ("contains", "eq"):
                member = actor.member_id if raw == "me" else raw
                where.append(self._assigned_to(actor, member))
            elif name == "overdue" and op == "eq":
                flag = raw.lower()
                if flag not in ("true", "false", "1", "0"):
                    raise Problem(
                        400,
                        "filter[overdue] takes true or false.",
                        errors=[{"field": "filter[overdue]", "message": "Not a boolean."}],
                    )
                cond = and_(TASKS.c.due_at < func.now(), TASKS.c.status.in_(OPEN))
                where.append(cond if flag in ("true", "1") else ~cond)
            else:
                kept.append((name, op, raw))
        params = ListParams(tuple(kept), params.sort, params.fields, params.limit, params.cursor)
        page = await super().list(conn, actor, params, where)
        if params.fields is None:
            page["data"] = await self.decorate(conn, actor, page["data"])
        return page

    async def decorate(
        self, conn: AsyncConnection, actor: Actor, rows: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Add ``actual_hours`` (rolled up through subtasks) to response rows."""
        ids = [r["id"] for r in rows]
        hours = await self.rollup(conn, actor, ids) if ids else {}
        return [{**r, "actual_hours": hours.get(r["id"], {}).get("actual", 0.0)} for r in rows]

    async def rollup(
        self, conn: AsyncConnection, actor: Actor, ids: list[str]
    ) -> dict[str, dict[str, Any]]:
        """Per task: hours logged on it and its live subtasks (any depth), own hours, the
        estimate total and the number of subtasks."""
        rows = await conn.execute(
            text(
                """
                WITH RECURSIVE tree(root, id, depth) AS (
                  SELECT t.id, t.id, 0 FROM app.tasks t
                  WHERE t.team_id = :team AND t.id = ANY(:ids)
                  UNION ALL
                  SELECT tree.root, c.id, tree.depth + 1 FROM app.tasks c
                  JOIN tree ON c.team_id = :team AND c.parent_task_id = tree.id
                  WHERE c.deleted_at IS NULL AND tree.depth < 100
                ),
                logged AS (
                  SELECT l.task_id, sum(extract(epoch FROM coalesce(l.ended_at, now())
                                                 - l.started_at)) / 3600.0 AS hours
                  FROM app.time_logs l
                  WHERE l.team_id = :team AND l.task_id IN (SELECT id FROM tree)
                  GROUP BY l.task_id
                )
                SELECT tree.root,
                       coalesce(sum(logged.hours), 0) AS actual,
                       coalesce(sum(logged.hours) FILTER (WHERE tree.depth = 0), 0) AS own,
                       sum(t.estimated_hours) AS estimated,
                       count(*) FILTER (WHERE tree.depth > 0) AS subtasks
                FROM tree
                JOIN app.tasks t ON t.team_id = :team AND t.id = tree.id
                LEFT JOIN logged ON logged.task_id = tree.id
                GROUP BY tree.root
                """
            ),
            {"team": actor.team_id, "ids": ids},
        )
        return {
            r.root: {
                "actual": round(float(r.actual), 4),
                "own": round(float(r.own), 4),
                "estimated": float(r.estimated) if r.estimated is not None else None,
                "subtasks": int(r.subtasks),
            }
            for r in rows
        }

    async def time_summary(self, conn: AsyncConnection, actor: Actor, id: str) -> dict[str, Any]:
        task = await self.get(conn, actor, id)
        r = (await self.rollup(conn, actor, [id]))[id]
        return {
            "task_id": id,
            "estimated_hours": task["estimated_hours"],
            "own_actual_hours": r["own"],
            "actual_hours": r["actual"],
            "estimated_hours_total": r["estimated"],
            "subtask_count": r["subtasks"],
        }

    # ------------------------------------------------------------------ validation

    async def member_zones(
        self, conn: AsyncConnection, actor: Actor, ids: Iterable[str]
    ) -> dict[str, str]:
        wanted = [i for i in ids if plausible_id(i)]
        if not wanted:
            return {}
        run = _BULK.get()
        if run is not None and run.looked_up.issuperset(wanted):
            # A bulk call read these members once (members do not change during it).
            return {i: run.zones[i] for i in wanted if i in run.zones}
        rows = await conn.execute(
            select(MEMBERS.c.id, MEMBERS.c.time_zone).where(
                MEMBERS.c.team_id == actor.team_id, MEMBERS.c.id.in_(wanted)
            )
        )
        found = {r.id: r.time_zone for r in rows}
        if run is not None:
            run.zones.update(found)
            run.looked_up.update(wanted)
        return found

    async def validate(
        self,
        conn: AsyncConnection,
        actor: Actor,
        values: dict[str, Any],
        current: Mapping[str, Any] | None,
    ) -> None:
        errors: list[dict[str, Any]] = []
        cur = dict(current or {})
        merged = {**cur, **values}
        task_id = merged.get("id")
        # Assignees: members of the team, listed once.
        if "assignee_ids" in values:
            assignees = list(dict.fromkeys(values["assignee_ids"] or []))
            values["assignee_ids"] = assignees
            zones = await self.member_zones(conn, actor, assignees)
            missing = [m for m in assignees if m not in zones]
            if missing:
                errors.append(
                    {
                        "field": "assignee_ids",
                        "message": f"No member with id {missing[0]!r} in your team.",
                    }
                )
        else:
            assignees = list(cur.get("assignee_ids") or [])
        # The time zone: the first assignee's, else the creator's.
        if current is None or "assignee_ids" in values:
            who = assignees[0] if assignees else (cur.get("created_by") or actor.member_id)
            tz_name = (await self.member_zones(conn, actor, [who])).get(who, "UTC")
            if tz_name != cur.get("time_zone"):
                values["time_zone"] = tz_name
        tz = zone(values.get("time_zone") or cur.get("time_zone"))
        if values.get("due_at") is not None:
            values["due_at"] = localize(values["due_at"], tz)
        if "due_at" in values and values["due_at"] != cur.get("due_at"):
            values["due_set_at"] = await tx_now(conn)
        if "recurrence_exdates" in values:
            values["recurrence_exdates"] = sorted(
                {localize(d, tz) for d in values["recurrence_exdates"]}
            )
        if "tags" in values:
            values["tags"] = list(dict.fromkeys(t.strip() for t in values["tags"] if t.strip()))
        if values.get("estimated_hours") is not None:
            values["estimated_hours"] = Decimal(str(round(values["estimated_hours"], 2)))
        if values.get("reminders") is not None:
            values["reminders"] = list(dict.fromkeys(values["reminders"]))
            for label in values["reminders"]:
                if offset_delta(label) > MAX_REMINDER:
                    errors.append(
                        {"field": "reminders", "message": f"{label}: at most 4 weeks before due."}
                    )
        # Related record: a type and an id together, naming a live record of the team.
        if "related_to_type" in values or "related_to_id" in values:
            rtype, rid = merged.get("related_to_type"), merged.get("related_to_id")
            if (rtype is None) != (rid is None):
                errors.append(
                    {
                        "field": "related_to_id" if rid is None else "related_to_type",
                        "message": "related_to_type and related_to_id go together.",
                    }
                )
            elif rtype is not None and (
                rtype != cur.get("related_to_type") or rid != cur.get("related_to_id")
            ):
                problem = await self._check_related(conn, actor, rtype, rid)
                if problem:
                    errors.append(problem)
        # Parent: a live task of the team, and not one of this task's own subtasks.
        parent = values.get("parent_task_id")
        if parent is not None and parent != cur.get("parent_task_id"):
            if parent == task_id:
                errors.append(
                    {"field": "parent_task_id", "message": "A task cannot be its own parent."}
                )
            elif not await self._exists(conn, actor, parent):
                errors.append(
                    {"field": "parent_task_id", "message": "No task with this id in your team."}
                )
            elif task_id and await self._is_descendant(conn, actor, parent, task_id):
                errors.append(
                    {
                        "field": "parent_task_id",
                        "message": "The parent would be one of the task's own subtasks.",
                    }
                )
        # Recurrence.
        rule_given = "recurrence_rule" in values
        if rule_given and values["recurrence_rule"] is not None:
            if merged.get("due_at") is None:
                errors.append(
                    {"field": "recurrence_rule", "message": "A recurring task needs a due_at."}
                )
            else:
                try:
                    values["recurrence_rule"] = recurrence.normalize(
                        values["recurrence_rule"], tz, merged.get("due_at")
                    )
                except recurrence.RuleError as e:
                    errors.append({"field": "recurrence_rule", "message": str(e)})
        elif (
            not rule_given
            and "due_at" in values
            and values["due_at"] is None
            and cur.get("recurrence_rule")
        ):
            errors.append(
                {
                    "field": "due_at",
                    "message": "A recurring task needs a due_at (clear recurrence_rule first).",
                }
            )
        if errors:
            raise validation(errors)
        rule = merged.get("recurrence_rule") if not rule_given else values["recurrence_rule"]
        if rule and "series_id" not in values and not cur.get("recurrence_rule"):
            values["series_id"] = cur.get("series_id") or task_id
            due = values.get("due_at") or cur.get("due_at")
            values["series_start_at"] = due
            values["occurrence_at"] = due
        # Status: timestamps and the dependency rules.
        new_status = values.get("status")
        if new_status is not None and new_status != cur.get("status"):
            if current is not None and new_status in ("in_progress", "completed"):
                await self.check_unblocked(conn, actor, task_id, new_status)
            if new_status in ("in_progress", "completed") and not cur.get("started_at"):
                values["started_at"] = await tx_now(conn)
            if new_status == "completed":
                values["completed_at"] = await tx_now(conn)
            elif cur.get("completed_at"):
                values["completed_at"] = None
            if new_status == "todo" and cur.get("started_at"):
                values["started_at"] = None

    async def _exists(self, conn: AsyncConnection, actor: Actor, id: str) -> bool:
        if not plausible_id(id):
            return False
        q = self._scoped(actor).where(TASKS.c.id == id)
        return (await conn.execute(q)).first() is not None

    async def _is_descendant(
        self, conn: AsyncConnection, actor: Actor, candidate: str, ancestor: str
    ) -> bool:
        row = await conn.execute(
            text(
                """
                WITH RECURSIVE up(id, depth) AS (
                  SELECT parent_task_id, 0 FROM app.tasks WHERE team_id = :team AND id = :c
                  UNION ALL
                  SELECT t.parent_task_id, up.depth + 1 FROM app.tasks t
                  JOIN up ON t.team_id = :team AND t.id = up.id
                  WHERE up.depth < 1000
                )
                SELECT 1 FROM up WHERE id = :a LIMIT 1
                """
            ),
            {"team": actor.team_id, "c": candidate, "a": ancestor},
        )
        return row.first() is not None

    async def _check_related(
        self, conn: AsyncConnection, actor: Actor, rtype: str, rid: str
    ) -> dict[str, Any] | None:
        """Any object with a table ``app.<type>s`` can be a target (lead, contact, account,
        deal, task, ... and later ones); its record must be live in the team."""
        table = f"{rtype}s"
        found = (
            await conn.execute(
                text("SELECT to_regclass(:name) IS NOT NULL"), {"name": f"app.{table}"}
            )
        ).scalar_one()
        if not found:
            return {"field": "related_to_type", "message": f"Unknown object type {rtype!r}."}
        row = (
            await conn.execute(
                text(
                    f'SELECT 1 FROM app."{table}" x WHERE x.team_id = :team AND x.id = :id '
                    "AND (to_jsonb(x) ->> 'deleted_at') IS NULL"
                ),
                {"team": actor.team_id, "id": rid},
            )
        ).first()
        if row is None:
            return {"field": "related_to_id", "message": f"No {rtype} with this id in your team."}
        return None

    async def check_unblocked(
        self, conn: AsyncConnection, actor: Actor, task_id: str, new_status: str
    ) -> None:
        """409 naming the blocker when a dependency forbids starting or completing."""
        types = {"finish_to_start", "start_to_start"}
        if new_status == "completed":
            types.add("finish_to_finish")
        run = _BULK.get()
        if run is not None and run.defer and run.blockers is not None and task_id in run.blockers:
            # A bulk call read every id's blockers at its start; the ones it has finished
            # since (earlier ids of the call) no longer block, as a fresh read would show.
            found: Iterable[Any] = [
                r for r in run.blockers[task_id] if r.depends_on_task_id not in run.finished
            ]
        else:
            found = await conn.execute(BLOCKERS, {"team": actor.team_id, "task": task_id})
        rows = [r for r in found if r.type in types]
        blockers = [
            {"task_id": r.depends_on_task_id, "type": r.type, "status": r.status}
            for r in rows
            # start_to_start only waits for the other task to have started.
            if not (r.type == "start_to_start" and r.started_at is not None)
        ]
        if blockers:
            verb = "start" if new_status == "in_progress" else "be completed"
            raise blocked_problem(task_id, blockers, verb)

    # ------------------------------------------------------------------ writes

    async def create(
        self,
        conn: AsyncConnection,
        actor: Actor,
        values: dict[str, Any],
        *,
        extra_events: Iterable[EventRecord] = (),
        data: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        values = {**values, "id": values.get("id") or new_id(self.prefix)}
        row = await super().create(conn, actor, values, extra_events=extra_events, data=data)
        return {**row, "actual_hours": 0.0}

    async def update(
        self,
        conn: AsyncConnection,
        actor: Actor,
        id: str,
        values: dict[str, Any],
        *,
        if_match: int | None = None,
        action: str = "updated",
        allow: Iterable[str] = (),
        rollup: bool = True,
        current: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """RecordService.update plus the dependency rules, and the next occurrence when a
        recurring task is finished (``rollup=False``: no ``actual_hours`` in the answer;
        ``current``: the row, already read and locked by the caller)."""
        if current is None:
            current = await self.get(conn, actor, id, for_update=True)
        check_version(current, if_match)
        blocked = (set(values) & (READ_ONLY | SYSTEM_FIELDS)) - set(allow)
        if blocked:
            raise validation(
                [{"field": f, "message": "Read-only field."} for f in sorted(blocked)],
                "Read-only fields cannot be changed.",
            )
        values = dict(values)
        await self.validate(conn, actor, values, current)
        # Nothing changes (only the sent fields can differ from the row: compare just those).
        if not diff({k: current.get(k) for k in values}, values):
            return (await self.decorate(conn, actor, [current]))[0] if rollup else current
        new_status = values.get("status", current["status"])
        if (
            new_status in DONE
            and current["status"] not in DONE
            and (values.get("recurrence_rule", current["recurrence_rule"]))
            and not current["next_occurrence_id"]
        ):
            nxt = await self.spawn_next(conn, actor, {**current, **values})
            if nxt is not None:
                values["next_occurrence_id"] = nxt["id"]
        row = await self.apply(conn, actor, current, values, action)
        return (await self.decorate(conn, actor, [row]))[0] if rollup else row

    async def apply(
        self,
        conn: AsyncConnection,
        actor: Actor,
        current: Mapping[str, Any],
        values: Mapping[str, Any],
        action: str,
        data: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """RecordService.apply; inside :meth:`bulk` the event is kept and appended with the
        others in one statement at the end (same transaction), and the row itself is written
        with the others by :meth:`_bulk_flush` (the answer is the row as it will be)."""
        run = _BULK.get()
        if run is None:
            return await super().apply(conn, actor, current, values, action, data)
        if run.defer:
            run.pending.append((current, dict(values), action, data))
            if values.get("status") in DONE:
                run.finished.add(current["id"])
            return {**current, **values}
        t = self.table
        stmt = (
            update(t)
            .where(t.c.team_id == actor.team_id, t.c.id == current["id"])
            .values(**values, version=t.c.version + 1, updated_at=func.now())
            .returning(*self.public_columns.values())
        )
        row = dict((await execute(conn, stmt)).one()._mapping)
        run.events.append(self._event(actor, current["id"], action, diff(current, row), data))
        return row

    async def delete(
        self, conn: AsyncConnection, actor: Actor, id: str, *, if_match: int | None = None
    ) -> None:
        """Soft-delete the task and its live subtasks (any depth), one event each."""
        await super().delete(conn, actor, id, if_match=if_match)
        children = await conn.execute(
            select(TASKS.c.id).where(
                TASKS.c.team_id == actor.team_id,
                TASKS.c.parent_task_id == id,
                TASKS.c.deleted_at.is_(None),
            )
        )
        for child in [r.id for r in children]:
            await self.delete(conn, actor, child)

    async def restore(self, conn: AsyncConnection, actor: Actor, id: str) -> dict[str, Any]:
        """Restore the task and the subtasks deleted with it (same moment), any depth."""
        when = (
            (
                await conn.execute(
                    select(TASKS.c.deleted_at).where(
                        TASKS.c.team_id == actor.team_id, TASKS.c.id == id
                    )
                )
            ).scalar_one_or_none()
            if plausible_id(id)
            else None
        )
        row = await super().restore(conn, actor, id)
        children = await conn.execute(
            select(TASKS.c.id).where(
                TASKS.c.team_id == actor.team_id,
                TASKS.c.parent_task_id == id,
                TASKS.c.deleted_at == when,
            )
        )
        for child in [r.id for r in children]:
            await self.restore(conn, actor, child)
        return (await self.decorate(conn, actor, [row]))[0]

    # ------------------------------------------------------------------ recurrence

    async def spawn_next(
        self, conn: AsyncConnection, actor: Actor, done: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Create the occurrence after ``done`` (subtasks copied); None when the series ended."""
        tz = zone(done["time_zone"])
        anchor = done.get("occurrence_at") or done["due_at"]
        start = done.get("series_start_at") or done["due_at"]
        slot = recurrence.next_after(
            done["recurrence_rule"], start, tz, done.get("recurrence_exdates") or [], anchor
        )
        if slot is None:
            return None
        copy = {
            f: done.get(f)
            for f in (
                "title",
                "description",
                "priority",
                "assignee_ids",
                "related_to_type",
                "related_to_id",
                "tags",
                "parent_task_id",
                "estimated_hours",
                "recurrence_rule",
                "recurrence_exdates",
                "reminders",
                "custom",
            )
        }
        if copy["estimated_hours"] is not None:
            copy["estimated_hours"] = float(copy["estimated_hours"])
        nxt = await self.create(
            conn,
            actor,
            {
                **copy,
                "status": "todo",
                "due_at": slot,
                "series_id": done.get("series_id") or done["id"],
                "series_start_at": start,
                "occurrence_at": slot,
            },
            data={"recurrence_of": done["id"]},
        )
        shift = slot - (done.get("due_at") or anchor)
        await self._copy_subtasks(conn, actor, done["id"], nxt["id"], shift)
        return nxt

    async def _copy_subtasks(
        self, conn: AsyncConnection, actor: Actor, from_id: str, to_id: str, shift: timedelta
    ) -> None:
        rows = await conn.execute(
            self._select.where(
                TASKS.c.team_id == actor.team_id,
                TASKS.c.parent_task_id == from_id,
                TASKS.c.deleted_at.is_(None),
            ).order_by(TASKS.c.created_at, TASKS.c.id)
        )
        for sub in [dict(r._mapping) for r in rows]:
            values = {
                f: sub[f]
                for f in (
                    "title",
                    "description",
                    "priority",
                    "assignee_ids",
                    "related_to_type",
                    "related_to_id",
                    "tags",
                    "reminders",
                    "custom",
                )
            }
            values["estimated_hours"] = (
                float(sub["estimated_hours"]) if sub["estimated_hours"] is not None else None
            )
            values["due_at"] = sub["due_at"] + shift if sub["due_at"] else None
            copy = await self.create(
                conn,
                actor,
                {**values, "status": "todo", "parent_task_id": to_id},
                data={"recurrence_of": sub["id"]},
            )
            await self._copy_subtasks(conn, actor, sub["id"], copy["id"], shift)

    async def split_series(
        self, conn: AsyncConnection, actor: Actor, id: str, values: dict[str, Any]
    ) -> dict[str, Any]:
        """A "this and following" edit: the series ends before this occurrence (earlier
        occurrences keep the old rule, ending with UNTIL), and this occurrence starts a new
        series with the edits applied; later occurrences follow from it."""
        current = await self.get(conn, actor, id, for_update=True)
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
        ended = recurrence.with_until(old_rule, slot - timedelta(seconds=1))
        for other in [r.id for r in earlier]:
            prev = await super().get(conn, actor, other, for_update=True)
            await self.apply(conn, actor, prev, {"recurrence_rule": ended}, "updated")
        values = dict(values)
        await self.validate(conn, actor, values, current)
        rule = values.get("recurrence_rule", old_rule)
        due = values.get("due_at", current["due_at"])
        if rule is None:
            values.update(series_id=None, series_start_at=None, occurrence_at=None)
        else:
            if due is None:
                raise validation(
                    [{"field": "due_at", "message": "A recurring task needs a due_at."}]
                )
            values.update(
                series_id=id, series_start_at=due, occurrence_at=due, recurrence_rule=rule
            )
        row = await self.apply(conn, actor, current, values, "updated")
        return (await self.decorate(conn, actor, [row]))[0]

    async def occurrences(
        self, conn: AsyncConnection, actor: Actor, id: str, limit: int
    ) -> list[datetime]:
        task = await self.get(conn, actor, id)
        if not task["recurrence_rule"]:
            return []
        return recurrence.occurrences(
            task["recurrence_rule"],
            task["series_start_at"] or task["due_at"],
            zone(task["time_zone"]),
            task["recurrence_exdates"],
            limit=limit,
            after=(task["occurrence_at"] or task["due_at"]) - timedelta(seconds=1),
        )

    # ------------------------------------------------------------------ dependencies

    async def add_dependency(
        self, conn: AsyncConnection, actor: Actor, id: str, depends_on: str, type_: str
    ) -> dict[str, Any]:
        await self.get(conn, actor, id)
        if depends_on == id:
            raise validation(
                [{"field": "depends_on_task_id", "message": "A task cannot depend on itself."}]
            )
        if not await self._exists(conn, actor, depends_on):
            raise validation(
                [{"field": "depends_on_task_id", "message": "No task with this id in your team."}]
            )
        # Serialise dependency writes of the team so two concurrent additions cannot close a
        # cycle that neither sees.
        await conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended('task_deps:' || :t, 0))"),
            {"t": actor.team_id},
        )
        cycle = await conn.execute(
            text(
                """
                WITH RECURSIVE up(id) AS (
                  SELECT depends_on_task_id FROM app.task_dependencies
                  WHERE team_id = :team AND task_id = :start
                  UNION
                  SELECT d.depends_on_task_id FROM app.task_dependencies d
                  JOIN up ON d.team_id = :team AND d.task_id = up.id
                )
                SELECT 1 FROM up WHERE id = :target LIMIT 1
                """
            ),
            {"team": actor.team_id, "start": depends_on, "target": id},
        )
        if cycle.first() is not None:
            raise validation(
                [
                    {
                        "field": "depends_on_task_id",
                        "message": f"{depends_on!r} already depends on {id!r} (directly or "
                        "through other tasks): this would make a cycle.",
                    }
                ],
                "The dependency would make a cycle.",
            )
        exists = await conn.execute(
            select(DEPS.c.id).where(
                DEPS.c.team_id == actor.team_id,
                DEPS.c.task_id == id,
                DEPS.c.depends_on_task_id == depends_on,
            )
        )
        if exists.first() is not None:
            raise Problem(409, f"Task {id!r} already depends on {depends_on!r}.", title="Conflict")
        row = {
            "team_id": actor.team_id,
            "id": new_id("tdep"),
            "task_id": id,
            "depends_on_task_id": depends_on,
            "type": type_,
            "created_by": actor.member_id if actor.actor_type != "system" else None,
        }
        res = await execute(
            conn, DEPS.insert().values(**row).returning(*[c for c in DEPS.c if c.name != "team_id"])
        )
        out = dict(res.one()._mapping)
        await events.append(conn, self._other_event(actor, "task_dependency", out, "created", None))
        return out

    async def dependencies(
        self, conn: AsyncConnection, actor: Actor, id: str
    ) -> dict[str, list[dict[str, Any]]]:
        await self.get(conn, actor, id)
        cols = [c for c in DEPS.c if c.name != "team_id"]
        rows = await conn.execute(
            select(*cols)
            .where(
                DEPS.c.team_id == actor.team_id,
                or_(DEPS.c.task_id == id, DEPS.c.depends_on_task_id == id),
            )
            .order_by(DEPS.c.created_at, DEPS.c.id)
        )
        all_rows = [dict(r._mapping) for r in rows]
        return {
            "depends_on": [r for r in all_rows if r["task_id"] == id],
            "blocks": [r for r in all_rows if r["depends_on_task_id"] == id],
        }

    async def remove_dependency(
        self, conn: AsyncConnection, actor: Actor, id: str, dep_id: str
    ) -> None:
        await self.get(conn, actor, id)
        cols = [c for c in DEPS.c if c.name != "team_id"]
        res = await conn.execute(
            DEPS.delete()
            .where(
                DEPS.c.team_id == actor.team_id,
                DEPS.c.id == dep_id,
                or_(DEPS.c.task_id == id, DEPS.c.depends_on_task_id == id),
            )
            .returning(*cols)
        )
        row = res.first()
        if row is None:
            raise not_found("dependency", dep_id)
        await events.append(
            conn, self._other_event(actor, "task_dependency", None, "deleted", dict(row._mapping))
        )

    def _other_event(
        self,
        actor: Actor,
        object_type: str,
        after: Mapping[str, Any] | None,
        action: str,
        before: Mapping[str, Any] | None,
        data: dict[str, Any] | None = None,
    ) -> EventRecord:
        obj = after or before
        assert obj is not None
        return actor_event(actor, object_type, obj["id"], action, diff(before, after), data=data)

    # ------------------------------------------------------------------ time tracking

    def _log_out(self, row: Mapping[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in row.items() if k not in ("team_id", "updated_at")}
        end = row["ended_at"] or datetime.now(UTC)
        out["hours"] = round((end - row["started_at"]).total_seconds() / 3600, 4)
        return out

    async def _running(
        self, conn: AsyncConnection, actor: Actor, *, for_update: bool = False
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

    async def start_timer(self, conn: AsyncConnection, actor: Actor, id: str) -> dict[str, Any]:
        await self.get(conn, actor, id)
        running = await self._running(conn, actor)
        if running is not None:
            raise self._timer_running(running)
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
            running = await self._running(conn, actor)
            if running is None:
                raise
            raise self._timer_running(running) from None
        out = dict(res.one()._mapping)
        await events.append(conn, self._log_event(actor, "created", None, out))
        return self._log_out(out)

    def _timer_running(self, running: Mapping[str, Any]) -> Problem:
        return Problem(
            409,
            f"A timer is already running on task {running['task_id']!r}; stop it first "
            "(one running timer per member).",
            title="Conflict",
            running_time_log_id=running["id"],
            running_task_id=running["task_id"],
        )

    async def stop_timer(self, conn: AsyncConnection, actor: Actor, id: str) -> dict[str, Any]:
        await self.get(conn, actor, id)
        running = await self._running(conn, actor, for_update=True)
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
        await events.append(conn, self._log_event(actor, "updated", running, out))
        return self._log_out(out)

    async def add_time_log(
        self, conn: AsyncConnection, actor: Actor, id: str, values: dict[str, Any]
    ) -> dict[str, Any]:
        task = await self.get(conn, actor, id)
        tz = zone((await self.member_zones(conn, actor, [actor.member_id])).get(actor.member_id))
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
        await events.append(conn, self._log_event(actor, "created", None, out))
        return self._log_out(out)

    async def time_logs(self, conn: AsyncConnection, actor: Actor, id: str) -> list[dict[str, Any]]:
        await self.get(conn, actor, id)
        rows = await conn.execute(
            select(LOGS)
            .where(LOGS.c.team_id == actor.team_id, LOGS.c.task_id == id)
            .order_by(LOGS.c.started_at, LOGS.c.id)
        )
        return [self._log_out(dict(r._mapping)) for r in rows]

    async def _changeable_log(
        self, conn: AsyncConnection, actor: Actor, task_id: str, log_id: str
    ) -> dict[str, Any]:
        """The time log ``log_id`` of the visible task ``task_id``, locked; 404 when either is
        unknown (or the log is another task's), 403 unless the caller logged it or is a
        manager and above (the rule of logged activities)."""
        await self.get(conn, actor, task_id)
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
        self,
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
        current = await self._changeable_log(conn, actor, task_id, log_id)
        check_version(current, if_match)
        changes = {k: values[k] for k in ("started_at", "ended_at", "notes") if k in values}
        if "ended_at" in changes and changes["ended_at"] is None:
            raise validation([{"field": "ended_at", "message": "ended_at cannot be cleared."}])
        moved = [k for k in ("started_at", "ended_at") if k in changes]
        if moved:
            tz = ZoneInfo("UTC")
            if any(changes[k].tzinfo is None for k in moved):
                who = current["member_id"]
                tz = zone((await self.member_zones(conn, actor, [who])).get(who))
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
            return self._log_out(current)
        res = await execute(
            conn,
            update(LOGS)
            .where(LOGS.c.team_id == actor.team_id, LOGS.c.id == current["id"])
            .values(**changes, updated_at=func.now(), version=LOGS.c.version + 1)
            .returning(LOGS),
        )
        out = dict(res.one()._mapping)
        await events.append(conn, self._log_event(actor, "updated", current, out))
        return self._log_out(out)

    async def delete_time_log(
        self,
        conn: AsyncConnection,
        actor: Actor,
        task_id: str,
        log_id: str,
        *,
        if_match: int | None = None,
    ) -> None:
        """Delete a log (a running timer's log too: the timer is discarded). The row goes;
        its ``deleted`` event keeps what it was."""
        current = await self._changeable_log(conn, actor, task_id, log_id)
        check_version(current, if_match)
        await conn.execute(
            LOGS.delete().where(LOGS.c.team_id == actor.team_id, LOGS.c.id == current["id"])
        )
        await events.append(conn, self._log_event(actor, "deleted", current, None))

    def _log_event(
        self,
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
        return self._other_event(
            actor, "time_log", strip(after), action, strip(before), {"task_id": row["task_id"]}
        )

    # ------------------------------------------------------------------ bulk

    async def bulk(
        self, conn: AsyncConnection, actor: Actor, action: str, ids: list[str], opts: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], bool]:
        """Apply ``action`` to every id; returns (results, all succeeded). The caller rolls
        everything back when one failed.

        No savepoint per id: more than 64 subtransactions in one transaction overflow
        PostgreSQL's snapshot cache and slow down every session of the server. A rule that
        refuses an id raises before writing, so the transaction stays usable and the next ids
        are still tried; after a database error (the transaction is aborted) the remaining ids
        are reported as not attempted (424).

        Without a round trip per id: what the rules read (members' zones, each id's blockers,
        subtasks to delete) is read for all ids at the start, each id goes through the same
        rules in order (an id finished earlier in the call no longer blocks a later one), and
        the rows are written at the end with one statement per kind of change. Only what a row
        truly needs runs on its own (the next occurrence of a recurring task). Should the
        database refuse one of those statements (a constraint), the call is redone row by row
        (one savepoint around it) so that the answer names the row, as it always did."""
        wanted = [i for i in ids if plausible_id(i)]
        rows = await conn.execute(
            self._scoped(actor)
            .where(TASKS.c.id.in_(wanted))
            .order_by(TASKS.c.id)  # one lock order: two bulks cannot deadlock
            .with_for_update()
        )
        visible = {r.id: dict(r._mapping) for r in rows}
        results: list[dict[str, Any]] = []
        run = _BulkRun(defer=True)
        await self._bulk_prefetch(conn, actor, action, opts, visible, run)
        savepoint = await conn.begin_nested()
        token = _BULK.set(run)
        try:
            ok = await self._bulk_all(conn, actor, action, ids, opts, visible, results)
            if ok:
                try:
                    await self._bulk_flush(conn, actor, run)
                except DBAPIError as e:
                    if db_problem(e) is None:
                        raise
                    # A rule the database enforces refused a row: redo it row by row.
                    await savepoint.rollback()
                    savepoint = await conn.begin_nested()
                    run = _BulkRun(defer=False)
                    _BULK.set(run)
                    results.clear()
                    ok = await self._bulk_all(conn, actor, action, ids, opts, visible, results)
        finally:
            _BULK.reset(token)
        if not ok:
            await savepoint.rollback()
            return results, False
        await events.append(conn, *run.events)
        await savepoint.commit()
        return results, True

    async def _bulk_prefetch(
        self,
        conn: AsyncConnection,
        actor: Actor,
        action: str,
        opts: dict[str, Any],
        visible: dict[str, dict[str, Any]],
        run: _BulkRun,
    ) -> None:
        """Read once what the rules of ``action`` would read for each id."""
        if action == "delete":
            await self._bulk_tree(conn, actor, list(visible), run)
            return
        members: set[str] = set()
        if action == "assign":
            members.update(opts["assignee_ids"])
            for row in visible.values():
                members.update(row["assignee_ids"])
                members.add(row.get("created_by") or actor.member_id)
        elif action == "complete":
            for row in visible.values():
                if row["recurrence_rule"]:  # its next occurrence is created for its assignees
                    members.update(row["assignee_ids"])
                    members.add(actor.member_id)
            run.blockers = {id: [] for id in visible}
            if visible:
                found = await conn.execute(
                    BULK_BLOCKERS, {"team": actor.team_id, "tasks": list(visible)}
                )
                for r in found:
                    run.blockers[r.task_id].append(r)
        if members:
            await self.member_zones(conn, actor, sorted(members))
        await tx_now(conn)

    async def _bulk_tree(
        self, conn: AsyncConnection, actor: Actor, ids: list[str], run: _BulkRun
    ) -> None:
        """Lock the live subtasks (any depth) of ``ids`` in id order and keep who is whose
        child: a delete takes them along."""
        run.children = {}
        if not ids:
            return
        rows = await conn.execute(BULK_TREE, {"team": actor.team_id, "ids": ids})
        for r in rows:
            if r.parent_task_id is not None:
                run.children.setdefault(r.parent_task_id, []).append(r.id)

    def _defer_delete(self, actor: Actor, id: str, run: _BulkRun, now: datetime) -> None:
        """:meth:`delete` of ``id`` and its live subtasks, depth first, one event each; the
        rows are written by :meth:`_bulk_flush`."""
        assert run.children is not None
        stack = [id]
        while stack:
            task_id = stack.pop()
            if task_id in run.deleted:
                continue
            run.deleted[task_id] = None
            run.events.append(
                self._event(actor, task_id, "deleted", {"deleted_at": [None, now.isoformat()]})
            )
            kids = [c for c in run.children.get(task_id, ()) if c not in run.deleted]
            stack.extend(reversed(kids))

    async def _bulk_flush(self, conn: AsyncConnection, actor: Actor, run: _BulkRun) -> None:
        """Write what the call decided: the deletions in one statement; the other changes in
        one statement per set of changed columns (``UPDATE ... FROM jsonb_to_recordset``),
        whose returned rows give each task's event, in the order of the ids."""
        if run.deleted:
            now = await tx_now(conn)
            await conn.execute(
                update(TASKS)
                .where(TASKS.c.team_id == actor.team_id, TASKS.c.id.in_(list(run.deleted)))
                .values(deleted_at=now, version=TASKS.c.version + 1, updated_at=now)
            )
        if not run.pending:
            return
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for current, values, _action, _data in run.pending:
            cols = tuple(sorted(values))
            groups.setdefault(cols, []).append(
                {"id": current["id"], **{c: _json_value(values[c]) for c in cols}}
            )
        written: dict[str, dict[str, Any]] = {}
        for cols, payload in groups.items():
            v = (
                func.jsonb_to_recordset(bindparam("rows", payload, type_=JSONB))
                .table_valued(
                    column("id", TASKS.c.id.type), *[column(c, TASKS.c[c].type) for c in cols]
                )
                .render_derived(name="v", with_types=True)
            )
            stmt = (
                update(TASKS)
                .where(TASKS.c.team_id == actor.team_id, TASKS.c.id == v.c.id)
                .values(
                    {
                        **{c: v.c[c] for c in cols},
                        "version": TASKS.c.version + 1,
                        "updated_at": func.now(),
                    }
                )
                .returning(*self.public_columns.values())
            )
            for r in await conn.execute(stmt):
                written[r.id] = dict(r._mapping)
        for current, _values, action, data in run.pending:
            row = written[current["id"]]
            run.events.append(self._event(actor, current["id"], action, diff(current, row), data))

    async def _bulk_all(
        self,
        conn: AsyncConnection,
        actor: Actor,
        action: str,
        ids: list[str],
        opts: dict[str, Any],
        visible: dict[str, dict[str, Any]],
        results: list[dict[str, Any]],
    ) -> bool:
        ok = True
        for n, id in enumerate(ids):
            if id not in visible:
                ok = False
                results.append({"id": id, "status": 404, "detail": f"No task with id {id!r}."})
                continue
            try:
                status = await self._bulk_one(conn, actor, action, id, opts, visible[id])
                results.append({"id": id, "status": status})
            except Problem as p:
                ok = False
                r = {"id": id, "status": p.status, "detail": p.detail}
                if "blocking_task_id" in p.extra:
                    r["blocking_task_id"] = p.extra["blocking_task_id"]
                if p.errors:
                    r["detail"] = "; ".join(f"{e['field']}: {e['message']}" for e in p.errors)
                results.append(r)
                if not await _usable(conn):
                    results += [
                        {"id": rest, "status": 424, "detail": "Not attempted."}
                        for rest in ids[n + 1 :]
                    ]
                    break
        return ok

    async def _bulk_one(
        self,
        conn: AsyncConnection,
        actor: Actor,
        action: str,
        id: str,
        opts: dict[str, Any],
        current: dict[str, Any],
    ) -> int:
        """One id of a bulk call; ``current`` is its row as locked at the start (only a delete
        changes other rows of the call: its subtasks)."""
        if action == "delete":
            run = _BULK.get()
            if run is not None and run.defer:
                self._defer_delete(actor, id, run, await tx_now(conn))
            elif await self._exists(conn, actor, id):
                await self.delete(conn, actor, id)
            # else: a subtask already deleted with its parent earlier in this call.
            return 200
        if action == "complete":
            await self.update(
                conn, actor, id, {"status": "completed"}, rollup=False, current=current
            )
            return 200
        if action == "assign":
            given = list(opts["assignee_ids"])
            have = list(current["assignee_ids"])
            mode = opts.get("mode", "replace")
            new = (
                given
                if mode == "replace"
                else have + [m for m in given if m not in have]
                if mode == "add"
                else [m for m in have if m not in given]
            )
            await self.update(conn, actor, id, {"assignee_ids": new}, rollup=False, current=current)
            return 200
        # reschedule
        if "due_at" in opts:
            await self.update(
                conn, actor, id, {"due_at": opts["due_at"]}, rollup=False, current=current
            )
            return 200
        if current["due_at"] is None:
            raise validation([{"field": "shift_by", "message": "The task has no due_at to shift."}])
        cal, exact = opts["shift"]
        tz = zone(current["time_zone"])
        try:
            moved = (
                local_shift(current["due_at"], cal, tz, calendar=True) if cal else current["due_at"]
            )
            moved = (moved + exact).astimezone(UTC)
        except OverflowError:  # beyond year 9999: out of range as well
            moved = None
        if moved is None or not in_range(moved):
            raise validation([{"field": "shift_by", "message": f"Shifted: {RANGE_MESSAGE}"}])
        await self.update(conn, actor, id, {"due_at": moved}, rollup=False, current=current)
        return 200


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
    if end > datetime.now(UTC) + timedelta(minutes=5):
        errors.append({"field": "ended_at", "message": "A time log cannot end in the future."})
    return errors


# Every id's unfinished blockers, read once by a bulk complete (as BLOCKERS per id).
BULK_BLOCKERS = text(
    """
    SELECT d.task_id, d.depends_on_task_id, d.type, p.status, p.started_at
    FROM app.task_dependencies d
    JOIN app.tasks p ON p.team_id = d.team_id AND p.id = d.depends_on_task_id
    WHERE d.team_id = :team AND d.task_id = ANY(:tasks)
      AND p.deleted_at IS NULL AND p.status NOT IN ('completed', 'cancelled')
    ORDER BY d.task_id, d.created_at, d.id
    """
)

# The tasks of a bulk delete and their live subtasks, any depth (through live tasks, as
# TaskService.delete walks them), locked in id order.
BULK_TREE = text(
    """
    WITH RECURSIVE tree(id) AS (
      SELECT unnest(CAST(:ids AS text[]))
      UNION
      SELECT c.id FROM app.tasks c
      JOIN tree ON c.team_id = :team AND c.parent_task_id = tree.id
      WHERE c.deleted_at IS NULL
    )
    SELECT t.id, t.parent_task_id FROM app.tasks t
    WHERE t.team_id = :team AND t.id IN (SELECT id FROM tree) AND t.deleted_at IS NULL
    ORDER BY t.id
    FOR UPDATE OF t
    """
)


@dataclass
class _BulkRun:
    """One bulk call: what it read at its start, and what it will write at its end.
    ``defer=False``: the row-by-row path (each row written as it goes)."""

    defer: bool
    events: list[EventRecord] = field(default_factory=list)
    pending: list[tuple[dict[str, Any], dict[str, Any], str, dict[str, Any] | None]] = field(
        default_factory=list
    )
    zones: dict[str, str] = field(default_factory=dict)
    looked_up: set[str] = field(default_factory=set)
    blockers: dict[str, list[Any]] | None = None
    finished: set[str] = field(default_factory=set)
    children: dict[str, list[str]] | None = None
    deleted: dict[str, None] = field(default_factory=dict)


_BULK: ContextVar[_BulkRun | None] = ContextVar("tasks_bulk_run", default=None)


def _json_value(value: Any) -> Any:
    """A column value for ``jsonb_to_recordset`` (read back exactly by the column's type)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return value


async def _usable(conn: AsyncConnection) -> bool:
    """False when a database error aborted the transaction (read from the driver's state: no
    round trip)."""
    raw = await conn.get_raw_connection()
    status = raw.driver_connection.info.transaction_status  # type: ignore[union-attr]
    return status not in (TransactionStatus.INERROR, TransactionStatus.UNKNOWN)


task_service = TaskService()
