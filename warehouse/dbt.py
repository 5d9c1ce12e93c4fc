"""The one environment helper for running dbt (tests, Dagster, the CLI, benchmarks).

dbt logs in as the analytics role (``settings.analytics_db_role``) on the database the API uses
(``LEADLY_DATABASE_URL``, or the embedded server started on demand). ``dbt/profiles.yml`` reads
the connection from the ``LEADLY_DBT_*`` variables that :func:`dbt_env` returns::

    from warehouse.dbt import run_dbt
    run_dbt(["build"])                       # models, snapshots, data tests and unit tests
    run_dbt(["build", "--full-refresh"])     # the nightly rebuild of the incremental models

Dagster uses :data:`PROJECT_DIR` and :func:`dbt_env` for ``DbtProject``/``DbtCliResource``
(the dbt CLI reads the same variables from the process environment).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

from leadly.settings import Settings, get_settings

if TYPE_CHECKING:
    from dbt.cli.main import dbtRunnerResult

PROJECT_DIR_ENV = "LEADLY_DBT_PROJECT_DIR"
"""Where the dbt project is when Leadly is installed as a package (the Docker image sets it):
the wheel holds the Python packages only, not ``dbt/``."""

TARGET_PATH_ENV = "LEADLY_DBT_TARGET_PATH"
"""Overrides where dbt writes ``target/`` (manifest, compiled SQL, partial-parse state)."""

LOG_PATH_ENV = "LEADLY_DBT_LOG_PATH"
"""Overrides where dbt writes ``dbt.log``."""


def find_project_dir() -> Path:
    """``LEADLY_DBT_PROJECT_DIR``; else ``dbt/`` beside the ``warehouse`` package (a source
    checkout or an editable install); else ``dbt/`` in the working directory."""
    configured = os.environ.get(PROJECT_DIR_ENV)
    if configured:
        return Path(configured).expanduser().resolve()
    beside = Path(__file__).resolve().parent.parent / "dbt"
    if (beside / "dbt_project.yml").exists():
        return beside
    return Path.cwd().resolve() / "dbt"


PROJECT_DIR = find_project_dir()
"""The dbt project (also its profiles directory: ``dbt/profiles.yml``)."""

PROFILES_DIR = PROJECT_DIR


def _writable_default(name: str, settings: Settings) -> Path:
    """``<project>/<name>`` when the project folder is writable (a checkout), else
    ``<data dir>/dbt/<name>`` (an installed project, e.g. read-only in a container image)."""
    if os.access(PROJECT_DIR, os.W_OK):
        return PROJECT_DIR / name
    return settings.data_path / "dbt" / name


class DbtError(RuntimeError):
    """A dbt invocation failed (a model, snapshot or test failed, or dbt itself errored)."""

    def __init__(self, message: str, result: Any = None) -> None:
        super().__init__(message)
        self.result = result


def connection_env(url: str) -> dict[str, str]:
    """``LEADLY_DBT_HOST/PORT/USER/PASSWORD/DBNAME`` for the login in ``url``.

    Unix-socket URLs (the embedded server: ``postgresql://user@/db?host=/socket/dir``) give
    the socket directory as the host, which libpq (and so dbt-postgres) accepts as is.
    """
    u = make_url(url)
    query = dict(u.query)
    host = u.host or _first(query.get("host")) or "127.0.0.1"
    port = u.port or _first(query.get("port")) or 5432
    return {
        "LEADLY_DBT_HOST": str(host),
        "LEADLY_DBT_PORT": str(port),
        "LEADLY_DBT_USER": u.username or "",
        "LEADLY_DBT_PASSWORD": u.password or "",
        "LEADLY_DBT_DBNAME": u.database or "",
    }


def _first(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return value[0] if value else None
    return value


def dbt_env(
    settings: Settings | None = None,
    *,
    url: str | None = None,
    target_path: str | os.PathLike[str] | None = None,
    log_path: str | os.PathLike[str] | None = None,
) -> dict[str, str]:
    """Environment variables that point dbt at Leadly's database as the analytics role.

    ``url`` (an admin URL) defaults to :func:`warehouse.db.database_url` (which starts the
    embedded server when ``LEADLY_DATABASE_URL`` is unset). ``target_path``/``log_path`` default
    to ``LEADLY_DBT_TARGET_PATH``/``LEADLY_DBT_LOG_PATH``, else ``dbt/target`` and ``dbt/logs``
    (``<data dir>/dbt/target`` and ``logs`` when the project folder is read-only); give each
    concurrent run (e.g. parallel test sessions) its own.
    """
    from warehouse.db import database_url, role_url

    s = settings or get_settings()
    login = make_url(role_url(url or database_url(s), s.analytics_db_role)).set(
        password=s.db_role_password or None
    )
    target = Path(target_path or os.environ.get(TARGET_PATH_ENV) or _writable_default("target", s))
    logs = Path(log_path or os.environ.get(LOG_PATH_ENV) or _writable_default("logs", s))
    return {
        "DBT_PROJECT_DIR": str(PROJECT_DIR),
        "DBT_PROFILES_DIR": str(PROFILES_DIR),
        "DBT_TARGET_PATH": str(target),
        "DBT_LOG_PATH": str(logs),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        # Dates are UTC days: the session time zone must not depend on the server's default.
        "PGTZ": "UTC",
        **connection_env(login.render_as_string(hide_password=False)),
        "LEADLY_DBT_ANALYTICS_ROLE": s.analytics_db_role,
        "LEADLY_DBT_DASHBOARD_ROLE": s.dashboard_db_role,
    }


def parse_env(
    settings: Settings | None = None,
    *,
    target_path: str | os.PathLike[str] | None = None,
    log_path: str | os.PathLike[str] | None = None,
) -> dict[str, str]:
    """:func:`dbt_env` for ``dbt parse``, which renders the profile but never connects: it
    needs no database server and starts none. The login is ``LEADLY_DATABASE_URL``'s, or the
    embedded server's when it runs, else the embedded database on its would-be socket folder
    (the same database name, which is what the manifest records)."""
    from warehouse import embedded

    s = settings or get_settings()
    url = (
        s.database_url
        or embedded.running_url(s.data_path, s.db_name)
        or embedded.url(s.db_name, s.data_path / "postgres")
    )
    return dbt_env(s, url=url, target_path=target_path, log_path=log_path)


def dbt_vars(settings: Settings | None = None) -> dict[str, str]:
    """The dbt vars Leadly passes on every invocation (role names for the reporting RLS)."""
    s = settings or get_settings()
    return {"analytics_role": s.analytics_db_role, "dashboard_role": s.dashboard_db_role}


@contextlib.contextmanager
def patched_environ(env: Mapping[str, str]) -> Iterator[None]:
    """Set ``env`` in ``os.environ`` for the duration of the block, then restore it."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


#: dbt commands that write to the database (they take :func:`build_lock`).
WRITING_COMMANDS = frozenset({"build", "run", "seed", "snapshot", "test"})


@contextlib.contextmanager
def build_lock(env: Mapping[str, str] | None = None) -> Iterator[None]:
    """Hold the database's dbt lock for the block: one dbt run at a time per database.

    Two builds of the same models at once (the nightly schedule and ``leadly up``'s background
    build, or two test modules) collide on dbt's ``__dbt_tmp`` relations and renames. The lock
    is a session-level PostgreSQL advisory lock (advisory locks are per database), taken on its
    own connection as the dbt login of ``env`` (default: ``os.environ``); a second run waits.
    """
    import psycopg

    e = env if env is not None else os.environ
    with psycopg.connect(
        host=e.get("LEADLY_DBT_HOST", "127.0.0.1"),
        port=e.get("LEADLY_DBT_PORT", "5432"),
        user=e.get("LEADLY_DBT_USER") or None,
        password=e.get("LEADLY_DBT_PASSWORD") or None,
        dbname=e.get("LEADLY_DBT_DBNAME") or None,
        autocommit=True,
        application_name="leadly-dbt-lock",
    ) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtextextended('leadly.dbt', 0))")
        yield


def run_dbt(
    args: Sequence[str],
    settings: Settings | None = None,
    *,
    env: Mapping[str, str] | None = None,
    vars: Mapping[str, Any] | None = None,
    raise_on_failure: bool = True,
) -> dbtRunnerResult:
    """Run ``dbt <args>`` in-process (``dbtRunner``) against Leadly's database.

    ``env`` defaults to :func:`dbt_env` (pass one to reuse a target path); ``vars`` are merged
    over :func:`dbt_vars`. Raises :class:`DbtError` naming the failed nodes unless
    ``raise_on_failure`` is false.
    """
    from dbt.cli.main import dbtRunner

    run_env = dict(env) if env is not None else dbt_env(settings)
    all_vars = {**dbt_vars(settings), **(vars or {})}
    argv = [*args]
    command = next((a for a in argv if not a.startswith("-")), "")
    if command not in ("deps", "clean", "debug", "init", ""):
        argv += [
            "--project-dir",
            run_env.get("DBT_PROJECT_DIR", str(PROJECT_DIR)),
            "--profiles-dir",
            run_env.get("DBT_PROFILES_DIR", str(PROFILES_DIR)),
        ]
        if "--vars" not in argv:
            argv += ["--vars", json.dumps(all_vars, sort_keys=True)]
    lock = build_lock(run_env) if command in WRITING_COMMANDS else contextlib.nullcontext()
    with lock, patched_environ(run_env):
        result = dbtRunner().invoke(argv)
    if raise_on_failure and not result.success:
        raise DbtError(_failure_message(argv, result), result)
    return result


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _failure_message(argv: Sequence[str], result: Any) -> str:
    command = next((a for a in argv if not a.startswith("-")), "")
    head = f"dbt {command} failed"
    if result.exception is not None:
        return f"{head}: {result.exception!r}"
    lines = []
    skipped = 0
    for r in getattr(result.result, "results", None) or []:
        status = str(getattr(r, "status", "")).lower()
        skipped += status == "skipped"
        if status in ("error", "fail", "runtime error"):
            node = getattr(r, "node", None)
            name = getattr(node, "unique_id", None) or getattr(node, "name", "?")
            msg = _ANSI.sub("", getattr(r, "message", None) or "").strip()
            lines.append(f"  {status}: {name}: {msg[:2000]}")
    if skipped:
        lines.append(f"  ({skipped} skipped)")
    return head + (":\n" + "\n".join(lines) if lines else " (see dbt.log)")


__all__ = [
    "PROFILES_DIR",
    "PROJECT_DIR",
    "PROJECT_DIR_ENV",
    "DbtError",
    "connection_env",
    "dbt_env",
    "dbt_vars",
    "find_project_dir",
    "parse_env",
    "patched_environ",
    "run_dbt",
]
