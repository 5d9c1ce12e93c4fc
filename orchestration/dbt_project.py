"""The dbt project as Dagster sees it: ``warehouse.dbt``'s project and a manifest that is fresh.

Dagster builds its dbt assets from ``manifest.json``. No ``target/`` is committed, so loading the
definitions runs ``dbt parse`` when the manifest is missing, or older than any file of the dbt
project (a model was added or edited). The manifest goes to ``dbt/target/dagster/`` so it never
races with dbt commands run by hand or by the dbt tests (they use ``dbt/target/``); a file lock
serialises the webserver and daemon when both load at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import threading
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from dagster_dbt import DbtProject

if TYPE_CHECKING:
    from leadly.settings import Settings

TARGET_PATH = Path("target") / "dagster"
"""Where Dagster's manifest lives, relative to the dbt project folder (git-ignored)."""

RUNS_TARGET_PATH = TARGET_PATH / "runs"
"""Parent of each dbt invocation's own target folder (artifacts and logs of one run)."""

_SOURCE_SUFFIXES = {".sql", ".yml", ".yaml", ".csv", ".py", ".md", ".jinja"}
_SKIP_DIRS = {"target", "logs", "dbt_packages", "dbt_modules"}
_ENV_LOCK = threading.RLock()


def dbt_executable() -> str:
    """The ``dbt`` next to the running interpreter (the project's .venv), else from PATH."""
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


def project_dir() -> Path:
    from warehouse.dbt import PROJECT_DIR

    return Path(PROJECT_DIR)


def dbt_vars_args(args: list[str] | tuple[str, ...]) -> list[str]:
    """``args`` plus ``--vars`` with Leadly's dbt vars (``warehouse.dbt.dbt_vars``: the role
    names of the reporting RLS), as ``warehouse.dbt.run_dbt`` passes them."""
    from warehouse.dbt import dbt_vars

    out = list(args)
    if out and out[0] not in ("deps", "clean", "debug", "init") and "--vars" not in out:
        out += ["--vars", json.dumps(dbt_vars(), sort_keys=True)]
    return out


@contextlib.contextmanager
def dbt_environment(
    settings: Settings | None = None, *, parse: bool = False
) -> Iterator[dict[str, str]]:
    """``os.environ`` plus ``warehouse.dbt.dbt_env()`` (the analytics role's connection) for the
    duration of the block: dagster-dbt starts dbt with the process environment. dbt's default
    target folder is Dagster's own, so runs start from the partial-parse state of its parse.
    ``parse``: for ``dbt parse``, which needs no database server (``warehouse.dbt.parse_env``)."""
    from warehouse.dbt import dbt_env, parse_env, patched_environ

    own = project_dir() / TARGET_PATH
    values = (parse_env if parse else dbt_env)(settings, target_path=own, log_path=own)
    with _ENV_LOCK, patched_environ(values):
        yield values


def newest_source_mtime(root: Path) -> float:
    """Latest modification time of the dbt project's own files (models, yml, macros, seeds...)."""
    newest = 0.0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS and not d.startswith(".")]
        for name in filenames:
            # Hidden files (dbt's .user.yml) are dbt's state, not the project's sources.
            if not name.startswith(".") and Path(name).suffix in _SOURCE_SUFFIXES:
                with contextlib.suppress(FileNotFoundError):
                    newest = max(newest, os.stat(os.path.join(dirpath, name)).st_mtime)
    return newest


def manifest_is_fresh(project: DbtProject) -> bool:
    path = project.manifest_path
    return path.exists() and path.stat().st_mtime >= newest_source_mtime(project.project_dir)


def prepare_manifest(project: DbtProject, *, force: bool = False) -> Path:
    """Run ``dbt parse`` into the project's target folder unless the manifest is fresh."""
    if not force and manifest_is_fresh(project):
        return project.manifest_path
    lock_dir = project.project_dir / TARGET_PATH
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / ".parse.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if force or not manifest_is_fresh(project):
                _parse(project)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return project.manifest_path


def _parse(project: DbtProject) -> None:
    """``dbt parse`` renders the profile but opens no connection: no server needs to run (and
    the embedded one is not started for it)."""
    from dagster_dbt import DbtCliResource

    with dbt_environment(parse=True):
        DbtCliResource(project_dir=project, dbt_executable=dbt_executable()).cli(
            dbt_vars_args(["parse", "--quiet"]), target_path=project.target_path
        ).wait()


@lru_cache(maxsize=1)
def dbt_project() -> DbtProject:
    """The Leadly dbt project with a prepared manifest (cached for the process)."""
    root = project_dir()
    from warehouse.dbt import PROFILES_DIR

    project = DbtProject(project_dir=root, target_path=TARGET_PATH, profiles_dir=PROFILES_DIR)
    prepare_manifest(project)
    return project
