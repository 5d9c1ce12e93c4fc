"""When dbt runs: incrementally every 15 minutes (``--selector frequent``), fully every night
(UTC, ``--full-refresh --selector nightly``). Both start enabled."""

import dagster as dg

from orchestration.defs.dbt.jobs import (
    dbt_incremental_build,
    dbt_nightly_full_build,
    dbt_run_pending,
)
from orchestration.schedule import utc_schedule

INCREMENTAL_CRON = "*/15 * * * *"
NIGHTLY_CRON = "0 2 * * *"


@dg.schedule(
    name="dbt_every_15_minutes",
    job=dbt_incremental_build,
    cron_schedule=INCREMENTAL_CRON,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Incremental dbt build (selector frequent) every 15 minutes (skipped while one "
    "is still queued).",
)
def dbt_every_15_minutes(context: dg.ScheduleEvaluationContext):
    if dbt_run_pending(context.instance):
        return dg.SkipReason("a dbt build is already queued")
    return dg.RunRequest()


dbt_nightly = utc_schedule(
    "dbt_nightly_full_build",
    dbt_nightly_full_build,
    NIGHTLY_CRON,
    "Nightly dbt build --full-refresh with snapshots, at 02:00 UTC.",
)

schedules = [dbt_every_15_minutes, dbt_nightly]
