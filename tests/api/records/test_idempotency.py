"""Idempotency-Key on POST: replay the first response, never create twice, 422 on a new body."""

from __future__ import annotations

import asyncio

from tests.api.records.conftest import Spec, Sql, email, new_lead, uniq
from tests.conftest import Team, assert_problem


async def test_same_key_same_body_replays(team: Team, spec: Spec, sql: Sql) -> None:
    body = await spec.payload(team)
    key = {"Idempotency-Key": uniq("key-")}
    before = await sql.count(spec.table, team.team_id)
    first = await team.post(f"/api/v1/{spec.plural}", json=body, headers=key)
    assert first.status_code == 201, first.text
    again = await team.post(f"/api/v1/{spec.plural}", json=body, headers=key)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["location"] == first.headers["location"]
    assert again.headers.get("idempotent-replayed") == "true"
    assert await sql.count(spec.table, team.team_id) == before + 1
    assert len(await sql.events(first.json()["id"])) == 1
    # The same key with another body is refused and writes nothing.
    other = {**body, "custom": {"changed": True}}
    p = assert_problem(await team.post(f"/api/v1/{spec.plural}", json=other, headers=key), 422)
    assert p["errors"][0]["field"] == "Idempotency-Key"
    assert await sql.count(spec.table, team.team_id) == before + 1


async def test_key_ignores_json_formatting(team: Team, sql: Sql) -> None:
    key = {"Idempotency-Key": uniq("fmt-"), "Content-Type": "application/json"}
    addr = email()
    a = await team.post(
        "/api/v1/leads", content=f'{{"first_name":"A","email":"{addr}"}}', headers=key
    )
    b = await team.post(
        "/api/v1/leads", content=f'{{ "email": "{addr}",\n  "first_name": "A" }}', headers=key
    )
    assert a.status_code == b.status_code == 201 and a.json() == b.json()


async def test_concurrent_identical_requests_create_one(team: Team, spec: Spec, sql: Sql) -> None:
    body = await spec.payload(team)
    key = {"Idempotency-Key": uniq("race-")}
    before = await sql.count(spec.table, team.team_id)
    responses = await asyncio.gather(
        *[team.post(f"/api/v1/{spec.plural}", json=body, headers=key) for _ in range(2)]
    )
    assert [r.status_code for r in responses] == [201, 201], [r.text for r in responses]
    assert responses[0].json() == responses[1].json()
    assert await sql.count(spec.table, team.team_id) == before + 1
    assert len(await sql.events(responses[0].json()["id"])) == 1


async def test_keys_are_per_member_and_failures_are_not_stored(
    team: Team, other_team: Team, sql: Sql
) -> None:
    key = {"Idempotency-Key": uniq("k-")}
    a = await team.post("/api/v1/leads", json={"first_name": "A"}, headers=key)
    b = await other_team.post("/api/v1/leads", json={"first_name": "A"}, headers=key)
    assert a.status_code == b.status_code == 201 and a.json()["id"] != b.json()["id"]
    # A failed attempt is not remembered: fixing the request under the same key works.
    key2 = {"Idempotency-Key": uniq("k-")}
    assert_problem(await team.post("/api/v1/leads", json={"rating": 9}, headers=key2), 422)
    taken = await new_lead(team)
    p = assert_problem(
        await team.post("/api/v1/leads", json={"email": taken["email"]}, headers=key2), 409
    )
    assert p["existing_id"] == taken["id"]
    ok = await team.post("/api/v1/leads", json={"first_name": "Fixed"}, headers=key2)
    assert ok.status_code == 201
    assert_problem(
        await team.post(
            "/api/v1/leads", json={"first_name": "x"}, headers={"Idempotency-Key": "k" * 256}
        ),
        400,
    )


async def test_idempotent_batch_and_actions(team: Team, sql: Sql) -> None:
    key = {"Idempotency-Key": uniq("b-")}
    body = {"items": [{"first_name": "B1"}, {"first_name": "B2"}]}
    r1 = await team.post("/api/v1/leads/batch", json=body, headers=key)
    r2 = await team.post("/api/v1/leads/batch", json=body, headers=key)
    assert r1.status_code == r2.status_code == 200 and r1.json() == r2.json()
    assert await sql.count("leads", team.team_id) == 2
    lead = await new_lead(team, company_name="Idem Co")
    ck = {"Idempotency-Key": uniq("c-")}
    c1, c2 = await asyncio.gather(
        team.post(f"/api/v1/leads/{lead['id']}/convert", headers=ck),
        team.post(f"/api/v1/leads/{lead['id']}/convert", headers=ck),
    )
    assert c1.status_code == c2.status_code == 201 and c1.json() == c2.json()
    assert await sql.count("contacts", team.team_id) == 1
