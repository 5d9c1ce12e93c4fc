"""The dispatcher consumer that runs deal progression rules when related activity changes.

A call log or a timeline activity (call, meeting, email, note) written, changed or restored may
make an activity condition of a progression rule hold (e.g. "a meeting was booked"): this
consumer re-evaluates the open deals it concerns (the deal it is on, or the deals of its lead or
contact), as the system actor, in its team. Re-running it is harmless (a deal that
already advanced has no further rule to satisfy, or advances once more only if a later rule
holds), so at-least-once delivery is fine. Other activity kinds (the activity timeline) can
call :meth:`api.deals.service.DealService.reevaluate` the same way.
"""

from __future__ import annotations

from sqlalchemy import select

from api.dispatcher.registry import Consumer, DispatchedEvent
from leadly.actor import system_actor
from warehouse.db import api_engine, tenant_tx
from warehouse.models import CallLog
from warehouse.models.activities import Activity

ACTIONS = frozenset({"created", "updated", "restored", "merged"})


def activity_changed(event: DispatchedEvent) -> bool:
    return event.object_type in ("call_log", "activity") and event.action in ACTIONS


async def run_progression(event: DispatchedEvent) -> None:
    from api.deals.service import deal_service

    actor = system_actor(event.team_id, event.request_id)
    async with tenant_tx(api_engine(), event.team_id) as conn:
        targets: dict[str, list[str]] = {"deal": [], "lead": [], "contact": []}
        if event.object_type == "call_log":
            t = CallLog.__table__
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
            targets["lead"] += [call.lead_id] if call.lead_id else []
            targets["contact"] += [call.contact_id] if call.contact_id else []
        else:
            a = Activity.__table__
            entry = (
                await conn.execute(
                    select(a.c.related_to_type, a.c.related_to_id).where(
                        a.c.team_id == event.team_id,
                        a.c.id == event.object_id,
                        a.c.deleted_at.is_(None),
                        a.c.source_event_id.is_(None),
                    )
                )
            ).first()
            if entry is None or entry.related_to_type not in targets:
                return
            targets[entry.related_to_type].append(entry.related_to_id)
        await deal_service.reevaluate(
            conn,
            actor,
            deal_ids=targets["deal"],
            lead_ids=targets["lead"],
            contact_ids=targets["contact"],
        )


deal_progression_consumer = Consumer(
    "deal_progression",
    run_progression,
    filter=activity_changed,
    start_from="now",
    description="Advance deals whose progression rules hold after their activity changed",
)
