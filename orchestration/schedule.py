"""The shape every Leadly schedule has: UTC, and running from the start."""

from __future__ import annotations

import dagster as dg


def utc_schedule(
    name: str,
    job: dg.JobDefinition | dg.UnresolvedAssetJobDefinition,
    cron: str,
    description: str,
) -> dg.ScheduleDefinition:
    """A schedule of ``job`` on ``cron`` (UTC) that starts enabled."""
    return dg.ScheduleDefinition(
        name=name,
        job=job,
        cron_schedule=cron,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=description,
    )
