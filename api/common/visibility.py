"""Who may see which record: one restriction per object type, used by every path that reads a
record or something about it — the record itself, lists, ``as_of``, history, timelines (the
record's and its children's), and activity lists (entries about a hidden record are left out).
A record outside the actor's restriction answers 404 on its own paths, like another team's.

Today: guests see only the tasks assigned to them. The permissions capability (record-level
access, sharing rules) adds its rules here, so every read path follows them at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import any_, column, func, select
from sqlalchemy import table as sa_table
from sqlalchemy.ext.asyncio import AsyncConnection

from leadly.actor import Actor
from warehouse.models.tasks import TaskAssignee

ASSIGNEES = TaskAssignee.__table__

Restriction = Callable[[Actor, Any], Any]
"""``(actor, id column) -> condition`` on that column, or None when the actor sees them all."""


def _tasks(actor: Actor, id_column: Any) -> Any:
    if actor.at_least("user") or actor.actor_type == "system":
        return None
    # Guests: the tasks assigned to them, read from the assignee mirror's primary key (B-tree,
    # usable under row-level security; see bench/tasks.py), then fetched by id.
    mine = select(ASSIGNEES.c.task_id).where(
        ASSIGNEES.c.team_id == actor.team_id, ASSIGNEES.c.member_id == actor.member_id
    )
    return id_column == any_(func.array(mine.scalar_subquery()))


RESTRICTIONS: dict[str, Restriction] = {"task": _tasks}


def restriction(actor: Actor, object_type: str, id_column: Any) -> Any:
    """The condition ``id_column`` (ids of ``object_type`` records) must meet for ``actor``, or
    None when nothing is hidden from them."""
    rule = RESTRICTIONS.get(object_type)
    return rule(actor, id_column) if rule is not None else None


def restricted_types(actor: Actor) -> list[str]:
    """The object types some of whose records are hidden from ``actor``."""
    probe = column("id")
    return [t for t, rule in RESTRICTIONS.items() if rule(actor, probe) is not None]


async def visible_ids(
    conn: AsyncConnection, actor: Actor, object_type: str, table: str, ids: list[str]
) -> list[str]:
    """``ids`` (records of ``object_type`` in ``app.<table>``) that ``actor`` may see, in order
    (deleted ones included: whether they are live is the caller's question)."""
    records = sa_table(table, column("team_id"), column("id"), schema="app")
    cond = restriction(actor, object_type, records.c.id)
    if cond is None or not ids:
        return ids
    rows = await conn.execute(
        select(records.c.id).where(records.c.team_id == actor.team_id, records.c.id.in_(ids), cond)
    )
    seen = {r[0] for r in rows}
    return [i for i in ids if i in seen]
