"""The dbt assets materialize against the test database through the jobs the schedules launch:
the nightly full build (snapshots included) and then an incremental build, with every check
(dbt tests, Great Expectations suites) passing on the demo team's data."""

from __future__ import annotations

import json
from typing import Any

import dagster as dg
import psycopg
import pytest

from orchestration.defs.quality.suites import MART_SUITES
from tests.orchestration.conftest import Builds

# One worker runs every Dagster test (`--dist loadgroup`): definitions and builds load once.
pytestmark = pytest.mark.xdist_group("orchestration")


def _describe_failures(result: Any) -> str:
    lines = []
    for event in result.all_events:
        if event.is_step_failure:
            lines.append(f"{event.step_key}: {event.event_specific_data.error.message[:2000]}")
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed:
            lines.append(f"check {evaluation.check_name}: {evaluation.description}")
    return "\n".join(lines)


def _materialized(result: Any) -> set[dg.AssetKey]:
    return {e.asset_key for e in result.get_asset_materialization_events()}


def _nightly_tests() -> set[str]:
    """The dbt data tests tagged nightly, which only the nightly selector runs."""
    from orchestration.dbt_project import dbt_project

    nodes = json.loads(dbt_project().manifest_path.read_text())["nodes"].values()
    names = {n["name"] for n in nodes if n["resource_type"] == "test" and "nightly" in n["tags"]}
    assert names, "no dbt test is tagged nightly"
    return names


def test_nightly_full_build_materializes_everything(builds: Builds, definitions: Any) -> None:
    result = builds.nightly
    assert result.success, _describe_failures(result)
    job = definitions.defs.resolve_job_def("dbt_nightly_full_build")
    assert _materialized(result) == set(job.asset_layer.selected_asset_keys)
    evaluations = result.get_asset_check_evaluations()
    assert evaluations and all(e.passed for e in evaluations), _describe_failures(result)
    names = {e.check_name for e in evaluations}
    assert {s.name for s in MART_SUITES} <= names
    assert _nightly_tests() <= names  # selector nightly: every data test


def test_incremental_build_and_checks_pass(
    builds: Builds, definitions: Any, superuser: psycopg.Connection
) -> None:
    result = builds.incremental
    assert result.success, _describe_failures(result)
    job = definitions.defs.resolve_job_def("dbt_incremental_build")
    assert _materialized(result) == set(job.asset_layer.selected_asset_keys)
    evaluations = result.get_asset_check_evaluations()
    names = {e.check_name for e in evaluations}
    assert {s.name for s in MART_SUITES} <= names
    # selector frequent: the data tests tagged nightly wait for the nightly build
    assert not _nightly_tests() & names
    assert "unique_combination_rpt_lead_funnel_team_id__created_date__source__owner_id" in names
    assert all(e.passed for e in evaluations), _describe_failures(result)
    ge = next(e for e in evaluations if e.check_name == "ge_fct_leads")
    demo_leads = superuser.execute(
        "SELECT count(*) FROM app.leads WHERE team_id = %s AND deleted_at IS NULL",
        (builds.team_id,),
    ).fetchone()[0]
    assert ge.metadata["row_count"].value >= demo_leads > 0
    assert ge.metadata["failed_expectations"].value == []


def test_marts_hold_the_demo_team(builds: Builds, superuser: psycopg.Connection) -> None:
    from orchestration.defs.quality.checks import model_relation

    leads = model_relation("fct_leads")
    n = superuser.execute(
        f"SELECT count(*) FROM {leads.sql} WHERE team_id = %s", (builds.team_id,)
    ).fetchone()[0]
    live = superuser.execute(
        "SELECT count(*) FROM app.leads WHERE team_id = %s AND deleted_at IS NULL",
        (builds.team_id,),
    ).fetchone()[0]
    assert n == live > 0
    # The event appended after the nightly build was loaded by the incremental one.
    changes = model_relation("int_field_changes")
    loaded = superuser.execute(
        f"SELECT field_name FROM {changes.sql} WHERE event_id = %s", (builds.new_event_id,)
    ).fetchall()
    assert loaded == [("title",)]
