"""The dispatcher consumer that runs deal progression rules when related activity changes.

A call log written, changed or restored may make an activity condition of a progression rule
hold (e.g. "a meeting was booked"): this consumer re-evaluates the open deals of the call's lead
and contact, as the system actor, in the call's team. Re-running it is harmless (a deal that
already advanced has no further rule to satisfy, or advances once more only if a later rule
holds), so at-least-once delivery is fine. Other activity kinds (the activity timeline) can
call :meth:`api.deals.service.DealService.reevaluate` the same way.
"""

from __future__ import annotations

from sqlalchemy import select

from api.common.context import system_actor
from api.dispatcher.registry import Consumer, DispatchedEvent
from warehouse.db import api_engine, tenant_tx
from warehouse.models import CallLog

ACTIONS = frozenset({"created", "updated", "restored", "merged"})


def activity_changed(event: DispatchedEvent) -> bool:
    return event.object_type == "call_log" and event.action in ACTIONS


async def run_progression(event: DispatchedEvent) -> None:
    from api.deals.service import deal_service

    t = CallLog.__table__
    actor = system_actor(event.team_id, event.request_id)
    async with tenant_tx(api_engine(), event.team_id) as conn:
        call = (
            await conn.execute(
                select(t.c.lead_id, t.c.contact_id).where(
                    t.c.team_id == event.team_id,
                    t.c.id == event.object_id,
                    t.c.deleted_at.is_(None),
                )
            )
        ).first()
        if call is None:
            return
        await deal_service.reevaluate(
            conn,
            actor,
            lead_ids=[call.lead_id] if call.lead_id else [],
            contact_ids=[call.contact_id] if call.contact_id else [],
        )


deal_progression_consumer = Consumer(
    "deal_progression",
    run_progression,
    filter=activity_changed,
    start_from="now",
    description="Advance deals whose progression rules hold after their activity changed",
)
