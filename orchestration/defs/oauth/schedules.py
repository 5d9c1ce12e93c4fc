"""Expired OAuth codes and tokens and old request-log rows are gone within the hour."""

from orchestration.defs.oauth.jobs import oauth_purge
from orchestration.schedule import utc_schedule

schedules = [
    utc_schedule(
        "oauth_purge_hourly",
        oauth_purge,
        "17 * * * *",
        "Purge expired OAuth codes and tokens and request-log rows older than 30 days.",
    )
]
