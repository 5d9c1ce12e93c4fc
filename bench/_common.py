"""Set-up shared by the benchmarks: a database of their own on a server, the API and the worker
as real processes (``make bench`` skips this file: its name starts with ``_``).

The server: ``LEADLY_BENCH_DATABASE_URL`` (a server where a database can be created), else
``postgresql://root@127.0.0.1:5432/postgres`` when it answers, else an embedded PostgreSQL in a
temporary folder, stopped at the end. Each bench gets its own database (dropped at the end unless
kept) and its own temporary ``LEADLY_DATA_DIR``: a bench never touches the user's data folder.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any, NamedTuple

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
LOCAL_SERVER = "postgresql://root@127.0.0.1:5432/postgres"


def libpq(url: str) -> str:
    """``url`` as libpq takes it (no SQLAlchemy driver name)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def admin_server() -> Iterator[str]:
    """The admin URL of the server the bench creates its database on (see the module's doc);
    an embedded server started here is stopped and removed when the block ends."""
    url = os.environ.get("LEADLY_BENCH_DATABASE_URL")
    if url:
        yield url
        return
    try:
        psycopg.connect(LOCAL_SERVER, connect_timeout=2).close()
    except psycopg.OperationalError:
        pass
    else:
        yield LOCAL_SERVER
        return
    from warehouse import embedded

    folder = Path(tempfile.mkdtemp(prefix="leadly-bench-pg-"))
    folder.chmod(0o755)  # the embedded server runs as its own system user when we are root
    try:
        yield embedded.start(folder, "postgres")
    finally:
        embedded.stop(folder)
        shutil.rmtree(folder, ignore_errors=True)


class BenchDatabase(NamedTuple):
    admin: str
    """The server's admin URL."""
    url: str
    """The bench database's URL (an admin login)."""
    name: str


@contextlib.contextmanager
def bench_database(
    prefix: str = "leadly_bench", *, existing: str | None = None, keep: bool = False
) -> Iterator[BenchDatabase]:
    """A new database ``<prefix>_<random>`` (or the ``existing`` one, never dropped), migrated to
    head, with this process's Leadly settings pointed at it and at a temporary data folder;
    dropped at the end unless ``keep``."""
    with admin_server() as admin:
        name = existing or f"{prefix}_{secrets.token_hex(3)}"
        if not existing:
            with psycopg.connect(libpq(admin), autocommit=True) as c:
                c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        url = make_url(admin).set(database=name).render_as_string(hide_password=False)
        data_dir = Path(tempfile.mkdtemp(prefix="leadly-bench-data-"))
        os.environ.update({"LEADLY_DATABASE_URL": url, "LEADLY_DATA_DIR": str(data_dir)})
        os.environ.setdefault("LEADLY_SECRET_KEY", "bench")
        # Benchmarks measure throughput, not the rate limits (bench/ratelimit.py measures those).
        for limit in ("ANONYMOUS", "SESSION", "OAUTH_CLIENT"):
            os.environ.setdefault(f"LEADLY_RATE_LIMIT_{limit}_PER_HOUR", "1000000000")
        os.environ.setdefault("LEADLY_RATE_LIMIT_BURST_PER_SECOND", "1000000000")
        from leadly.settings import get_settings
        from warehouse import migrate

        get_settings.cache_clear()
        try:
            t0 = time.perf_counter()
            migrate.upgrade()
            print(
                f"database {name} migrated to head in {time.perf_counter() - t0:.1f}s", flush=True
            )
            yield BenchDatabase(admin, url, name)
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
            if keep or existing:
                print(f"database kept: {name}")
            else:
                with psycopg.connect(libpq(admin), autocommit=True) as c:
                    c.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                            sql.Identifier(name)
                        )
                    )


@contextlib.contextmanager
def started(
    cmd: list[str], env: Mapping[str, str] | None = None, *, stderr: IO[Any] | int | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """``cmd`` as a process of its own (this environment plus ``env``), terminated (then
    killed) when the block ends."""
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=stderr
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def api_server(workers: int = 1, env: Mapping[str, str] | None = None) -> Iterator[str]:
    """The API (uvicorn, uvloop, httptools, no access log) on a free port, on the bench's
    database; yields its base URL once ``/api/v1/health`` answers."""
    import httpx

    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app",
           "--port", str(port), "--workers", str(workers), "--no-access-log",
           "--log-level", "warning", "--loop", "uvloop", "--http", "httptools"]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    with started(cmd, env) as proc:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"the API exited ({proc.returncode})"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/api/v1/health", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, "the API did not answer within 60 s"
            time.sleep(0.1)
        yield base


class MailSink:
    """What a local SMTP server received: invitation tokens reach the invitee only by mail."""

    def __init__(self) -> None:
        self.texts: dict[str, list[str]] = {}

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        import email
        import email.policy

        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        for rcpt in envelope.rcpt_tos:
            self.texts.setdefault(rcpt.casefold(), []).append(text)
        return "250 OK"

    def token(self, address: str, prefix: str) -> str:
        """The newest token starting with ``prefix`` mailed to ``address``."""
        import re

        for text in reversed(self.texts.get(address.casefold(), [])):
            found = re.search(re.escape(prefix) + r"[A-Za-z0-9_-]+", text)
            if found:
                return found.group(0)
        raise LookupError(f"no {prefix} token mailed to {address}")


@contextlib.contextmanager
def mail_sink() -> Iterator[tuple[MailSink, dict[str, str]]]:
    """An SMTP server on loopback for the API to send through; yields it and the settings
    (``LEADLY_SMTP_HOST``/``PORT``) to give the API's environment."""
    from aiosmtpd.controller import Controller

    sink = MailSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, {"LEADLY_SMTP_HOST": "127.0.0.1", "LEADLY_SMTP_PORT": str(port)}
    finally:
        controller.stop()


def pct(values: list[float], p: int) -> float:
    """The ``p``-th percentile of ``values`` (the value itself when there is one)."""
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100)[p - 1]


async def signup(http: Any, team_name: str, name: str, email: str) -> dict[str, Any]:
    """A new team through the API (``http``: an aiohttp session on the server): the sign-up's
    answer (team, member, token)."""
    body = {"team_name": team_name, "name": name, "email": email, "password": "bench-password-1"}
    async with http.post("/api/v1/auth/signup", json=body) as r:
        return await r.json()
