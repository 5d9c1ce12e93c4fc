"""Deal analytics: stage velocity (days per stage) and the weighted open pipeline."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from api.deals.service import deal_service, money, value_totals
from leadly.actor import Actor


async def velocity(
    conn: AsyncConnection,
    actor: Actor,
    date_from: date,
    date_to: date,
    pipeline_id: str | None,
    owner_id: str | None,
) -> dict[str, Any]:
    """Days deals spent per stage, for the stage changes made in [date_from, date_to]:
    average and median, by pipeline and by owner (the owner when the deal left the stage)."""
    sql = text(
        """
        SELECT pipeline_id, owner_id, from_stage AS stage, count(*) AS transitions,
               round(avg(duration_in_stage) / 86400.0, 2)::float8 AS average_days,
               round((percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_in_stage)
                      / 86400.0)::numeric, 2)::float8 AS median_days,
               GROUPING(owner_id) AS all_owners
        FROM app.deal_stage_history
        WHERE team_id = :t AND from_stage IS NOT NULL
          AND changed_at >= CAST(:d0 AS date) AND changed_at < CAST(:d1 AS date) + 1
          AND (CAST(:p AS text) IS NULL OR pipeline_id = :p)
          AND (CAST(:o AS text) IS NULL OR owner_id = :o)
        GROUP BY GROUPING SETS ((pipeline_id, from_stage), (pipeline_id, owner_id, from_stage))
        ORDER BY pipeline_id, owner_id NULLS FIRST, from_stage
        """
    )
    rows = await conn.execute(
        sql,
        {"t": actor.team_id, "d0": date_from, "d1": date_to, "p": pipeline_id, "o": owner_id},
    )
    by_pipeline, by_owner = [], []
    for r in rows:
        item = {
            "pipeline_id": r.pipeline_id,
            "stage": r.stage,
            "transitions": int(r.transitions),
            "average_days": float(r.average_days),
            "median_days": float(r.median_days),
        }
        if r.all_owners:
            by_pipeline.append(item)
        else:
            by_owner.append({**item, "owner_id": r.owner_id})
    return {
        "date_from": date_from,
        "date_to": date_to,
        "by_pipeline": by_pipeline,
        "by_owner": by_owner,
    }


async def weighted_pipeline(
    conn: AsyncConnection, actor: Actor, pipeline_id: str | None, owner_id: str | None
) -> dict[str, Any]:
    """Open deals' total and probability-weighted value per pipeline and currency."""
    t = deal_service.table
    q = (
        select(
            t.c.pipeline_id,
            t.c.currency,
            *value_totals(),
        )
        .where(t.c.team_id == actor.team_id, t.c.deleted_at.is_(None), t.c.status == "open")
        .group_by(t.c.pipeline_id, t.c.currency)
        .order_by(t.c.pipeline_id, t.c.currency)
    )
    if pipeline_id is not None:
        q = q.where(t.c.pipeline_id == pipeline_id)
    if owner_id is not None:
        q = q.where(t.c.owner_id == owner_id)
    return {
        "data": [
            {
                "pipeline_id": r[0],
                "currency": r[1],
                "open_deals": int(r[2]),
                "total_value": money(r[3]),
                "weighted_value": money(r[4]),
            }
            for r in await conn.execute(q)
        ]
    }
