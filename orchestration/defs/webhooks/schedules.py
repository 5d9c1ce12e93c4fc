"""Webhook endpoints failing for 5 days are disabled within the hour."""

from orchestration.defs.webhooks.jobs import webhooks_disable_failing
from orchestration.schedule import utc_schedule

schedules = [
    utc_schedule(
        "webhooks_hourly",
        webhooks_disable_failing,
        "7 * * * *",
        "Disable webhook endpoints failing for 5 days.",
    )
]
