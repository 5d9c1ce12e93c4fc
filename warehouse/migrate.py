"""Programmatic Alembic: ``leadly db upgrade | downgrade | current`` and the test fixtures."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path
from types import ModuleType

import psycopg
from alembic import command
from alembic.config import Config

from leadly.settings import Settings, get_settings
from warehouse.db import Roles, bootstrap_roles, database_url, libpq_url

MIGRATIONS = Path(__file__).parent / "migrations"


def migration_module(filename: str) -> ModuleType:
    """An earlier migration (a file of ``migrations/versions``) loaded as a module, so that a
    later migration's downgrade restores what that one defined from its own text."""
    path = MIGRATIONS / "versions" / filename
    spec = importlib.util.spec_from_file_location(f"_leadly_migration_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def alembic_config(url: str, roles: Roles, stdout: io.TextIOBase | None = None) -> Config:
    cfg = Config(stdout=stdout) if stdout else Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option(
        "file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(hour).2d%%(minute).2d_%%(slug)s"
    )
    cfg.attributes["url"] = url
    cfg.attributes["roles"] = roles
    return cfg


def _prepare(settings: Settings | None) -> tuple[str, Roles]:
    s = settings or get_settings()
    url = database_url(s)
    roles = Roles.from_settings(s)
    bootstrap_roles(url, roles)
    _ensure_schemas(url, roles)
    return url, roles


def _ensure_schemas(url: str, roles: Roles) -> None:
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        for schema in ("app", "raw"):
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION "{roles.owner}"')


def upgrade(revision: str = "heads", settings: Settings | None = None) -> None:
    url, roles = _prepare(settings)
    command.upgrade(alembic_config(url, roles), revision)


def downgrade(revision: str = "-1", settings: Settings | None = None) -> None:
    url, roles = _prepare(settings)
    command.downgrade(alembic_config(url, roles), revision)


def current(settings: Settings | None = None) -> str:
    url, roles = _prepare(settings)
    out = io.StringIO()
    command.current(alembic_config(url, roles, stdout=out))
    return out.getvalue().strip()


def revision(message: str, settings: Settings | None = None) -> None:
    url, roles = _prepare(settings)
    command.revision(alembic_config(url, roles), message=message, autogenerate=True)
