"""Task dependencies: "B depends on A" (finish_to_start, start_to_start, finish_to_finish).

Adding one is refused when it would close a cycle; each change appends a ``task_dependency``
event. The rule a dependency enforces (a blocked task cannot start or be completed) lives with
the task's status in :meth:`api.tasks.service.TaskService.check_unblocked`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, or_, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.records import execute
from api.tasks.service import row_event, task_service
from leadly.actor import Actor
from leadly.ids import new_id
from leadly.problem import Problem, not_found, validation
from warehouse import events
from warehouse.models import TaskDependency

DEPS: Table = TaskDependency.__table__
_OUT = [c for c in DEPS.c if c.name != "team_id"]

# Does :target already depend on :start, directly or through other tasks?
_CYCLE = text(
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
)


async def add_dependency(
    conn: AsyncConnection, actor: Actor, id: str, depends_on: str, type_: str
) -> dict[str, Any]:
    await task_service.get(conn, actor, id)
    if depends_on == id:
        raise validation(
            [{"field": "depends_on_task_id", "message": "A task cannot depend on itself."}]
        )
    if not await task_service.exists(conn, actor, depends_on):
        raise validation(
            [{"field": "depends_on_task_id", "message": "No task with this id in your team."}]
        )
    # Serialise dependency writes of the team so two concurrent additions cannot close a
    # cycle that neither sees.
    await conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended('task_deps:' || :t, 0))"),
        {"t": actor.team_id},
    )
    cycle = await conn.execute(_CYCLE, {"team": actor.team_id, "start": depends_on, "target": id})
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
    res = await execute(conn, DEPS.insert().values(**row).returning(*_OUT))
    out = dict(res.one()._mapping)
    await events.append(conn, row_event(actor, "task_dependency", "created", None, out))
    return out


async def dependencies(
    conn: AsyncConnection, actor: Actor, id: str
) -> dict[str, list[dict[str, Any]]]:
    """What the task depends on, and what it blocks."""
    await task_service.get(conn, actor, id)
    rows = await conn.execute(
        select(*_OUT)
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


async def remove_dependency(conn: AsyncConnection, actor: Actor, id: str, dep_id: str) -> None:
    await task_service.get(conn, actor, id)
    res = await conn.execute(
        DEPS.delete()
        .where(
            DEPS.c.team_id == actor.team_id,
            DEPS.c.id == dep_id,
            or_(DEPS.c.task_id == id, DEPS.c.depends_on_task_id == id),
        )
        .returning(*_OUT)
    )
    row = res.first()
    if row is None:
        raise not_found("dependency", dep_id)
    await events.append(
        conn, row_event(actor, "task_dependency", "deleted", dict(row._mapping), None)
    )
