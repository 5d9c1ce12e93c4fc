"""The event stream: pages in commit order from the start of the team's history, type filters,
Server-Sent Events resuming from Last-Event-ID, and a rebuild of every record from the events
alone that matches the API's current state."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.conftest import Team, assert_problem, make_team
from tests.plugin import free_port

OBJECTS = {"lead": "/api/v1/leads", "contact": "/api/v1/contacts", "account": "/api/v1/accounts"}


async def all_events(team: Team, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    after = None
    while True:
        q = {"limit": 7, **params, **({"after": after} if after else {})}
        r = await team.get("/api/v1/events", params=q)
        assert r.status_code == 200, r.text
        body = r.json()
        out += body["data"]
        after = body["next_cursor"]
        if not body["has_more"]:
            return out


async def history(team: Team) -> dict[str, list[str]]:
    """A few records of each kind, changed and some deleted; the ids of the live ones."""
    live: dict[str, list[str]] = {k: [] for k in OBJECTS}
    for i in range(4):
        lead = (await team.post("/api/v1/leads", json={"first_name": f"L{i}"})).json()
        acct = (await team.post("/api/v1/accounts", json={"name": f"Acme {i}"})).json()
        contact = (
            await team.post(
                "/api/v1/contacts",
                json={
                    "first_name": f"C{i}",
                    "email": f"c{i}@example.com",
                    "account_id": acct["id"],
                },
            )
        ).json()
        for obj, row in (("lead", lead), ("account", acct), ("contact", contact)):
            assert "id" in row, row
            live[obj].append(row["id"])
        r = await team.patch(
            f"/api/v1/leads/{lead['id']}", json={"status": "contacted", "custom": {"n": i}}
        )
        assert r.status_code == 200, r.text
        r = await team.patch(f"/api/v1/accounts/{acct['id']}", json={"industry": "Tools"})
        assert r.status_code == 200, r.text
    for obj in ("lead", "contact"):
        gone = live[obj].pop(0)
        assert (await team.delete(f"{OBJECTS[obj]}/{gone}")).status_code == 204
    return live


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str) and a[:4].isdigit() and "T" in a:
        try:
            return datetime.fromisoformat(a) == datetime.fromisoformat(b.replace("Z", "+00:00"))
        except ValueError:
            pass
    return a == b


async def test_replaying_every_event_rebuilds_every_record(team: Team) -> None:
    live = await history(team)
    evts = await all_events(team)
    assert len({e["id"] for e in evts}) == len(evts)
    state: dict[tuple[str, str], dict[str, Any]] = {}
    for e in evts:
        assert e["team_id"] == team.team_id and e["type"].startswith(e["data"]["object"] + ".")
        key = (e["data"]["object"], e["data"]["id"])
        if e["type"].endswith(".created"):
            state[key] = {"id": e["data"]["id"]}
        for field, (_before, after) in e["data"]["changes"].items():
            state[key][field] = after
        if e["type"].endswith(".deleted"):
            state.pop(key)
        else:
            assert e["data"]["record"] == state[key]
    for obj, path in OBJECTS.items():
        assert sorted(i for o, i in state if o == obj) == sorted(live[obj])
        for rid in live[obj]:
            current = (await team.get(f"{path}/{rid}")).json()
            rebuilt = state[(obj, rid)]
            assert rebuilt, rid
            for field, value in rebuilt.items():
                assert _same(value, current[field]), (obj, field, value, current[field])


async def test_types_cursors_and_roles(team: Team, other_team: Team) -> None:
    await history(team)
    leads = await all_events(team, types="lead.*")
    assert leads and {e["type"] for e in leads} == {"lead.created", "lead.updated", "lead.deleted"}
    created = await all_events(team, types="lead.created,account.created")
    assert {e["type"] for e in created} == {"lead.created", "account.created"} and len(created) == 8
    everything = await all_events(team)
    r = await team.get("/api/v1/events", params={"limit": 3})
    first = r.json()
    assert [e["id"] for e in first["data"]] == [e["id"] for e in everything[:3]]
    r = await team.get("/api/v1/events", params={"after": first["next_cursor"], "limit": 2})
    assert [e["id"] for e in r.json()["data"]] == [e["id"] for e in everything[3:5]]
    # Another team's history is not there; nothing of the platform's own bookkeeping is.
    assert {e["data"]["object"] for e in everything} == {"lead", "contact", "account", "pipeline"}
    theirs = (await other_team.get("/api/v1/events")).json()["data"]
    assert {e["team_id"] for e in theirs} == {other_team.team_id}
    assert not {e["id"] for e in theirs} & {e["id"] for e in everything}
    for bad in ({"after": "x"}, {"types": "Lead"}, {"limit": "0"}, {"limit": "501"}):
        assert_problem(await team.get("/api/v1/events", params=bad), 400)


@pytest.fixture(scope="module")
async def live_api(app: Any) -> AsyncIterator[str]:
    """The test's app served by uvicorn on loopback (a stream is read as it is written)."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
        assert not task.done(), task
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def read_stream(
    url: str, team: Team, n: int, headers: dict[str, str] | None = None
) -> list[tuple[str, str, dict[str, Any]]]:
    """The first ``n`` events of a stream: (id, event, data)."""
    out: list[tuple[str, str, dict[str, Any]]] = []
    h = {**team.headers, "Accept": "text/event-stream", **(headers or {})}
    async with (
        httpx.AsyncClient(base_url=url, timeout=30) as client,
        client.stream("GET", "/api/v1/events", headers=h, params={"types": "lead.*"}) as r,
    ):
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        async for line in r.aiter_lines():
            if line == "":
                if "data" in fields:
                    out.append((fields["id"], fields["event"], json.loads(fields["data"])))
                    if len(out) == n:
                        return out
                fields = {}
                continue
            name, _, value = line.partition(": ")
            if name:
                fields[name] = value
    return out


async def test_server_sent_events_resume_from_last_event_id(live_api: str, http: Any) -> None:
    team = await make_team(http)
    for i in range(3):
        assert (await team.post("/api/v1/leads", json={"first_name": f"S{i}"})).status_code == 201
    first = await read_stream(live_api, team, 2)
    assert [e for _, e, _ in first] == ["lead.created", "lead.created"]
    page = (await team.get("/api/v1/events", params={"types": "lead.*"})).json()["data"]
    assert [d["id"] for _, _, d in first] == [e["id"] for e in page[:2]]
    # A new event while nobody listens; resuming from the last id seen gives the rest, in order.
    lead = (await team.get("/api/v1/leads")).json()["data"][0]
    r = await team.patch(f"/api/v1/leads/{lead['id']}", json={"status": "contacted"})
    assert r.status_code == 200
    rest = await read_stream(live_api, team, 2, {"Last-Event-ID": first[-1][0]})
    assert rest[0][2]["id"] == page[2]["id"]
    assert rest[1][1] == "lead.updated" and rest[1][2]["data"]["id"] == lead["id"]
