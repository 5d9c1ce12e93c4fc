"""Helpers for the activity timeline tests: records, activities, the timeline consumer run
deterministically over a team's events, a second member of the same team."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from api.activities.consumer import handle
from api.dispatcher.registry import DispatchedEvent
from tests.conftest import Team, make_team
from tests.dispatcher.conftest import add_member, worker_engine  # noqa: F401 (fixture)
from warehouse.db import api_engine, tenant_tx


def uniq(prefix: str = "x") -> str:
    return f"{prefix}{secrets.token_hex(4)}"


async def created(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 201, r.text
    return r.json()


async def new_lead(team: Team, **values: Any) -> dict[str, Any]:
    body = {"first_name": "Ada", "email": f"{uniq('l')}@{uniq('co')}.example.com", **values}
    return await created(await team.post("/api/v1/leads", json=body))


async def new_contact(team: Team, **values: Any) -> dict[str, Any]:
    body = {"first_name": "Cy", "email": f"{uniq('c')}@{uniq('co')}.example.com", **values}
    return await created(await team.post("/api/v1/contacts", json=body))


async def new_account(team: Team, **values: Any) -> dict[str, Any]:
    return await created(
        await team.post("/api/v1/accounts", json={"name": uniq("Acme "), **values})
    )


async def log(team: Team, record: dict[str, Any], object_type: str, **body: Any) -> dict[str, Any]:
    payload = {
        "type": "note",
        "related_to_type": object_type,
        "related_to_id": record["id"],
        **body,
    }
    return await created(await team.post("/api/v1/activities", json=payload))


async def team_events(team_id: str) -> list[DispatchedEvent]:
    """Every event of the team, in dispatch order ((txid, id))."""
    async with tenant_tx(api_engine(), team_id) as conn:
        rows = await conn.execute(
            text(
                "SELECT e.id, e.team_id, e.txid::text AS txid, e.occurred_at, e.actor_type, "
                "e.actor_id, e.object_type, e.object_id, e.action, e.changes, e.data, "
                "e.request_id FROM app.events e "
                "WHERE e.team_id = :t ORDER BY e.txid, e.id"  # the xid8, not the text alias
            ),
            {"t": team_id},
        )
        return [DispatchedEvent.from_row(r) for r in rows]


async def derive(team_id: str) -> int:
    """Run the timeline consumer's handler over the team's events, as the worker would."""
    evts = await team_events(team_id)
    for e in evts:
        await handle(e)
    return len(evts)


async def sql(query: str, **params: Any) -> list[dict[str, Any]]:
    """Read as the API role inside one team (RLS applies): pass ``team=`` for the team id."""
    team_id = params.pop("team")
    async with tenant_tx(api_engine(), team_id) as conn:
        return [dict(r._mapping) for r in await conn.execute(text(query), params)]


@pytest.fixture
async def mate(http: httpx.AsyncClient, team: Team) -> Team:
    """A second member (role user) of ``team``, with their member id."""
    member = await add_member(http, team, "user")
    me = (await member.get("/api/v1/me")).json()
    member.member_id = me["member"]["id"] if "member" in me else me["id"]
    return member


@pytest.fixture
async def stranger(http: httpx.AsyncClient) -> Team:
    return await make_team(http)
