"""Reminders are checked every minute."""

import dagster as dg

from orchestration.defs.tasks.jobs import task_reminders

schedules = [
    dg.ScheduleDefinition(
        name="task_reminders_every_minute",
        job=task_reminders,
        cron_schedule="* * * * *",
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Fire due task reminders and overdue alerts.",
    )
]
