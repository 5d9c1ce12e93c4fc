"""The definitions load, and hold what the rest of Leadly relies on: dbt models as assets grouped
by folder, dbt tests and the quality suites as checks, the two builds, their schedules and the
events sensor."""

from __future__ import annotations

import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from orchestration import env

# One worker runs every Dagster test (`--dist loadgroup`): definitions and builds load once.
pytestmark = pytest.mark.xdist_group("orchestration")


@pytest.fixture(scope="module")
def defs(definitions: Any) -> dg.Definitions:
    return definitions.defs


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    from orchestration.dbt_project import dbt_project

    return json.loads(dbt_project().manifest_path.read_text())


def dbt_key(unique_id: str) -> dg.AssetKey:
    from orchestration.defs.dbt.assets import leadly_dbt

    for spec in leadly_dbt.specs:
        if spec.metadata.get("dagster_dbt/unique_id") == unique_id:
            return spec.key
    raise KeyError(unique_id)


def test_definitions_load(defs: dg.Definitions, definitions: Any) -> None:
    dg.Definitions.validate_loadable(defs)
    jobs = {j.name for j in defs.resolve_all_job_defs()}
    assert {"dbt_incremental_build", "dbt_nightly_full_build"} <= jobs
    # Areas are found by folder (adding one needs nothing else): at least these two.
    assert {"dbt", "quality"} <= set(definitions.area_names())


def test_manifest_is_parsed_when_missing_and_reparsed_when_stale(definitions: Any) -> None:
    """A clean clone has no dbt target/: loading the definitions parses the project."""
    from dagster_dbt import DbtProject

    from orchestration.dbt_project import manifest_is_fresh, prepare_manifest, project_dir
    from warehouse.dbt import PROFILES_DIR

    target = Path("target") / f"dagster-test-{secrets.token_hex(4)}"
    project = DbtProject(project_dir=project_dir(), target_path=target, profiles_dir=PROFILES_DIR)
    try:
        assert not project.manifest_path.exists()
        prepare_manifest(project)
        assert manifest_is_fresh(project)
        nodes = json.loads(project.manifest_path.read_text())["nodes"]
        assert any(n["resource_type"] == "model" for n in nodes.values())
        # Older than a model file: stale, parsed again on the next load.
        os.utime(project.manifest_path, (0, 0))
        assert not manifest_is_fresh(project)
    finally:
        shutil.rmtree(project.project_dir / target, ignore_errors=True)


def test_every_dbt_node_is_an_asset_grouped_by_its_folder(
    defs: dg.Definitions, manifest: dict[str, Any]
) -> None:
    graph = defs.resolve_asset_graph()
    nodes = [
        n for n in manifest["nodes"].values() if n["resource_type"] in ("model", "snapshot", "seed")
    ]
    assert nodes, "the dbt project has no models"
    groups = set()
    for node in nodes:
        key = dbt_key(node["unique_id"])
        assert graph.has(key), node["unique_id"]
        if node["resource_type"] == "model":
            # models/<folder>/.../<name>.sql: fqn is [project, <folder>, ..., <name>]
            folder = Path(node["original_file_path"]).parts[1]
            expected = folder if len(node["fqn"]) > 2 else "analytics"
        else:
            expected = node["resource_type"] + "s"
        assert graph.get(key).group_name == expected, node["unique_id"]
        groups.add(expected)
    assert {"staging", "marts", "reporting"} <= groups


def test_dbt_tests_are_asset_checks(defs: dg.Definitions, manifest: dict[str, Any]) -> None:
    check_keys = defs.resolve_asset_graph().asset_check_keys
    tests = [
        n
        for n in manifest["nodes"].values()
        if n["resource_type"] == "test"
        and (n.get("attached_node") or "").startswith(("model.", "snapshot.", "seed."))
    ]
    assert tests, "the dbt project has no data tests"
    for test in tests:
        key = dg.AssetCheckKey(dbt_key(test["attached_node"]), test["name"])
        assert key in check_keys, test["unique_id"]


def test_quality_suites_are_blocking_checks_on_their_tables(defs: dg.Definitions) -> None:
    from dagster_dbt import get_asset_key_for_model

    from orchestration.defs.dbt.assets import leadly_dbt
    from orchestration.defs.quality.assets import raw_asset_key
    from orchestration.defs.quality.suites import MART_SUITES, RAW_SUITES

    graph = defs.resolve_asset_graph()
    assert MART_SUITES
    for suite in (*MART_SUITES, *RAW_SUITES):
        asset = (
            get_asset_key_for_model([leadly_dbt], suite.model)
            if suite.model
            else raw_asset_key(suite.raw_table or "")
        )
        key = dg.AssetCheckKey(asset, suite.name)
        assert key in graph.asset_check_keys, suite.name
        spec = graph.get_check_spec(key)
        assert spec.blocking, suite.name
    # Both builds run the mart suites after the models they check.
    for job_name in ("dbt_incremental_build", "dbt_nightly_full_build"):
        job = defs.resolve_job_def(job_name)
        names = {k.name for k in job.asset_layer.asset_graph.asset_check_keys}
        assert {s.name for s in MART_SUITES} <= names, job_name


def test_jobs_schedules_and_sensor(defs: dg.Definitions, manifest: dict[str, Any]) -> None:
    incremental = defs.resolve_job_def("dbt_incremental_build")
    nightly = defs.resolve_job_def("dbt_nightly_full_build")
    snapshots = {
        dbt_key(n["unique_id"])
        for n in manifest["nodes"].values()
        if n["resource_type"] == "snapshot"
    }
    models = {
        dbt_key(n["unique_id"]) for n in manifest["nodes"].values() if n["resource_type"] == "model"
    }
    assert snapshots, "the dbt project has no snapshot"
    # Both builds cover the whole project; the nightly one rebuilds incremental models.
    assert models | snapshots <= incremental.asset_layer.selected_asset_keys
    assert models | snapshots <= nightly.asset_layer.selected_asset_keys
    assert not incremental.run_config
    assert nightly.run_config["ops"]["leadly_dbt"]["config"] == {
        "full_refresh": True,
        "selector": "nightly",
    }
    for job in (incremental, nightly):
        assert job.tags[env.DBT_RUN_TAG] in ("incremental", "full")

    every_15 = defs.resolve_schedule_def("dbt_every_15_minutes")
    assert every_15.cron_schedule == "*/15 * * * *"
    assert every_15.job_name == "dbt_incremental_build"
    assert every_15.default_status == dg.DefaultScheduleStatus.RUNNING
    nightly_schedule = defs.resolve_schedule_def("dbt_nightly_full_build")
    assert nightly_schedule.job_name == "dbt_nightly_full_build"
    assert nightly_schedule.cron_schedule == "0 2 * * *"
    assert nightly_schedule.execution_timezone == "UTC"

    sensor = defs.resolve_sensor_def("dbt_on_new_events")
    assert sensor.job_name == "dbt_incremental_build"
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_schedule_skips_while_a_dbt_build_is_queued(defs: dg.Definitions) -> None:
    schedule = defs.resolve_schedule_def("dbt_every_15_minutes")
    with dg.instance_for_test() as instance:
        with dg.build_schedule_context(instance=instance) as context:
            requests = schedule.evaluate_tick(context).run_requests
            assert requests and len(requests) == 1
        instance.add_run(
            dg.DagsterRun(
                job_name="dbt_incremental_build",
                status=dg.DagsterRunStatus.NOT_STARTED,
                tags={env.DBT_RUN_TAG: "incremental"},
            )
        )
        with dg.build_schedule_context(instance=instance) as context:
            data = schedule.evaluate_tick(context)
            assert not data.run_requests
            assert "queued" in (data.skip_message or "")


def test_dagster_home_and_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from leadly.settings import Settings

    settings = Settings(data_dir=str(tmp_path), dagster_port=3999, api_host="127.0.0.1")
    home = env.dagster_home(settings)
    assert home == tmp_path / "dagster"
    config = (home / "dagster.yaml").read_text()
    assert env.DBT_RUN_TAG in config
    # The generated config is one Dagster accepts.
    with dg.DagsterInstance.from_config(str(home)) as instance:
        concurrency = instance.get_concurrency_config()
        assert concurrency.run_queue_config.max_concurrent_runs == 2
        assert concurrency.pool_config.default_pool_limit == 1
    process = env.process_env(settings, base={"PATH": "/usr/bin"})
    assert process["DAGSTER_HOME"] == str(home)
    assert process["PATH"] == "/usr/bin"
    web = env.webserver_command(settings)
    assert web[0].endswith("dagster-webserver")
    assert web[1:] == ["-m", "orchestration.definitions", "-h", "127.0.0.1", "-p", "3999"]
    assert env.daemon_command(settings)[1:] == ["run", "-m", "orchestration.definitions"]

    assert env.events_threshold({}) == 5_000
    assert env.events_threshold({"LEADLY_DBT_EVENTS_THRESHOLD": "12"}) == 12
    with pytest.raises(ValueError):
        env.events_threshold({"LEADLY_DBT_EVENTS_THRESHOLD": "0"})
