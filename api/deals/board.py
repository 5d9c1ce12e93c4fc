"""The kanban board of a pipeline: one column per stage with its count, total and weighted
value and a page of cards; more of one column with its cursor."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec
from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.records import plausible_id
from api.deals.service import deal_service, money, value_totals
from leadly.actor import Actor
from leadly.problem import Problem, bad_param


def _encode_cursor(stage: str, position: float, id: str, totals: tuple[int, Any, Any]) -> str:
    """A column's next-page cursor: where the page ended, and the column's totals as the first
    page computed them (later pages of the column show those, without re-aggregating)."""
    count, total, weighted_total = totals
    raw = msgspec.json.encode([stage, position, id, count, str(total), str(weighted_total)])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, float, str, tuple[int, Decimal, Decimal]]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        stage, position, id, count, total, weighted_total = msgspec.json.decode(raw)
        if not (
            isinstance(stage, str)
            and isinstance(position, int | float)
            and not isinstance(position, bool)
            and plausible_id(id)
            and isinstance(count, int)
            and not isinstance(count, bool)
        ):
            raise ValueError
        totals = (count, Decimal(total), Decimal(weighted_total))
        if not all(v.is_finite() for v in totals[1:]):
            raise ValueError
        return stage, float(position), id, totals
    except (ValueError, TypeError, binascii.Error, msgspec.DecodeError, InvalidOperation):
        raise bad_param(
            "cursor", "The cursor is malformed.", "Use a next_cursor of this board."
        ) from None


async def board(
    conn: AsyncConnection,
    actor: Actor,
    pipeline: Mapping[str, Any],
    *,
    stage: str | None,
    cursor: str | None,
    limit: int,
    filters: Sequence[Any] = (),
) -> dict[str, Any]:
    keys = [s["key"] for s in pipeline["stages"]]
    after = None
    carried: dict[str, tuple[int, Any, Any]] = {}
    if cursor is not None:
        c_stage, c_pos, c_id, c_totals = _decode_cursor(cursor)
        if stage is not None and stage != c_stage:
            raise Problem(400, "The cursor belongs to another column.")
        stage, after = c_stage, (c_pos, c_id)
        carried[c_stage] = c_totals
    if stage is not None and stage not in keys:
        raise bad_param("stage", f"No stage {stage!r} in this pipeline.", "Unknown stage key.")
    t = deal_service.table
    base = [
        t.c.team_id == actor.team_id,
        t.c.pipeline_id == pipeline["id"],
        t.c.deleted_at.is_(None),
        *filters,
    ]
    wanted = [stage] if stage is not None else keys
    totals_q = (
        select(
            t.c.stage,
            *value_totals(),
        )
        .where(*base, t.c.stage.in_(wanted))
        .group_by(t.c.stage)
    )
    totals: dict[str, tuple[int, Any, Any]] = dict(carried)
    if not carried:
        totals = {r[0]: (int(r[1]), r[2], r[3]) for r in await conn.execute(totals_q)}
    columns = []
    page_rows: dict[str, list[dict[str, Any]]] = {}
    for key in wanted:
        q = deal_service._select.where(*base, t.c.stage == key)
        if after is not None:
            q = q.where(tuple_(t.c.position, t.c.id) > tuple_(after[0], after[1]))
        q = q.order_by(t.c.position, t.c.id).limit(limit + 1)
        page_rows[key] = [dict(r._mapping) for r in await conn.execute(q)]
    everything = [r for rows in page_rows.values() for r in rows[:limit]]
    presented = {
        r["id"]: r
        for r in await deal_service.present(conn, actor, everything, pipelines=[pipeline])
    }
    by_key = {s["key"]: s for s in pipeline["stages"]}
    for key in wanted:
        rows = page_rows[key]
        count, total, weighted_total = totals.get(key, (0, Decimal(0), Decimal(0)))
        more = len(rows) > limit
        rows = rows[:limit]
        columns.append(
            {
                "stage": key,
                "name": by_key[key]["name"],
                "count": count,
                "total_value": money(total),
                "weighted_value": money(weighted_total),
                "deals": [presented[r["id"]] for r in rows],
                "next_cursor": _encode_cursor(
                    key, rows[-1]["position"], rows[-1]["id"], (count, total, weighted_total)
                )
                if more and rows
                else None,
            }
        )
    return {"pipeline_id": pipeline["id"], "columns": columns}
