"""Helpers for the ``leadly`` command tests: run it as a real process, make spare databases."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

LEADLY = Path(sys.executable).with_name("leadly")


def leadly_cmd(*args: str) -> list[str]:
    """The installed ``leadly`` script (what users run), or the module if it is not installed."""
    if LEADLY.exists():
        return [str(LEADLY), *args]
    return [sys.executable, "-m", "leadly.launcher.cli", *args]


def run_leadly(
    *args: str,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    timeout: float = 180,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        leadly_cmd(*args),
        env=dict(os.environ if env is None else env),
        input=input if input is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (
        f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    return result.stdout


def server_url(database_url: str, database: str = "postgres") -> str:
    return make_url(database_url).set(database=database).render_as_string(hide_password=False)


@pytest.fixture
def cli_env(database_url: str) -> dict[str, str]:
    """The test process's environment: LEADLY_* pointing at the session's test database."""
    return dict(os.environ)


@pytest.fixture
def spare_database(database_url: str) -> Iterator[str]:
    """An empty database on the test server, dropped afterwards (for migrations up and down)."""
    admin = server_url(database_url)
    name = f"leadly_cli_{secrets.token_hex(4)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield server_url(database_url, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
