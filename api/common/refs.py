"""References between records: a field that names another record must name a live one of the
caller's team (the composite foreign keys already stop cross-team ids; this also stops deleted
records and answers before any other write of the request happened)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.records import plausible_id
from leadly.actor import Actor
from leadly.problem import validation


async def check_refs(
    conn: AsyncConnection,
    actor: Actor,
    values: Mapping[str, Any],
    current: Mapping[str, Any] | None,
    refs: Mapping[str, tuple[Table, str]],
) -> None:
    """``refs`` maps a field to (table, what it names); 422 naming every field that misses."""
    errors = []
    for field, (table, what) in refs.items():
        value = values.get(field)
        if value is None or (current is not None and current.get(field) == value):
            continue
        q = select(table.c.id).where(table.c.team_id == actor.team_id, table.c.id == value)
        if "deleted_at" in table.c:
            q = q.where(table.c.deleted_at.is_(None))
        if not plausible_id(value) or (await conn.execute(q)).first() is None:
            errors.append({"field": field, "message": f"No {what} with this id in your team."})
    if errors:
        names = ", ".join(e["field"] for e in errors)
        raise validation(errors, f"{names}: no such record in your team.")
