"""Loading the Dagster definitions parses a stale dbt project (``dbt parse``) without a database
server: with ``LEADLY_DATABASE_URL`` on a port where nothing listens, and with no
``LEADLY_DATABASE_URL`` at all (the embedded server is not started for it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.plugin import ROOT, free_port

LOAD = """
import dagster as dg
from orchestration.definitions import defs
dg.Definitions.validate_loadable(defs)
"""


def load_definitions(tmp: Path, database_url: str | None) -> tuple[Path, Path]:
    """Load ``orchestration.definitions`` in a fresh process on a copy of the dbt project that
    has no manifest yet; returns the copy's manifest and the data folder."""
    project = tmp / "dbt"
    shutil.copytree(ROOT / "dbt", project, ignore=shutil.ignore_patterns("target", "logs"))
    data = tmp / "data"
    data.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADLY_")}
    env |= {
        "LEADLY_DATA_DIR": str(data),
        "LEADLY_DBT_PROJECT_DIR": str(project),
        "DAGSTER_HOME": str(tmp / "dagster"),
    }
    if database_url is not None:
        env["LEADLY_DATABASE_URL"] = database_url
    r = subprocess.run(
        [sys.executable, "-c", LOAD],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return project / "target" / "dagster" / "manifest.json", data


@pytest.mark.parametrize(
    ("database_url", "database"),
    [
        (f"postgresql://leadly@127.0.0.1:{free_port()}/offline_db", "offline_db"),
        (None, "leadly"),
    ],
    ids=["closed-port", "no-database-url"],
)
def test_definitions_load_and_parse_with_no_database_server(
    tmp_path: Path, database_url: str | None, database: str
) -> None:
    manifest_path, data = load_definitions(tmp_path, database_url)
    nodes = json.loads(manifest_path.read_text())["nodes"].values()
    models = [n for n in nodes if n["resource_type"] == "model"]
    assert models
    # The profile rendered for the configured database (the manifest records its name).
    assert {n["database"] for n in models} == {database}
    # Nothing was started for the parse: no embedded server under the data folder.
    assert not (data / "postgres").exists()
