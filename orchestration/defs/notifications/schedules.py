"""Notifications run every minute (digests go out when a member's hour comes)."""

from orchestration.defs.notifications.jobs import notifications_delivery
from orchestration.schedule import utc_schedule

schedules = [
    utc_schedule(
        "notifications_every_minute",
        notifications_delivery,
        "* * * * *",
        "Meeting reminders, held-back deliveries and email digests.",
    )
]
