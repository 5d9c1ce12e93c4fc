"""The analytics area's definitions (resources come from :mod:`orchestration.resources`)."""

from __future__ import annotations

import dagster as dg

from orchestration.defs.dbt.assets import leadly_dbt
from orchestration.defs.dbt.jobs import dbt_incremental_build, dbt_nightly_full_build
from orchestration.defs.dbt.schedules import schedules
from orchestration.defs.dbt.sensors import dbt_on_new_events

defs = dg.Definitions(
    assets=[leadly_dbt],
    jobs=[dbt_incremental_build, dbt_nightly_full_build],
    schedules=schedules,
    sensors=[dbt_on_new_events],
)
