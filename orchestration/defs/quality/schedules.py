"""The raw import tables are checked every hour (imports land in them at any time)."""

import dagster as dg

from orchestration.defs.quality.jobs import raw_quality_checks

schedules = (
    [
        dg.ScheduleDefinition(
            name="raw_quality_hourly",
            job=raw_quality_checks,
            cron_schedule="7 * * * *",
            execution_timezone="UTC",
            default_status=dg.DefaultScheduleStatus.RUNNING,
            description="Great Expectations suites on the raw import tables, hourly.",
        )
    ]
    if raw_quality_checks is not None
    else []
)
