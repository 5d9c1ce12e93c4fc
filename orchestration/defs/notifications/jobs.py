"""The notifications job: meeting reminders, snoozes that ended, due deliveries and digests (see
:mod:`api.notifications.delivery` and :mod:`api.notifications.reminders`)."""

from typing import Any

import dagster as dg


def run_notifications_now() -> dict[str, Any]:
    """Fire due meeting reminders, send due deliveries and digests once; returns counts. A plain
    function with its own event loop, callable from any synchronous code."""
    from api.dispatcher import wake
    from api.notifications import center, delivery, reminders
    from warehouse.db import run

    async def once() -> dict[str, Any]:
        # The meeting reminders' events wake the worker at once (closes the broker after).
        async with wake.publishing():
            fired = await reminders.fire_meeting_reminders()
            woken = await center.wake_snoozed()
            due = await delivery.deliver_due()
            digests = await delivery.send_digests()
            return {"meeting_reminders": len(fired), **woken, **due, **digests}

    # Its own event loop and engines (warehouse.db.run closes them with the loop).
    return run(once)


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
