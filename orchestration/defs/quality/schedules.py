"""The raw import tables are checked every hour (imports land in them at any time)."""

from orchestration.defs.quality.jobs import raw_quality_checks
from orchestration.schedule import utc_schedule

schedules = (
    [
        utc_schedule(
            "raw_quality_hourly",
            raw_quality_checks,
            "7 * * * *",
            "Great Expectations suites on the raw import tables, hourly.",
        )
    ]
    if raw_quality_checks is not None
    else []
)
