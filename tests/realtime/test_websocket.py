"""The WebSocket gateway on real API processes: authentication (Bearer, single-use tickets,
refusals), the first message, notifications across processes through Redis, the PostgreSQL
LISTEN/NOTIFY fallback, and tenant isolation."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from websockets.exceptions import InvalidStatus

from leadly import clock
from tests.api.notifications.conftest import add_member, wait_for_notification
from tests.conftest import Team, assert_problem, make_team
from tests.realtime.conftest import Server, next_message, on, redis_servers, socket, until

pytestmark = [pytest.mark.usefixtures("notification_worker"), pytest.mark.xdist_group("realtime")]


async def assign_lead(owner: Team, member: Team) -> str:
    r = await owner.post(
        "/api/v1/leads",
        json={"first_name": "Socket", "last_name": "Lead", "owner_id": member.member_id},
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def refused(url: str, **kw: Any) -> int:
    with pytest.raises(InvalidStatus) as info:
        async with socket(url, **kw):
            pass
    return info.value.response.status_code


async def test_refused_without_valid_credentials(servers: dict[str, Server], http: Any) -> None:
    pg = servers["pg"]
    team = await make_team(http)
    assert await refused(pg.ws) == 403
    assert await refused(pg.ws, token="lds_not-a-real-token") == 403
    assert await refused(pg.ws, ticket="rtk_nope.nope") == 403
    r = await team.post("/api/v1/auth/logout")
    assert r.status_code in (200, 204), r.text
    assert await refused(pg.ws, token=team.token) == 403


async def test_ticket_is_single_use_and_expires(servers: dict[str, Server], http: Any) -> None:
    pg = servers["pg"]
    team = await make_team(http)
    asked = datetime.now(UTC)
    r = await team.post("/api/v1/realtime/tickets")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["ticket"].startswith("rtk_")
    # A minute after the server made it (between the request's start and its answer).
    expires = datetime.fromisoformat(body["expires_at"])
    assert asked + timedelta(seconds=60) <= expires <= datetime.now(UTC) + timedelta(seconds=60)
    async with socket(pg.ws, ticket=body["ticket"]) as ws:
        assert await next_message(ws) == {"type": "unread_count", "data": {"count": 0}}
        await ws.send('{"type": "ping"}')
        assert await next_message(ws) == {"type": "pong", "data": {}}
    assert await refused(pg.ws, ticket=body["ticket"]) == 403  # used
    r = await team.post("/api/v1/realtime/tickets")
    ticket = r.json()["ticket"]
    from warehouse.db import libpq_url

    with psycopg.connect(libpq_url(os.environ["LEADLY_DATABASE_URL"]), autocommit=True) as c:
        c.execute(
            "UPDATE app.realtime_tickets SET expires_at = now() - interval '1 second' "
            "WHERE team_id = %s AND used_at IS NULL",
            (team.team_id,),
        )
    assert await refused(pg.ws, ticket=ticket) == 403  # expired
    # A ticket names its team: another team's id in it finds nothing.
    other = await make_team(http)
    forged = "rtk_" + other.team_id + "." + ticket.split(".", 1)[1]
    assert await refused(pg.ws, ticket=forged) == 403
    assert_problem(await http.post("/api/v1/realtime/tickets"), 401)


async def test_redis_delivers_across_api_processes(servers: dict[str, Server], http: Any) -> None:
    a, b = redis_servers(servers)
    owner = await make_team(http)
    rep = await add_member(owner)
    async with socket(a.ws, token=rep.token) as ws:
        assert await next_message(ws) == {"type": "unread_count", "data": {"count": 0}}
        owner_b = on(b, owner)
        lead_id = await assign_lead(owner_b, rep)  # through the other process
        created = await until(ws, "notification.created")
        assert created["data"]["related_to_id"] == lead_id
        assert created["data"]["type"] == "lead_assigned"
        assert created["data"]["id"].startswith("ntf_")
        assert await until(ws, "unread_count") == {"type": "unread_count", "data": {"count": 1}}
        rep_b = on(b, rep)
        r = await rep_b.post("/api/v1/notifications/read", json={"all": True})
        assert r.status_code == 200, r.text
        updated = await until(ws, "notification.updated")
        assert updated["data"]["id"] == created["data"]["id"] and updated["data"]["read_at"]
        assert await until(ws, "unread_count") == {"type": "unread_count", "data": {"count": 0}}
        await owner_b.http.aclose()
        await rep_b.http.aclose()


async def test_a_member_never_receives_another_teams_events(
    servers: dict[str, Server], http: Any
) -> None:
    a, b = redis_servers(servers)
    team1, team2 = await make_team(http), await make_team(http)
    x, y = await add_member(team1), await add_member(team2)
    x_peer = await add_member(team1)  # another member of x's own team
    async with socket(a.ws, token=x.token) as wx, socket(b.ws, token=y.token) as wy:
        await next_message(wx)
        await next_message(wy)
        await assign_lead(team2, y)
        await assign_lead(team1, x_peer)
        got = await until(wy, "notification.created")
        assert got["data"]["related_to_type"] == "lead"
        await wait_for_notification(x_peer, lambda n: n["type"] == "lead_assigned")
        # The barrier: x's own notification. The producer handles the events in the log's order
        # and the broker keeps the order of what it publishes: anything pushed to x's socket for
        # the others' leads would have come before it.
        mine = await assign_lead(team1, x)
        before = []
        while (msg := await next_message(wx))["type"] != "notification.created":
            before.append(msg)
        assert msg["data"]["related_to_id"] == mine, (msg, before)
        assert all(m["type"] == "unread_count" for m in before), before


async def test_listen_notify_fallback(servers: dict[str, Server], http: Any) -> None:
    """Without Redis the API process subscribes with LISTEN; NOTIFY from another process (and
    from its own routes) reaches the socket."""
    from api.realtime import broker
    from leadly.settings import get_settings

    pg = servers["pg"]
    owner = await make_team(http)
    rep = await add_member(owner)
    lead_id = await assign_lead(owner, rep)
    n = await wait_for_notification(rep, lambda n: n["related_to_id"] == lead_id)
    r = await rep.post("/api/v1/realtime/tickets")
    async with socket(pg.ws, ticket=r.json()["ticket"]) as ws:
        assert await next_message(ws) == {"type": "unread_count", "data": {"count": 1}}
        rep_pg = on(pg, rep)
        r = await rep_pg.post("/api/v1/notifications/read", json={"ids": [n["id"]]})
        assert r.status_code == 200, r.text
        assert (await until(ws, "notification.updated"))["data"]["id"] == n["id"]
        assert await until(ws, "unread_count") == {"type": "unread_count", "data": {"count": 0}}
        await rep_pg.http.aclose()
        # Another process (this one) publishing through PostgreSQL.
        import dataclasses

        pg_settings = dataclasses.replace(get_settings(), redis_url=None)
        backend = broker.make_backend(pg_settings)
        try:
            channel = broker.member_channel(rep.team_id, rep.member_id)
            await backend.publish(broker.message("unread_count", {"count": 42}), [channel])
            assert await until(ws, "unread_count") == {
                "type": "unread_count",
                "data": {"count": 42},
            }
        finally:
            await backend.on_shutdown()


async def test_sockets_are_told_to_reconnect_when_the_listener_dies(
    servers: dict[str, Server], http: Any
) -> None:
    """The LISTEN connection of the PostgreSQL broker is killed: open sockets are closed with
    1012 (reconnect), and a new socket is served by a fresh listener."""
    from websockets.exceptions import ConnectionClosed

    from warehouse.db import libpq_url

    pg = servers["pg"]
    team = await make_team(http)
    async with socket(pg.ws, token=team.token) as ws:
        await next_message(ws)
        with psycopg.connect(libpq_url(os.environ["LEADLY_DATABASE_URL"]), autocommit=True) as c:
            killed = c.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query LIKE 'LISTEN %%' "
                "AND pid <> pg_backend_pid()"
            ).fetchall()
        assert killed, "no LISTEN connection found"
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 60)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
    async with socket(pg.ws, token=team.token) as ws:
        assert await next_message(ws) == {"type": "unread_count", "data": {"count": 0}}
        team_pg = on(pg, team)
        r = await team_pg.post("/api/v1/notifications/read", json={"all": True})
        await team_pg.http.aclose()
        assert r.status_code == 200, r.text
        assert await until(ws, "unread_count") == {"type": "unread_count", "data": {"count": 0}}


async def test_revoked_credentials_close_open_sockets(
    servers: dict[str, Server], http: Any
) -> None:
    """Signing out (or deactivating the member) closes the sockets opened with that session,
    directly or through a ticket; another session's socket stays open."""
    from websockets.exceptions import ConnectionClosed

    pg = servers["pg"]
    owner = await make_team(http)
    rep = await add_member(owner)
    r = await rep.post("/api/v1/realtime/tickets")
    ticket = r.json()["ticket"]
    async with (
        socket(pg.ws, token=rep.token) as by_token,
        socket(pg.ws, ticket=ticket) as by_ticket,
        socket(pg.ws, token=owner.token) as other,
    ):
        for ws in (by_token, by_ticket, other):
            await next_message(ws)
        assert (await rep.post("/api/v1/auth/logout")).status_code == 204
        for ws in (by_token, by_ticket):
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(ws.recv(), 60)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        await other.send('{"type": "ping"}')
        assert await until(other, "pong") == {"type": "pong", "data": {}}


async def test_snooze_and_its_end_are_pushed(servers: dict[str, Server], http: Any) -> None:
    from api.notifications.center import wake_snoozed

    a, _ = redis_servers(servers)
    owner = await make_team(http)
    rep = await add_member(owner)
    lead_id = await assign_lead(owner, rep)
    n = await wait_for_notification(rep, lambda n: n["related_to_id"] == lead_id)
    async with socket(a.ws, token=rep.token) as ws:
        assert await next_message(ws) == {"type": "unread_count", "data": {"count": 1}}
        wake_at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        rep_a = on(a, rep)
        r = await rep_a.post(f"/api/v1/notifications/{n['id']}/snooze", json={"until": wake_at})
        await rep_a.http.aclose()
        assert r.status_code == 200, r.text
        assert (await until(ws, "notification.updated"))["data"]["snoozed_until"]
        assert await until(ws, "unread_count") == {"type": "unread_count", "data": {"count": 0}}
        # The minute job, an hour later (by leadly.clock, in this process).
        clock.advance(timedelta(hours=1, minutes=1))
        try:
            assert (await wake_snoozed())["woken"] >= 1
        finally:
            clock.advance(-timedelta(hours=1, minutes=1))
        woken = await until(ws, "notification.updated")
        assert woken["data"]["id"] == n["id"] and woken["data"]["snoozed_until"] is None
        assert await until(ws, "unread_count") == {"type": "unread_count", "data": {"count": 1}}
