"""Test harness: one fresh database per test run (dropped afterwards), real Redis, real API.

- ``LEADLY_TEST_DATABASE_URL`` (any database on a server we may create databases on, e.g.
  ``postgresql://root@127.0.0.1:5432/postgres``): the run creates ``leadly_test_<random>`` there.
  Unset: an embedded PostgreSQL is started in a temporary folder.
- ``LEADLY_TEST_REDIS_URL``: Redis for throttling/pub-sub, with a per-run key prefix. Unset:
  the in-process fallbacks are used.

The shared helpers (``eventually``, ``free_port``, ``moment``, ``open_page``...) and the run's
guards (no test touches the user's data folder, no process outlives the run) are in
tests/plugin.py.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from tests.plugin import MAILBOX, PASSWORD, MailBox, session_root

pytest_plugins = ["tests.plugin"]

RUN_ID = secrets.token_hex(4)


def _admin_url() -> tuple[str, Path | None]:
    """The server the run creates its database on; with no ``LEADLY_TEST_DATABASE_URL``, an
    embedded one in this process's temporary root (and that folder, to stop it afterwards)."""
    url = os.environ.get("LEADLY_TEST_DATABASE_URL")
    if url:
        return url, None
    folder = Path(tempfile.mkdtemp(prefix="pg-", dir=session_root()))
    folder.chmod(0o755)
    from warehouse import embedded

    return embedded.start(folder, "postgres"), folder


@pytest.fixture(scope="session")
def database_url(mailbox: MailBox) -> Iterator[str]:
    admin, tmp = _admin_url()
    name = f"leadly_test_{RUN_ID}"
    with psycopg.connect(
        make_url(admin).set(drivername="postgresql").render_as_string(hide_password=False),
        autocommit=True,
    ) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    env = {
        "LEADLY_DATABASE_URL": url,
        "LEADLY_REDIS_PREFIX": f"leadly-test-{RUN_ID}",
        "LEADLY_DATA_DIR": tempfile.mkdtemp(prefix="data-", dir=session_root()),
        "LEADLY_SECRET_KEY": "test-secret",
        # Tests sign up many teams from one address, and their Slack/Teams/push stand-ins
        # listen on loopback: tests that check these guards switch them back on.
        "LEADLY_SIGNUP_MAX_PER_IP": "1000000",
        # Rate limits: the suite calls from a few addresses and members; tests/api/oauth/
        # test_rate_limits.py sets small ones on an app of its own.
        "LEADLY_RATE_LIMIT_ANONYMOUS_PER_HOUR": "100000000",
        "LEADLY_RATE_LIMIT_SESSION_PER_HOUR": "100000000",
        "LEADLY_RATE_LIMIT_OAUTH_CLIENT_PER_HOUR": "100000000",
        "LEADLY_RATE_LIMIT_BURST_PER_SECOND": "100000000",
        "LEADLY_ALLOW_PRIVATE_TARGETS": "true",
    }
    if os.environ.get("LEADLY_TEST_REDIS_URL"):
        env["LEADLY_REDIS_URL"] = os.environ["LEADLY_TEST_REDIS_URL"]
    os.environ.update(env)
    _clear_caches()
    from warehouse import migrate

    migrate.upgrade()
    try:
        yield url
    finally:
        _clear_caches()
        with psycopg.connect(
            make_url(admin).set(drivername="postgresql").render_as_string(hide_password=False),
            autocommit=True,
        ) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        if tmp is not None:
            from warehouse import embedded

            embedded.stop(tmp)


def _clear_caches() -> None:
    from api.auth import crypto, throttle
    from leadly.settings import get_settings
    from warehouse import db

    get_settings.cache_clear()
    db.forget_engines()
    throttle.counter.cache_clear()
    crypto._key.cache_clear()


@pytest.fixture(scope="session")
async def app(database_url: str) -> AsyncIterator[Any]:
    from api.app import create_app

    application = create_app()
    yield application
    from warehouse.db import api_engine

    await api_engine().dispose()


@pytest.fixture(scope="session")
async def http(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the real ASGI app (no network hop)."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://leadly.test") as client:
        yield client


@dataclass
class Team:
    """A signed-up team: its owner's token and ids, and a client preset with the token."""

    http: httpx.AsyncClient
    token: str
    team_id: str
    member_id: str
    email: str
    password: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        headers = {**self.headers, **kw.pop("headers", {})}
        return await self.http.request(method, url, headers=headers, **kw)

    async def get(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("GET", url, **kw)

    async def post(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("POST", url, **kw)

    async def patch(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("PATCH", url, **kw)

    async def delete(self, url: str, **kw: Any) -> httpx.Response:
        return await self.request("DELETE", url, **kw)

    def as_token(self, token: str) -> Team:
        return Team(self.http, token, self.team_id, self.member_id, self.email, self.password)


async def make_team(http: httpx.AsyncClient, name: str | None = None) -> Team:
    tag = secrets.token_hex(4)
    email = f"owner-{tag}@example.com"
    password = PASSWORD
    r = await http.post(
        "/api/v1/auth/signup",
        json={
            "team_name": name or f"Team {tag}",
            "name": f"Owner {tag}",
            "email": email,
            "password": password,
        },
    )
    assert r.status_code == 201, r.text
    body = r.json()
    # The owner follows the link mailed to them: a verified login, as every test expects.
    body["member"] = await verify_email(http, email)
    return Team(
        http, body["token"], body["team"]["id"], body["member"]["id"], email, password, body
    )


async def verify_email(http: httpx.AsyncClient, email: str) -> dict[str, Any]:
    """Follow the verification link last mailed to ``email``; the member, now verified."""
    token = MAILBOX.take_token(email, "ldv_")
    r = await http.post("/api/v1/auth/verify-email", json={"token": token})
    assert r.status_code == 200, r.text
    member = r.json()["member"]
    assert member["email_verified"] is True, member
    return member


@pytest.fixture
async def team(http: httpx.AsyncClient) -> Team:
    return await make_team(http)


@pytest.fixture
async def other_team(http: httpx.AsyncClient) -> Team:
    return await make_team(http)


def assert_problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, f"{r.status_code} != {status}: {r.text}"
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["status"] == status and body["title"] and "detail" in body, body
    return body
