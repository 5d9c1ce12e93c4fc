"""The data quality area's definitions."""

import dagster as dg

from orchestration.defs.quality.assets import raw_assets
from orchestration.defs.quality.checks import checks
from orchestration.defs.quality.jobs import jobs
from orchestration.defs.quality.schedules import schedules

defs = dg.Definitions(assets=raw_assets, asset_checks=checks, jobs=jobs, schedules=schedules)
