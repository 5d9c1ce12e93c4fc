"""Resources shared by every area: ``dbt`` (the dbt CLI) and ``postgres`` (the warehouse as the
analytics role).

Both resolve the database at run time from the ``LEADLY_*`` settings, never at import, so loading
the definitions does not need a running database.
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
from dagster_dbt import DbtCliResource

from orchestration.dbt_project import (
    RUNS_TARGET_PATH,
    dbt_environment,
    dbt_executable,
    dbt_project,
    dbt_vars_args,
)

KEEP_RUN_TARGETS = 20
"""Target folders of past dbt invocations kept for debugging (artifacts and dbt.log)."""


class LeadlyDbtCliResource(DbtCliResource):
    """dagster-dbt's ``DbtCliResource`` that runs dbt as ``warehouse.dbt.run_dbt`` does: with
    ``dbt_env()`` (the analytics role's connection, ``DBT_PROFILES_DIR``...) and ``--vars`` from
    ``dbt_vars()``; each invocation's artifacts stay under ``dbt/target/dagster/runs/`` (the
    newest :data:`KEEP_RUN_TARGETS`)."""

    def cli(self, args: Sequence[str], *, target_path: Path | None = None, **kwargs: Any):  # type: ignore[override]
        if target_path is None:
            runs = Path(self.project_dir) / RUNS_TARGET_PATH
            prune_run_targets(runs, keep=KEEP_RUN_TARGETS - 1)
            context = kwargs.get("context")
            run_id = context.run.run_id[:8] if context is not None else "adhoc"
            target_path = runs / f"{run_id}-{uuid.uuid4().hex[:8]}"
        with dbt_environment():
            return super().cli(dbt_vars_args(list(args)), target_path=target_path, **kwargs)


def prune_run_targets(runs: Path, keep: int) -> None:
    """Remove all but the ``keep`` newest invocation folders under ``runs``."""
    if not runs.is_dir():
        return

    def mtime(path: Path) -> float:
        try:
            return path.stat().st_mtime
        except FileNotFoundError:  # removed meanwhile by another process's pruning
            return 0.0

    folders = sorted((p for p in runs.iterdir() if p.is_dir()), key=mtime, reverse=True)
    for old in folders[max(keep, 0) :]:
        shutil.rmtree(old, ignore_errors=True)


class PostgresResource(dg.ConfigurableResource):
    """The Leadly database as a login role (default: the analytics role, which reads every
    team's operational rows and owns the ``analytics_*`` schemas dbt builds).

    The server comes from ``LEADLY_DATABASE_URL`` (or the embedded server), the role's password
    from ``LEADLY_DB_ROLE_PASSWORD``, exactly as the API and worker log in."""

    role: str = ""
    """Login role; empty: ``LEADLY_ANALYTICS_DB_ROLE``."""

    database_url: str = ""
    """Admin URL of the database (host, port, name); empty: the Leadly settings'."""

    def _role(self) -> str:
        from leadly.settings import get_settings

        return self.role or get_settings().analytics_db_role

    def _admin_url(self) -> str:
        if self.database_url:
            return self.database_url
        from warehouse.db import database_url

        return database_url()

    def url(self) -> str:
        """A libpq URL that logs in as the role."""
        from warehouse.db import libpq_url, role_url

        return libpq_url(role_url(self._admin_url(), self._role()))

    def sqlalchemy_url(self) -> str:
        """The same URL for SQLAlchemy (psycopg 3 driver), e.g. for Great Expectations."""
        from warehouse.db import role_url, sqlalchemy_url

        return sqlalchemy_url(role_url(self._admin_url(), self._role()))

    @contextlib.contextmanager
    def connect(self, autocommit: bool = True) -> Iterator[psycopg.Connection]:
        """A psycopg connection as the role (UTC session time zone)."""
        from warehouse.db import connect_as

        with connect_as(self._admin_url(), self._role(), autocommit=autocommit) as conn:
            yield conn


def dbt_resource() -> LeadlyDbtCliResource:
    return LeadlyDbtCliResource(project_dir=dbt_project(), dbt_executable=dbt_executable())


def resources() -> dict[str, Any]:
    """Every resource key the areas' assets, checks and sensors ask for."""
    return {"dbt": dbt_resource(), "postgres": PostgresResource()}
