"""Real-time tests: real API processes (uvicorn on loopback) sharing the test database, two
on Redis pub/sub and one on PostgreSQL LISTEN/NOTIFY, plus the notification consumers running
in the test process (like ``leadly worker``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.api.notifications.conftest import (  # noqa: F401 - fixtures
    notification_worker,
    services,
)
from tests.conftest import Team
from tests.plugin import free_port


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    broker: str

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/v1/ws"


def _start(name: str, redis: bool) -> Server:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADLY_REDIS_URL")}
    if redis:
        env["LEADLY_REDIS_URL"] = os.environ["LEADLY_TEST_REDIS_URL"]
    env["LEADLY_DB_POOL_SIZE"] = "4"
    env["LEADLY_REALTIME_REVALIDATE_SECONDS"] = "0.3"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "api.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return Server(name, port, proc, "redis" if redis else "postgres")


def _wait(server: Server, deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            err = server.proc.stderr.read().decode() if server.proc.stderr else ""
            raise RuntimeError(f"API process {server.name} exited: {err[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{server.http}/api/v1/health", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"API process {server.name} did not start")


@pytest.fixture(scope="session")
def servers(database_url: str) -> Iterator[dict[str, Server]]:
    """``a`` and ``b`` on Redis (when LEADLY_TEST_REDIS_URL is set), ``pg`` on LISTEN/NOTIFY."""
    wanted = {"pg": False}
    if os.environ.get("LEADLY_TEST_REDIS_URL"):
        wanted |= {"a": True, "b": True}
    started = {name: _start(name, redis) for name, redis in wanted.items()}
    try:
        # A bound, not a threshold: it costs nothing when the processes start, and a loaded
        # machine (2 cores, xdist workers, other servers) can take minutes to import the app.
        deadline = time.monotonic() + 180
        for s in started.values():
            _wait(s, deadline)
        yield started
    finally:
        for s in started.values():
            s.proc.terminate()
        for s in started.values():
            try:
                s.proc.wait(10)
            except subprocess.TimeoutExpired:
                s.proc.kill()


def redis_servers(servers: dict[str, Server]) -> tuple[Server, Server]:
    if "a" not in servers:
        pytest.skip("LEADLY_TEST_REDIS_URL is not set")
    return servers["a"], servers["b"]


def on(server: Server, member: Team) -> Team:
    """``member`` talking to ``server`` over real HTTP."""
    client = httpx.AsyncClient(base_url=server.http, timeout=60)
    return Team(
        client, member.token, member.team_id, member.member_id, member.email, member.password
    )


@contextlib.asynccontextmanager
async def socket(
    url: str, token: str | None = None, ticket: str | None = None
) -> AsyncIterator[ClientConnection]:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    target = f"{url}?ticket={ticket}" if ticket else url
    async with connect(target, additional_headers=headers, open_timeout=60) as ws:
        yield ws


async def next_message(ws: ClientConnection, within: float = 60.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), within))


async def until(ws: ClientConnection, type_: str, within: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {type_} message within {within}s")
        msg = await next_message(ws, left)
        if msg["type"] == type_:
            return msg
