"""Tasks: the record service, its views and its rules (assignees, time zones, related records,
parents, recurrence rules, status timestamps and the dependencies that block a status change).

Every write appends its event in the same transaction: tasks as ``task`` created/updated/
deleted (``changes`` of ``[before, after]``, so a status change is ``changes.status`` and an
assignment ``changes.assignee_ids``). The rest of the package works through :data:`task_service`:
dependencies (:mod:`api.tasks.dependencies`, ``task_dependency`` events), timers and time logs
(:mod:`api.tasks.time_logs`, ``time_log`` events), series (:mod:`api.tasks.recurrence`), bulk
actions (:mod:`api.tasks.bulk`), reminders (:mod:`api.tasks.reminders`, ``task``/
``reminder_fired``) and calendar feeds (:mod:`api.tasks.calendar`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, and_, any_, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.listing import ListParams
from api.common.records import (
    READ_ONLY,
    RecordService,
    actor_event,
    check_version,
    check_writable,
    plausible_id,
)
from api.tasks import recurrence
from api.tasks.basics import DONE, MAX_REMINDER, OPEN, localize, offset_delta, tx_now, zone
from leadly.actor import Actor
from leadly.ids import new_id
from leadly.problem import Problem, bad_param, validation
from warehouse.events import EventRecord, diff
from warehouse.models import Task, TaskAssignee, TeamMember

TASKS: Table = Task.__table__
ASSIGNEES: Table = TaskAssignee.__table__
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


def row_event(
    actor: Actor,
    object_type: str,
    action: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    data: dict[str, Any] | None = None,
) -> EventRecord:
    """The event of a row of ``object_type`` (a dependency, a time log, a feed) going from
    ``before`` to ``after`` (None: created / deleted)."""
    obj = after or before
    assert obj is not None
    return actor_event(actor, object_type, obj["id"], action, diff(before, after), data=data)


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

    # Guests see the tasks assigned to them: api.common.visibility, applied by every read path.

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
                    raise bad_param(
                        "filter[overdue]", "filter[overdue] takes true or false.", "Not a boolean."
                    )
                cond = and_(TASKS.c.due_at < func.now(), TASKS.c.status.in_(OPEN))
                where.append(cond if flag in ("true", "1") else ~cond)
            else:
                kept.append((name, op, raw))
        params = dataclasses.replace(params, filters=tuple(kept))
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

    # ------------------------------------------------------------------ validation

    async def member_zones(
        self, conn: AsyncConnection, actor: Actor, ids: Iterable[str]
    ) -> dict[str, str]:
        """The time zone of each of ``ids`` that names a member of the team."""
        wanted = [i for i in ids if plausible_id(i)]
        if not wanted:
            return {}
        rows = await conn.execute(
            select(MEMBERS.c.id, MEMBERS.c.time_zone).where(
                MEMBERS.c.team_id == actor.team_id, MEMBERS.c.id.in_(wanted)
            )
        )
        return {r.id: r.time_zone for r in rows}

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
            elif not await self.exists(conn, actor, parent):
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

    async def exists(self, conn: AsyncConnection, actor: Actor, id: str) -> bool:
        """``id`` names a live task ``actor`` can see."""
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

    async def unfinished_blockers(
        self, conn: AsyncConnection, actor: Actor, task_id: str
    ) -> Iterable[Any]:
        """The rows of :data:`BLOCKERS` for ``task_id`` (a bulk call reads them once for all
        its ids: :mod:`api.tasks.bulk`)."""
        return await conn.execute(BLOCKERS, {"team": actor.team_id, "task": task_id})

    async def check_unblocked(
        self, conn: AsyncConnection, actor: Actor, task_id: str, new_status: str
    ) -> None:
        """409 naming the blocker when a dependency forbids starting or completing."""
        types = {"finish_to_start", "start_to_start"}
        if new_status == "completed":
            types.add("finish_to_finish")
        rows = [r for r in await self.unfinished_blockers(conn, actor, task_id) if r.type in types]
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
        check_writable(values, allow, READ_ONLY | SYSTEM_FIELDS)
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
            nxt = await recurrence.spawn_next(self, conn, actor, {**current, **values})
            if nxt is not None:
                values["next_occurrence_id"] = nxt["id"]
        row = await self.apply(conn, actor, current, values, action)
        return (await self.decorate(conn, actor, [row]))[0] if rollup else row

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


task_service = TaskService()
