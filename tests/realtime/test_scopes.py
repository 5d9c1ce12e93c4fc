"""Issue 22: the socket and its tickets obey the credential's scopes, and a ticket dies with the
session that asked for it (a real API process, over real sockets)."""

from __future__ import annotations

import os
from typing import Any

import psycopg
import pytest

from tests.api.auth.conftest import api_key
from tests.conftest import assert_problem, make_team
from tests.realtime.conftest import Server, next_message, socket
from tests.realtime.test_websocket import refused

pytestmark = [pytest.mark.usefixtures("notification_worker"), pytest.mark.xdist_group("realtime")]


async def test_a_key_without_notifications_read_gets_no_socket_and_no_ticket(
    servers: dict[str, Server], http: Any
) -> None:
    pg = servers["pg"]
    team = await make_team(http)
    leads_only = (await api_key(team, "leads:read"))["key"]
    assert await refused(pg.ws, token=leads_only) == 403
    keyed = team.as_token(leads_only)
    body = assert_problem(await keyed.post("/api/v1/realtime/tickets"), 403)
    assert body["required_scope"] == "notifications:read"
    # With the scope, the key opens a socket and gets what it may read.
    reader = (await api_key(team, "notifications:read"))["key"]
    async with socket(pg.ws, token=reader) as ws:
        assert await next_message(ws) == {"type": "unread_count", "data": {"count": 0}}
    r = await team.as_token(reader).post("/api/v1/realtime/tickets")
    assert r.status_code == 201, r.text
    async with socket(pg.ws, ticket=r.json()["ticket"]) as ws:
        assert (await next_message(ws))["type"] == "unread_count"


async def test_a_keys_ticket_is_no_wider_than_the_key(
    servers: dict[str, Server], http: Any
) -> None:
    """The ticket of a key that loses its notifications scope (a new key without it) opens
    nothing: the ticket carries the key's scopes, not a session's."""
    pg = servers["pg"]
    team = await make_team(http)
    key = await api_key(team, "notifications:read")
    r = await team.as_token(key["key"]).post("/api/v1/realtime/tickets")
    ticket = r.json()["ticket"]
    from warehouse.db import libpq_url

    with psycopg.connect(libpq_url(os.environ["LEADLY_DATABASE_URL"]), autocommit=True) as c:
        c.execute(
            "UPDATE app.api_keys SET scopes = '{leads:read}' WHERE team_id = %s AND id = %s",
            (team.team_id, key["id"]),
        )
    assert await refused(pg.ws, ticket=ticket) == 403


async def test_a_ticket_dies_with_its_session(servers: dict[str, Server], http: Any) -> None:
    pg = servers["pg"]
    team = await make_team(http)
    r = await team.post("/api/v1/realtime/tickets")
    ticket = r.json()["ticket"]
    assert (await team.post("/api/v1/auth/logout")).status_code == 204
    assert await refused(pg.ws, ticket=ticket) == 403


async def test_tickets_are_never_kept_for_idempotent_replay(http: Any) -> None:
    team = await make_team(http)
    headers = {"Idempotency-Key": "ticket-retry-1"}
    first = await team.post("/api/v1/realtime/tickets", headers=headers)
    second = await team.post("/api/v1/realtime/tickets", headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["ticket"] != second.json()["ticket"]
    from warehouse.db import libpq_url

    with psycopg.connect(libpq_url(os.environ["LEADLY_DATABASE_URL"]), autocommit=True) as c:
        kept = c.execute(
            "SELECT count(*) FROM app.idempotency_keys WHERE team_id = %s", (team.team_id,)
        ).fetchone()
    assert kept == (0,)
