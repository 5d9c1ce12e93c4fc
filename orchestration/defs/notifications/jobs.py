"""The notifications job: meeting reminders, snoozes that ended, due deliveries and digests (see
:mod:`api.notifications.delivery` and :mod:`api.notifications.reminders`)."""

from typing import Any

from orchestration.service_job import run_waking, service_job


def run_notifications_now() -> dict[str, Any]:
    """Fire due meeting reminders, send due deliveries and digests once; returns counts. A plain
    function with its own event loop, callable from any synchronous code."""
    from api.notifications import center, delivery, reminders

    async def once() -> dict[str, Any]:
        fired = await reminders.fire_meeting_reminders()
        woken = await center.wake_snoozed()
        due = await delivery.deliver_due()
        digests = await delivery.send_digests()
        return {"meeting_reminders": len(fired), **woken, **due, **digests}

    return run_waking(once)


notifications_delivery = service_job(
    "notifications_delivery",
    op="deliver_notifications",
    run_once=run_notifications_now,
    summary=lambda counts: f"notifications: {counts}",
    description="Fire meeting reminders, send deliveries held back by do-not-disturb or snooze "
    "and retries that are due, and send hourly/daily email digests.",
    op_description="Meeting reminders, held-back deliveries (DND, snooze, retries), digests.",
    max_runtime=600,
)

jobs = [notifications_delivery]
