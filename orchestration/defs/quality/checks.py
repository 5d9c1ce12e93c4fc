"""The suites of :mod:`orchestration.defs.quality.suites` as blocking Dagster asset checks.

Two multi-asset checks, one step each (Great Expectations is imported once per step):
``ge_marts`` (one check per mart suite, on the dbt model's asset, run in every dbt build that
materializes it) and ``ge_raw`` (one per raw import table). A check fails with severity ERROR;
being blocking, the step fails too, so the run is marked failed. The check's metadata names each
failing expectation with its unexpected count and a sample of unexpected values.
"""

from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

import dagster as dg
from dagster_dbt import get_asset_key_for_model

from orchestration.dbt_project import dbt_project
from orchestration.defs.dbt.assets import leadly_dbt
from orchestration.defs.quality.assets import raw_asset_key
from orchestration.defs.quality.ge import Relation, Suite, SuiteOutcome
from orchestration.defs.quality.suites import MART_SUITES, RAW_SUITES
from orchestration.resources import PostgresResource

RAW_SCHEMA = "raw"


@lru_cache(maxsize=1)
def _dbt_nodes() -> dict[str, dict[str, Any]]:
    import json

    manifest = json.loads(dbt_project().manifest_path.read_text())
    return {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] in ("model", "snapshot", "seed")
    }


def model_relation(model: str) -> Relation:
    """The schema and table dbt builds ``model`` into (from the manifest)."""
    try:
        node = _dbt_nodes()[model]
    except KeyError:
        raise KeyError(
            f"quality suite targets dbt model {model!r}, which is not in the dbt project"
        ) from None
    return Relation(node["schema"], node.get("alias") or node["name"])


def suite_key(suite: Suite) -> dg.AssetKey:
    if suite.model:
        return get_asset_key_for_model([leadly_dbt], suite.model)
    assert suite.raw_table
    return raw_asset_key(suite.raw_table)


def suite_relation(suite: Suite) -> Relation:
    if suite.model:
        return model_relation(suite.model)
    assert suite.raw_table
    return Relation(RAW_SCHEMA, suite.raw_table)


def suite_spec(suite: Suite) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        name=suite.name,
        asset=suite_key(suite),
        description=suite.description,
        blocking=True,
        additional_deps=[get_asset_key_for_model([leadly_dbt], ref) for ref in suite.refs],
        metadata={
            "expectations": [e.label for e in suite.expectations],
            "table": str(suite_relation(suite)),
        },
    )


def _table_exists(postgres: PostgresResource, relation: Relation) -> bool:
    with postgres.connect() as conn:
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (relation.sql,)).fetchone()
    return bool(row and row[0])


def _results_markdown(outcome: SuiteOutcome) -> str:
    lines = [
        "| expectation | result | unexpected | of rows | sample / observed |",
        "|---|---|---|---|---|",
    ]
    for o in outcome.outcomes:
        sample = o.error or (
            ", ".join(repr(v) for v in o.partial_unexpected_list[:5])
            if o.unexpected_count is not None
            else repr(o.observed_value)
        )
        sample = sample.replace("|", "\\|")
        lines.append(
            f"| {o.label.replace('|', '/')} | {'passed' if o.success else '**FAILED**'} | "
            f"{'' if o.unexpected_count is None else o.unexpected_count} | "
            f"{'' if o.element_count is None else o.element_count} | {sample} |"
        )
    return "\n".join(lines)


def check_result(outcome: SuiteOutcome, asset_key: dg.AssetKey) -> dg.AssetCheckResult:
    """The Dagster result of one suite: failing expectations, unexpected counts, samples."""
    failed = outcome.failed
    rows = max((o.element_count or 0 for o in outcome.outcomes), default=0)
    metadata: dict[str, Any] = {
        "table": str(outcome.relation),
        "row_count": rows,
        "evaluated_expectations": len(outcome.outcomes),
        "failed_expectations": dg.MetadataValue.json([o.label for o in failed]),
        "unexpected_counts": dg.MetadataValue.json(
            {
                o.label: o.unexpected_count if o.unexpected_count is not None else o.observed_value
                for o in failed
            }
        ),
        "results": dg.MetadataValue.md(_results_markdown(outcome)),
    }
    if failed:
        description = f"{len(failed)} of {len(outcome.outcomes)} expectations failed: " + "; ".join(
            o.summary() for o in failed
        )
    else:
        description = f"all {len(outcome.outcomes)} expectations passed on {rows} rows"
    return dg.AssetCheckResult(
        check_name=outcome.suite.name,
        asset_key=asset_key,
        passed=not failed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata=metadata,
        description=description,
    )


def _absent_result(suite: Suite, key: dg.AssetKey, relation: Relation) -> dg.AssetCheckResult:
    hint = "build the dbt model" if suite.model else "apply the migrations (leadly db upgrade)"
    return dg.AssetCheckResult(
        check_name=suite.name,
        asset_key=key,
        passed=False,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"table": str(relation), "failed_expectations": ["table exists"]},
        description=f"table {relation} does not exist: {hint}",
    )


def run_suites(
    context: dg.AssetCheckExecutionContext, postgres: PostgresResource, suites: Sequence[Suite]
) -> Iterator[dg.AssetCheckResult]:
    from orchestration.defs.quality.ge import validate

    selected = {key.name for key in context.selected_asset_check_keys}
    todo = []
    for suite in suites:
        if suite.name not in selected:
            continue
        key, relation = suite_key(suite), suite_relation(suite)
        if not _table_exists(postgres, relation):
            yield _absent_result(suite, key, relation)
            continue
        refs = {ref: model_relation(ref) for ref in suite.refs}
        todo.append((suite, relation, refs))
    if not todo:
        return
    for outcome in validate(postgres.sqlalchemy_url(), todo):
        result = check_result(outcome, suite_key(outcome.suite))
        context.log.info(f"{outcome.suite.name}: {result.description}")
        yield result


def build_suite_checks(name: str, suites: Sequence[Suite]) -> dg.AssetChecksDefinition | None:
    if not suites:
        return None

    @dg.multi_asset_check(
        name=name,
        specs=[suite_spec(s) for s in suites],
        can_subset=True,
        compute_kind="great_expectations",
        description="Great Expectations suites (orchestration/defs/quality/suites.py).",
    )
    def _checks(context: dg.AssetCheckExecutionContext, postgres: PostgresResource):
        yield from run_suites(context, postgres, suites)

    return _checks


ge_marts = build_suite_checks("ge_marts", MART_SUITES)
ge_raw = build_suite_checks("ge_raw", RAW_SUITES)

checks = [c for c in (ge_marts, ge_raw) if c is not None]
