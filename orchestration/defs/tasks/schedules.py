"""Reminders are checked every minute."""

from orchestration.defs.tasks.jobs import task_reminders
from orchestration.schedule import utc_schedule

schedules = [
    utc_schedule(
        "task_reminders_every_minute",
        task_reminders,
        "* * * * *",
        "Fire due task reminders and overdue alerts.",
    )
]
