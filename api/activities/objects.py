"""The records a timeline can belong to: URL plural → singular object name and table.

Tables are looked up by name at request time (``to_regclass``), so objects whose tables arrive
in a later migration (deals, tasks) work as soon as those tables exist, and a missing table
answers 404 rather than 500. A table's shape is cached once it exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.records import plausible_id
from api.common.visibility import visible_ids
from leadly.actor import Actor


@dataclass(frozen=True)
class Child:
    """Records whose entries also show on the parent's timeline: ``table.fk = parent id``
    (and, for a polymorphic reference, ``table.kind_column = parent's object type``)."""

    object_type: str
    table: str
    fk: str
    kind_column: str | None = None


@dataclass(frozen=True)
class TimelineObject:
    plural: str
    object_type: str
    table: str
    children: tuple[Child, ...] = field(default=())


# Tasks attached to a record (tasks.related_to_type/id) show on that record's timeline.
TASKS = Child("task", "tasks", "related_to_id", kind_column="related_to_type")
TIMELINE_OBJECTS: dict[str, TimelineObject] = {
    o.plural: o
    for o in (
        TimelineObject("leads", "lead", "leads", (TASKS,)),
        TimelineObject("contacts", "contact", "contacts", (TASKS,)),
        TimelineObject(
            "accounts",
            "account",
            "accounts",
            (
                Child("contact", "contacts", "account_id"),
                Child("deal", "deals", "account_id"),
                TASKS,
            ),
        ),
        TimelineObject("deals", "deal", "deals", (TASKS,)),
        TimelineObject("tasks", "task", "tasks"),
    )
}
#: Objects an activity may be logged against (singular → table), beyond the timeline routes.
RELATABLE: dict[str, str] = {
    **{o.object_type: o.table for o in TIMELINE_OBJECTS.values()},
    "call_log": "call_logs",
}

# table → (has deleted_at, columns); only tables that exist are cached.
_shapes: dict[str, frozenset[str]] = {}


async def table_columns(conn: AsyncConnection, table: str) -> frozenset[str] | None:
    """The columns of ``app.<table>``, or None while the table does not exist."""
    cols = _shapes.get(table)
    if cols is not None:
        return cols
    rows = (
        await conn.execute(
            text(
                "SELECT a.attname FROM pg_attribute a "
                "WHERE a.attrelid = to_regclass(:t) AND a.attnum > 0 AND NOT a.attisdropped"
            ),
            {"t": f"app.{table}"},
        )
    ).all()
    if not rows:
        return None
    cols = frozenset(r[0] for r in rows)
    _shapes[table] = cols
    return cols


async def record_exists(conn: AsyncConnection, actor: Actor, table: str, record_id: str) -> bool:
    """A live record of the caller's team with this id exists in ``app.<table>``."""
    if not plausible_id(record_id):
        return False
    cols = await table_columns(conn, table)
    if cols is None or "team_id" not in cols:
        return False
    live = " AND deleted_at IS NULL" if "deleted_at" in cols else ""
    found = await conn.execute(
        text(f"SELECT 1 FROM app.{table} WHERE team_id = :t AND id = :id{live}"),
        {"t": actor.team_id, "id": record_id},
    )
    return found.first() is not None


async def resolve(
    conn: AsyncConnection, actor: Actor, obj: TimelineObject, record_id: str
) -> dict[str, list[str]] | None:
    """The records whose entries make up the record's timeline, by object type (the record
    itself and its live children), in one round trip; None when the record is not a live one
    of the caller's team."""
    if not plausible_id(record_id):
        return None
    cols = await table_columns(conn, obj.table)
    if cols is None or "team_id" not in cols:
        return None
    live = " AND deleted_at IS NULL" if "deleted_at" in cols else ""
    parts = [
        f"EXISTS (SELECT 1 FROM app.{obj.table} WHERE team_id = :t AND id = :id{live}) AS found"
    ]
    kinds: list[str] = []
    for i, child in enumerate(obj.children):
        ccols = await table_columns(conn, child.table)
        if ccols is None or child.fk not in ccols:
            continue
        if child.kind_column is not None and child.kind_column not in ccols:
            continue
        clive = " AND deleted_at IS NULL" if "deleted_at" in ccols else ""
        kind = f" AND {child.kind_column} = :kind" if child.kind_column else ""
        parts.append(
            f"ARRAY(SELECT id FROM app.{child.table} WHERE team_id = :t "
            f"AND {child.fk} = :id{kind}{clive}) AS c{i}"
        )
        kinds.append(child.object_type)
    row = (
        await conn.execute(
            text("SELECT " + ", ".join(parts)),
            {"t": actor.team_id, "id": record_id, "kind": obj.object_type},
        )
    ).one()
    if not row[0]:
        return None
    # The record and its children as the actor may read them (api.common.visibility).
    if not await visible_ids(conn, actor, obj.object_type, obj.table, [record_id]):
        return None
    out: dict[str, list[str]] = {obj.object_type: [record_id]}
    tables = {c.object_type: c.table for c in obj.children}
    for kind_, ids in zip(kinds, row[1:], strict=True):
        seen = await visible_ids(conn, actor, kind_, tables[kind_], list(ids or []))
        out.setdefault(kind_, []).extend(seen)
    return out
