"""Helpers for the auth tests: superuser SQL, invited members, clients with their own address."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import Team
from tests.plugin import MAILBOX

PASSWORD = "another-long-passphrase"


def superuser() -> psycopg.Connection:
    """A superuser connection to the test database (bypasses RLS)."""
    from warehouse.db import libpq_url

    return psycopg.connect(libpq_url(os.environ["LEADLY_DATABASE_URL"]), autocommit=True)


def sql(query: str, *params: Any) -> list[tuple[Any, ...]]:
    with superuser() as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Set LEADLY_* variables for one test (the settings and throttle caches follow)."""
    from api.auth import throttle
    from leadly.settings import get_settings

    def set_(**values: str) -> None:
        for k, v in values.items():
            monkeypatch.setenv(f"LEADLY_{k.upper()}", v)
        get_settings.cache_clear()

    yield set_
    monkeypatch.undo()
    get_settings.cache_clear()
    throttle.counter.cache_clear()


@pytest.fixture
def db() -> Iterator[psycopg.Connection]:
    with superuser() as conn:
        yield conn


def random_ip() -> str:
    b = secrets.token_bytes(3)
    return f"10.{b[0]}.{b[1]}.{max(b[2], 1)}"


def client_for(app: Any, ip: str | None = None) -> httpx.AsyncClient:
    """A client with its own client address, so the per-address login throttle of one test
    never starves another."""
    transport = httpx.ASGITransport(app=app, client=(ip or random_ip(), 1234))
    return httpx.AsyncClient(transport=transport, base_url="http://leadly.test")


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as c:
        yield c


async def invite(team: Team, role: str = "user", email: str | None = None) -> dict[str, Any]:
    email = email or f"{role}-{secrets.token_hex(4)}@example.com"
    r = await team.post("/api/v1/invitations", json={"email": email, "role": role})
    assert r.status_code == 201, r.text
    assert "token" not in r.json()  # the invitee's mailbox has it, not the inviter
    return {**r.json(), "email": email, "token": MAILBOX.take_token(email, "ldi_")}


async def add_member(team: Team, role: str = "user") -> Team:
    """Invite a member with ``role`` and accept the invitation; return them as a :class:`Team`."""
    inv = await invite(team, role)
    r = await team.http.post(
        f"/api/v1/invitations/{inv['token']}/accept",
        json={"name": f"{role.title()} {secrets.token_hex(2)}", "password": PASSWORD},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    return Team(
        team.http, body["token"], team.team_id, body["member"]["id"], inv["email"], PASSWORD, body
    )


async def api_key(team: Team, *scopes: str, name: str = "test key") -> dict[str, Any]:
    r = await team.post("/api/v1/api-keys", json={"name": name, "scopes": list(scopes)})
    assert r.status_code == 201, r.text
    return r.json()
