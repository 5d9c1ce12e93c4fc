"""Checks that run on their own schedule (the mart suites run inside every dbt build)."""

import dagster as dg

from orchestration.defs.quality.assets import raw_assets

raw_quality_checks = (
    dg.define_asset_job(
        "raw_quality_checks",
        selection=dg.AssetSelection.checks_for_assets(*(spec.key for spec in raw_assets)),
        description="Great Expectations suites on the raw import tables.",
    )
    if raw_assets
    else None
)

jobs = [j for j in (raw_quality_checks,) if j is not None]
