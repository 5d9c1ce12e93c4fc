"""The two dbt builds, each a named selection of ``dbt/selectors.yml``.

- ``dbt_incremental_build``: ``dbt build --selector frequent``: every model, snapshot, seed and
  unit test, and the data tests except those tagged ``nightly`` (primary-key scans of the
  event-log-sized models); incremental models append only what is new in the event log, the
  snapshot records the leads that changed since the last build. Their ``nightly`` asset checks
  are left unexecuted.
- ``dbt_nightly_full_build``: ``dbt build --full-refresh --selector nightly`` (everything):
  incremental models are rebuilt from the whole event log (dbt never full-refreshes a
  snapshot: its history is kept).

Every check on the selected assets runs in the same run, after the models it checks: the dbt
tests and the Great Expectations suites of the quality area.

Both carry the ``leadly/dbt`` tag, which the run queue limits to one run at a time.
"""

from __future__ import annotations

import dagster as dg

from orchestration.defs.dbt.assets import DBT_ASSETS_NAME, DbtBuildConfig, leadly_dbt
from orchestration.env import DBT_RUN_TAG

# Every dbt asset, with every check on them (dbt tests and the quality area's suites).
dbt_assets_selection = dg.AssetSelection.assets(leadly_dbt)

dbt_incremental_build = dg.define_asset_job(
    "dbt_incremental_build",
    selection=dbt_assets_selection,
    description="dbt build --selector frequent: every model and snapshot (incremental models "
    "append), with checks (the data tests tagged nightly wait for the nightly build).",
    tags={DBT_RUN_TAG: "incremental"},
)

dbt_nightly_full_build = dg.define_asset_job(
    "dbt_nightly_full_build",
    selection=dbt_assets_selection,
    description="dbt build --full-refresh --selector nightly: every model, snapshot and seed, "
    "with every check.",
    tags={DBT_RUN_TAG: "full"},
    config=dg.RunConfig(
        ops={DBT_ASSETS_NAME: DbtBuildConfig(full_refresh=True, selector="nightly")}
    ),
)


def dbt_run_pending(instance: dg.DagsterInstance) -> bool:
    """True when a dbt build is already waiting to start: another request would only pile up
    behind it (it will see every event committed before it starts)."""
    runs = instance.get_run_records(
        dg.RunsFilter(
            tags={DBT_RUN_TAG: ["incremental", "full"]},
            statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED],
        ),
        limit=1,
    )
    return bool(runs)
