"""Helpers for the record API tests: resource specs, record factories, superuser SQL."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.conftest import Team
from tests.plugin import MAILBOX


def uniq(prefix: str = "x") -> str:
    return f"{prefix}{secrets.token_hex(4)}"


def email(prefix: str = "p") -> str:
    return f"{uniq(prefix)}@{uniq('co')}.example.com"


async def create(team: Team, plural: str, body: dict[str, Any], **kw: Any) -> dict[str, Any]:
    r = await team.post(f"/api/v1/{plural}", json=body, **kw)
    assert r.status_code == 201, r.text
    return r.json()


async def new_lead(team: Team, **values: Any) -> dict[str, Any]:
    return await create(team, "leads", {"first_name": "Ada", "email": email("lead"), **values})


async def new_contact(team: Team, **values: Any) -> dict[str, Any]:
    return await create(team, "contacts", {"first_name": "Cy", "email": email("c"), **values})


async def new_account(team: Team, **values: Any) -> dict[str, Any]:
    return await create(team, "accounts", {"name": uniq("Acme "), **values})


async def new_call(team: Team, **values: Any) -> dict[str, Any]:
    if "lead_id" not in values and "contact_id" not in values:
        values["lead_id"] = (await new_lead(team))["id"]
    return await create(team, "call-logs", {"duration": 60, **values})


@dataclass(frozen=True)
class Spec:
    """One standard object as the API shows it."""

    plural: str  # URL segment
    object_type: str  # events.object_type
    table: str  # app.<table>
    prefix: str  # id prefix
    payload: Callable[[Team], Awaitable[dict[str, Any]]]  # a valid create body
    change: dict[str, Any]  # a valid PATCH body
    bad: dict[str, Any] = field(default_factory=dict)  # a body failing validation (422)


async def _lead_body(team: Team) -> dict[str, Any]:
    return {"first_name": "Ada", "email": email("lead"), "rating": 4.5}


async def _contact_body(team: Team) -> dict[str, Any]:
    return {"first_name": "Cy", "email": email("c")}


async def _account_body(team: Team) -> dict[str, Any]:
    return {"name": uniq("Acme "), "domain": f"{uniq('acme')}.com"}


async def _call_body(team: Team) -> dict[str, Any]:
    return {"lead_id": (await new_lead(team))["id"], "duration": 42, "outcome": "connected"}


SPECS = [
    Spec("leads", "lead", "leads", "lead", _lead_body, {"title": "CTO"}, {"rating": 7}),
    Spec("contacts", "contact", "contacts", "cont", _contact_body, {"title": "CFO"}, {"email": 1}),
    Spec("accounts", "account", "accounts", "acct", _account_body, {"industry": "SaaS"}, {}),
    Spec(
        "call-logs",
        "call_log",
        "call_logs",
        "call",
        _call_body,
        {"outcome": "voicemail"},
        {"duration": -1},
    ),
]
SPEC_IDS = [s.plural for s in SPECS]


@pytest.fixture(params=SPECS, ids=SPEC_IDS)
def spec(request: pytest.FixtureRequest) -> Spec:
    return request.param


# --------------------------------------------------------------------------- superuser SQL


@pytest.fixture(scope="session")
async def db(database_url: str) -> AsyncIterator[psycopg.AsyncConnection[dict[str, Any]]]:
    """A superuser connection (bypasses row-level security) on the test database."""
    url = os.environ["LEADLY_DATABASE_URL"]
    conn = await psycopg.AsyncConnection.connect(url, autocommit=True, row_factory=dict_row)
    try:
        yield conn
    finally:
        await conn.close()


class Sql:
    def __init__(self, conn: psycopg.AsyncConnection[dict[str, Any]]) -> None:
        self.conn = conn

    async def exec(self, query: str, *params: Any) -> None:
        await self.conn.execute(query, params)  # type: ignore[arg-type]

    async def all(self, query: str, *params: Any) -> list[dict[str, Any]]:
        cur = await self.conn.execute(query, params)  # type: ignore[arg-type]
        return await cur.fetchall()

    async def one(self, query: str, *params: Any) -> dict[str, Any] | None:
        rows = await self.all(query, *params)
        return rows[0] if rows else None

    async def events(self, object_id: str) -> list[dict[str, Any]]:
        return await self.all(
            "SELECT * FROM app.events WHERE object_id = %s ORDER BY id", object_id
        )

    async def team_events(self, team_id: str) -> list[dict[str, Any]]:
        return await self.all("SELECT * FROM app.events WHERE team_id = %s ORDER BY id", team_id)

    async def count(self, table: str, team_id: str, *, live: bool = False) -> int:
        extra = " AND deleted_at IS NULL" if live else ""
        row = await self.one(
            f"SELECT count(*) AS n FROM app.{table} WHERE team_id = %s{extra}", team_id
        )
        assert row is not None
        return int(row["n"])

    async def snapshot(self, team_id: str) -> dict[str, int]:
        """Rows per record table plus events of one team: compare before/after a failure."""
        out = {t: await self.count(t, team_id) for t in ("leads", "contacts", "accounts")}
        out["call_logs"] = await self.count("call_logs", team_id)
        out["events"] = len(await self.team_events(team_id))
        return out


@pytest.fixture
def sql(db: psycopg.AsyncConnection[dict[str, Any]]) -> Sql:
    return Sql(db)


# --------------------------------------------------------------------------- members


async def add_member(owner: Team, role: str) -> Team:
    """Invite a member with ``role`` and accept: a Team handle acting as that member."""
    addr = email(role)
    r = await owner.post("/api/v1/invitations", json={"email": addr, "role": role})
    assert r.status_code == 201, r.text
    r = await owner.http.post(
        f"/api/v1/invitations/{MAILBOX.take_token(addr, 'ldi_')}/accept",
        json={"name": f"{role.title()} Member", "password": "correct-horse-battery"},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    return Team(
        owner.http,
        body["token"],
        owner.team_id,
        body["member"]["id"],
        addr,
        "correct-horse-battery",
        body,
    )
