"""Notifications run every minute (digests go out when a member's hour comes)."""

import dagster as dg

from orchestration.defs.notifications.jobs import notifications_delivery

schedules = [
    dg.ScheduleDefinition(
        name="notifications_every_minute",
        job=notifications_delivery,
        cron_schedule="* * * * *",
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Meeting reminders, held-back deliveries and email digests.",
    )
]
