"""warehouse/dbt.py's environment: the analytics role's connection for the dbt profile."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from leadly.settings import Settings
from warehouse.dbt import PROJECT_DIR, connection_env, dbt_env, dbt_vars


def test_connection_env_tcp_url() -> None:
    env = connection_env("postgresql://leadly_analytics:p%40ss@db.example:6543/leadly")
    assert env == {
        "LEADLY_DBT_HOST": "db.example",
        "LEADLY_DBT_PORT": "6543",
        "LEADLY_DBT_USER": "leadly_analytics",
        "LEADLY_DBT_PASSWORD": "p@ss",
        "LEADLY_DBT_DBNAME": "leadly",
    }


def test_connection_env_unix_socket_url() -> None:
    """The embedded server's URL gives the socket directory as ?host=."""
    env = connection_env("postgresql://postgres@/leadly?host=%2Ftmp%2Fleadly%20pg&port=5433")
    assert env["LEADLY_DBT_HOST"] == "/tmp/leadly pg"
    assert env["LEADLY_DBT_PORT"] == "5433"
    assert env["LEADLY_DBT_DBNAME"] == "leadly"
    assert connection_env("postgresql://u@/d?host=/run/pg")["LEADLY_DBT_PORT"] == "5432"


def test_dbt_env_logs_in_as_the_analytics_role(tmp_path: Path) -> None:
    s = replace(
        Settings(),
        database_url="postgresql://root:secret@127.0.0.1:5432/leadly_x",
        analytics_db_role="an_role",
        dashboard_db_role="dash_role",
        db_role_password="rolepw",
    )
    env = dbt_env(s, target_path=tmp_path / "t", log_path=tmp_path / "l")
    assert env["LEADLY_DBT_USER"] == "an_role"
    assert env["LEADLY_DBT_PASSWORD"] == "rolepw"  # the roles' password, not the admin's
    assert env["LEADLY_DBT_DBNAME"] == "leadly_x"
    assert env["DBT_PROFILES_DIR"] == str(PROJECT_DIR)
    assert env["DBT_TARGET_PATH"] == str(tmp_path / "t")
    assert env["DBT_LOG_PATH"] == str(tmp_path / "l")
    assert env["DBT_SEND_ANONYMOUS_USAGE_STATS"] == "false"
    assert env["LEADLY_DBT_DASHBOARD_ROLE"] == "dash_role"
    assert dbt_vars(s) == {"analytics_role": "an_role", "dashboard_role": "dash_role"}
    assert (PROJECT_DIR / "profiles.yml").exists() and (PROJECT_DIR / "dbt_project.yml").exists()
