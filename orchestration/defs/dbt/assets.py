"""Every node of the dbt project (models, snapshots, seeds) as one dbt-built multi-asset.

``dbt build`` runs models, snapshots, seeds and tests in dependency order; dagster-dbt turns each
model into an asset materialization and each dbt test into an asset check result. A run that
selects part of the graph builds just that part (``--select`` is derived from the selection).
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.dbt_project import dbt_project
from orchestration.defs.dbt.translator import LeadlyDbtTranslator
from warehouse.dbt import build_lock, dbt_env

DBT_ASSETS_NAME = "leadly_dbt"
"""Name of the multi-asset (and its op, which run config addresses)."""

DBT_POOL = "dbt"
"""Concurrency pool of the dbt op: the instance allows one dbt invocation at a time."""

PROJECT = dbt_project()
TRANSLATOR = LeadlyDbtTranslator()


class DbtBuildConfig(dg.Config):
    full_refresh: bool = False
    """Rebuild incremental models from scratch (``dbt build --full-refresh``); the nightly job
    sets it. Snapshots are never rebuilt: they keep their history."""

    selector: str = "frequent"
    """The named selection of ``dbt/selectors.yml`` a build of the whole project runs:
    ``frequent`` (every model, snapshot and unit test, the data tests not tagged ``nightly``)
    or ``nightly`` (everything; the nightly job sets it)."""


def build_args(config: DbtBuildConfig, *, whole_project: bool = True) -> list[str]:
    """``dbt build`` of the config's selector. A run of part of the graph (``whole_project``
    false: assets picked in the UI) keeps the selection dagster-dbt derives from it instead:
    dbt would let ``--selector`` override it."""
    args = ["build", "--full-refresh"] if config.full_refresh else ["build"]
    return [*args, "--selector", config.selector] if whole_project else args


@dbt_assets(
    manifest=PROJECT.manifest_path,
    project=PROJECT,
    dagster_dbt_translator=TRANSLATOR,
    name=DBT_ASSETS_NAME,
    pool=DBT_POOL,
)
def leadly_dbt(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, config: DbtBuildConfig
) -> Iterator[Any]:
    with build_lock(dbt_env()):  # one dbt run at a time per database (see warehouse.dbt.build_lock)
        args = build_args(config, whole_project=not context.is_subset)
        yield from dbt.cli(args, context=context).stream()
