"""References between records: a field that names another record must name a live one of the
caller's team (the composite foreign keys already stop cross-team ids; this also stops deleted
records and answers before any other write of the request happened)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from leadly.actor import Actor
from leadly.problem import validation

# What an id in a URL or a body may look like before it reaches SQL (``lead_01J...``); anything
# else cannot name a record, so it is a 404 without a query (and no NUL byte reaches psycopg).
_ID_SHAPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,199}$")


def plausible_id(value: object) -> bool:
    """Whether ``value`` can be a record id at all (a look-up for anything else is pointless)."""
    return isinstance(value, str) and _ID_SHAPE.match(value) is not None


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
