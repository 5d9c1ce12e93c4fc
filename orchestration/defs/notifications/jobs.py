"""The notifications job: meeting reminders, snoozes that ended, due deliveries and digests (see
:mod:`api.notifications.delivery` and :mod:`api.notifications.reminders`)."""

import asyncio
from typing import Any

import dagster as dg


def run_notifications_now() -> dict[str, Any]:
    """Fire due meeting reminders, send due deliveries and digests once; returns counts. A plain
    function with its own event loop, callable from any synchronous code."""
    from api.dispatcher import wake
    from api.notifications import delivery, reminders, service
    from leadly.settings import get_settings
    from warehouse.db import database_url, make_async_engine

    async def run() -> dict[str, Any]:
        # Engines of this run's own event loop, closed with it.
        s = get_settings()
        engine = make_async_engine(database_url(s), s.api_db_role, pool_size=2)
        token = service.ENGINE.set(engine)
        try:
            # The meeting reminders' events wake the worker at once (closes the broker after).
            async with wake.publishing():
                fired = await reminders.fire_meeting_reminders()
                woken = await service.wake_snoozed()
                due = await delivery.deliver_due()
                digests = await delivery.send_digests()
                return {"meeting_reminders": len(fired), **woken, **due, **digests}
        finally:
            service.ENGINE.reset(token)
            await engine.dispose()
            await delivery.dispose_engines()

    return asyncio.run(run())


@dg.op(description="Meeting reminders, held-back deliveries (DND, snooze, retries), digests.")
def deliver_notifications(context: dg.OpExecutionContext) -> dict[str, Any]:
    counts = run_notifications_now()
    context.log.info(f"notifications: {counts}")
    return counts


@dg.job(
    description="Fire meeting reminders, send deliveries held back by do-not-disturb or snooze "
    "and retries that are due, and send hourly/daily email digests.",
    tags={"dagster/max_runtime": "600"},
)
def notifications_delivery() -> None:
    deliver_notifications()


jobs = [notifications_delivery]
