"""``/api/v1/dispatcher``: dead letters (list, read, retry) and consumer positions."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.dispatcher import service
from api.dispatcher.registry import DispatchedEvent
from api.dispatcher.worker import RetryPolicy
from tests.conftest import Team, assert_problem
from tests.dispatcher.conftest import (
    Position,
    Recorder,
    add_member,
    append_events,
    cursor_of,
    eventually,
    failures_of,
    running,
    team_consumer,
    unique,
)
from warehouse.db import api_engine, tenant_tx

FAILURES = "/api/v1/dispatcher/failures"


async def cursor_passed(engine: AsyncEngine, consumer: str, position: Position) -> bool:
    c = await cursor_of(engine, consumer)
    return c is not None and c >= position


async def make_failure(
    engine: AsyncEngine, team: Team, *, consumer: str | None = None, dead: bool = True
) -> dict[str, Any]:
    """One failed delivery recorded the way the worker records it."""
    name = consumer or unique()
    [(_, event_id)] = await append_events(team.team_id, 1)
    async with tenant_tx(api_engine(), team.team_id) as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT id, team_id, txid::text AS txid, occurred_at, actor_type, actor_id, "
                    "object_type, object_id, action, changes, data, request_id "
                    "FROM app.events WHERE id = :i"
                ),
                {"i": event_id},
            )
        ).one()
    async with engine.begin() as conn:
        await service.record_failure(
            conn,
            name,
            DispatchedEvent.from_row(row),
            "RuntimeError: the receiver said no",
            delay=60.0,
            max_attempts=1 if dead else 5,
        )
    [failure] = [f for f in await failures_of(engine, name) if f["event_id"] == event_id]
    return failure


async def test_dead_letters_are_listed_by_status_and_paginated(
    team: Team, worker_engine: AsyncEngine
) -> None:
    dead = [(await make_failure(worker_engine, team))["id"] for _ in range(3)]
    retrying = await make_failure(worker_engine, team, dead=False)
    assert retrying["status"] == "retrying" and retrying["attempts"] == 1
    assert retrying["next_attempt_at"] is not None

    r = await team.get(FAILURES, params={"status": "dead", "limit": 2})
    assert r.status_code == 200, r.text
    page = r.json()
    assert set(page) == {"data", "next_cursor", "has_more"}
    assert page["has_more"] is True and len(page["data"]) == 2
    r = await team.get(
        FAILURES, params={"status": "dead", "limit": 2, "cursor": page["next_cursor"]}
    )
    rest = r.json()
    assert rest["has_more"] is False and rest["next_cursor"] is None
    seen = [f["id"] for f in page["data"] + rest["data"]]
    assert sorted(seen) == sorted(dead)
    # Newest first by default.
    assert seen == sorted(dead, reverse=True)

    item = page["data"][0]
    assert item["status"] == "dead" and item["attempts"] == 1
    assert item["last_error"] == "RuntimeError: the receiver said no"
    assert item["next_attempt_at"] is None
    assert item["event"]["object_type"] == "dispatch_test" and item["event"]["action"] == "created"
    assert "changes" not in item["event"]

    r = await team.get(FAILURES, params={"status": "retrying"})
    assert [f["id"] for f in r.json()["data"]] == [retrying["id"]]
    r = await team.get(FAILURES, params={"status": "dead,retrying"})
    assert len(r.json()["data"]) == 4
    r = await team.get(FAILURES, params={"filter[consumer]": retrying["consumer"]})
    assert [f["id"] for f in r.json()["data"]] == [retrying["id"]]
    assert (await team.get(FAILURES, params={"status": "resolved"})).json()["data"] == []

    r = await team.get(f"{FAILURES}/{retrying['id']}")
    assert r.status_code == 200, r.text
    one = r.json()
    assert one["id"] == retrying["id"] and one["event"]["id"] == retrying["event_id"]
    assert one["event"]["changes"] == {"n": [None, 0]}
    assert one["event"]["data"]["tag"]

    p = assert_problem(await team.get(FAILURES, params={"status": "broken"}), 400)
    assert p["errors"][0]["field"] == "status"
    assert_problem(await team.get(FAILURES, params={"sort": "nope"}), 400)
    assert_problem(await team.get(FAILURES, params={"cursor": "garbage"}), 400)


async def test_failures_are_isolated_between_teams(
    team: Team, other_team: Team, worker_engine: AsyncEngine
) -> None:
    mine = await make_failure(worker_engine, team)
    theirs = await make_failure(worker_engine, other_team)
    r = await other_team.get(FAILURES)
    assert [f["id"] for f in r.json()["data"]] == [theirs["id"]]
    r = await team.get(FAILURES)
    assert [f["id"] for f in r.json()["data"]] == [mine["id"]]
    assert_problem(await other_team.get(f"{FAILURES}/{mine['id']}"), 404)
    assert_problem(await other_team.post(f"{FAILURES}/{mine['id']}/retry"), 404)
    assert_problem(await team.get(f"{FAILURES}/failure_01JD5Z0000000000000000000Z"), 404)
    # Nothing changed on the other team's row.
    [after] = [f for f in await failures_of(worker_engine, mine["consumer"])]
    assert after["status"] == "dead" and after["updated_at"] == mine["updated_at"]


async def test_retrying_a_dead_letter_redelivers_it(team: Team, worker_engine: AsyncEngine) -> None:
    broken = True
    rec = Recorder(fail=lambda _e, _n: broken)
    c = team_consumer(team.team_id, rec)
    [(_, event_id)] = await append_events(team.team_id, 1)

    async def state(status: str) -> dict[str, Any] | None:
        fs = await failures_of(worker_engine, c.name)
        return fs[0] if fs and fs[0]["status"] == status else None

    policy = RetryPolicy(max_attempts=1, base=0.05, cap=0.1)
    async with running([c], worker_engine, policy=policy) as task:
        dead = await eventually(lambda: state("dead"), task=task, what="dead letter")
        assert dead["attempts"] == 1 and dead["event_id"] == event_id
        r = await team.get(FAILURES, params={"status": "dead"})
        assert [f["id"] for f in r.json()["data"]] == [dead["id"]]

        broken = False
        r = await team.post(f"{FAILURES}/{dead['id']}/retry")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "retrying" and body["next_attempt_at"] is not None
        resolved = await eventually(lambda: state("resolved"), task=task, what="redelivery")
    assert resolved["attempts"] == 2 and resolved["next_attempt_at"] is None
    assert rec.delivered == [event_id] and rec.attempts[event_id] == 2
    r = await team.get(f"{FAILURES}/{dead['id']}")
    assert r.json()["status"] == "resolved"
    # Nothing left to retry.
    assert_problem(await team.post(f"{FAILURES}/{dead['id']}/retry"), 409)
    # The retry is in the event log (who asked, and what changed).
    async with tenant_tx(api_engine(), team.team_id) as conn:
        [ev] = (
            await conn.execute(
                text(
                    "SELECT actor_id, action, changes FROM app.events "
                    "WHERE object_type = 'dispatch_failure' AND object_id = :i"
                ),
                {"i": dead["id"]},
            )
        ).all()
    assert ev.actor_id == team.member_id and ev.action == "retried"
    assert ev.changes["status"] == ["dead", "retrying"]


async def test_only_admins_see_and_retry_dead_letters(
    http: httpx.AsyncClient, team: Team, worker_engine: AsyncEngine
) -> None:
    failure = await make_failure(worker_engine, team)
    urls = [
        ("GET", FAILURES),
        ("GET", f"{FAILURES}/{failure['id']}"),
        ("POST", f"{FAILURES}/{failure['id']}/retry"),
        ("GET", "/api/v1/dispatcher/consumers"),
    ]
    for role in ("user", "manager"):
        member = await add_member(http, team, role)
        for method, url in urls:
            assert_problem(await member.request(method, url), 403)
    admin = await add_member(http, team, "admin")
    assert (await admin.get(FAILURES)).status_code == 200
    assert (await admin.get("/api/v1/dispatcher/consumers")).status_code == 200
    # An owner's API key needs the dispatcher scopes.
    r = await team.post("/api/v1/api-keys", json={"name": "k", "scopes": ["leads:read"]})
    assert r.status_code == 201, r.text
    key = team.as_token(r.json()["key"])
    assert_problem(await key.get(FAILURES), 403)
    r = await team.post("/api/v1/api-keys", json={"name": "k2", "scopes": ["dispatcher:read"]})
    key = team.as_token(r.json()["key"])
    assert (await key.get(FAILURES)).status_code == 200
    assert_problem(await key.post(f"{FAILURES}/{failure['id']}/retry"), 403)
    assert (await failures_of(worker_engine, failure["consumer"]))[0]["status"] == "dead"


async def test_consumers_show_their_position_lag_and_open_failures(
    team: Team, other_team: Team, worker_engine: AsyncEngine
) -> None:
    rec = Recorder()
    c = team_consumer(team.team_id, rec)
    pos = await append_events(team.team_id, 5)
    # Another team's events after ours: the consumer's cursor passes them too.
    theirs = await append_events(other_team.team_id, 2)
    async with running([c], worker_engine) as task:
        await eventually(lambda: rec.delivered == [i for _, i in pos], task=task, what="deliveries")
        await eventually(
            lambda: cursor_passed(worker_engine, c.name, theirs[-1]), task=task, what="cursor"
        )

    async def entry(t: Team) -> dict[str, Any]:
        r = await t.get("/api/v1/dispatcher/consumers")
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"data", "next_cursor", "has_more"}
        [e] = [x for x in body["data"] if x["name"] == c.name]
        return e

    e = await entry(team)
    # The team's own newest event, not the cursor (another team's event: platform-wide volume).
    assert (int(e["last_txid"]), e["last_event_id"]) == pos[-1]
    assert e["lag"] == 0 and e["oldest_pending_at"] is None and e["lag_capped"] is False
    assert e["failures"] == {"retrying": 0, "dead": 0}

    await append_events(team.team_id, 3)
    await make_failure(worker_engine, team, consumer=c.name)
    e = await entry(team)
    # 3 events plus the one make_failure wrote, none delivered yet (the worker is stopped).
    assert e["lag"] == 4 and e["oldest_pending_at"] is not None
    assert e["failures"] == {"retrying": 0, "dead": 1}
    # Another team sees the same consumer but only its own backlog and failures.
    e = await entry(other_team)
    assert e["lag"] == 0 and e["failures"] == {"retrying": 0, "dead": 0}
    assert (int(e["last_txid"]), e["last_event_id"]) == theirs[-1]
