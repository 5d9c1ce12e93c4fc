"""Card order within a board column: a float ``position`` per deal, placed by bisection
between its neighbours; a column is renumbered only when bisection runs out of room."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from leadly.actor import Actor
from leadly.problem import Problem
from warehouse.models.deals import Deal

deals = Deal.__table__


def _column(actor: Actor, pipeline_id: str, stage: str, exclude: str | None) -> list[Any]:
    t = deals
    conds = [
        t.c.team_id == actor.team_id,
        t.c.pipeline_id == pipeline_id,
        t.c.stage == stage,
        t.c.deleted_at.is_(None),
    ]
    if exclude is not None:
        conds.append(t.c.id != exclude)
    return conds


async def position(
    conn: AsyncConnection,
    actor: Actor,
    pipeline_id: str,
    stage: str,
    index: int | None,
    exclude: str | None,
) -> float:
    """The ordering key that puts a deal at ``index`` of a column (None: at its end);
    ``exclude``: the deal being moved."""
    t = deals
    conds = _column(actor, pipeline_id, stage, exclude)
    if index is None:
        last = (
            await conn.execute(
                select(t.c.position).where(*conds).order_by(t.c.position.desc()).limit(1)
            )
        ).scalar_one_or_none()
        return 0.0 if last is None else float(last) + 1.0
    for _attempt in range(2):
        q = select(t.c.position).where(*conds).order_by(t.c.position, t.c.id)
        if index == 0:
            first = (await conn.execute(q.limit(1))).scalar_one_or_none()
            return 0.0 if first is None else float(first) - 1.0
        around = list((await conn.execute(q.offset(index - 1).limit(2))).scalars())
        if not around:
            return await position(conn, actor, pipeline_id, stage, None, exclude)
        if len(around) == 1:
            return float(around[0]) + 1.0
        mid = (around[0] + around[1]) / 2
        if around[0] < mid < around[1]:
            return mid
        await _renumber(conn, actor, pipeline_id, stage)
    raise Problem(409, "The column could not be reordered; retry.", title="Conflict")


async def _renumber(conn: AsyncConnection, actor: Actor, pipeline_id: str, stage: str) -> None:
    """Spread a column's ordering keys out again (only when bisection ran out of room)."""
    await conn.execute(
        text(
            """
            UPDATE app.deals d SET position = o.rn
            FROM (SELECT id, row_number() OVER (ORDER BY position, id) AS rn
                  FROM app.deals
                  WHERE team_id = :t AND pipeline_id = :p AND stage = :s
                    AND deleted_at IS NULL) o
            WHERE d.team_id = :t AND d.id = o.id
            """
        ),
        {"t": actor.team_id, "p": pipeline_id, "s": stage},
    )
