"""Duplicate emails (409 with existing_id) and merging two leads."""

from __future__ import annotations

import asyncio

from tests.api.records.conftest import Sql, email, new_call, new_contact, new_lead
from tests.conftest import Team, assert_problem


async def test_duplicate_email_is_409_with_existing_id(team: Team, sql: Sql) -> None:
    for plural, make in (("leads", new_lead), ("contacts", new_contact)):
        first = await make(team)
        before = await sql.snapshot(team.team_id)
        r = await team.post(
            f"/api/v1/{plural}", json={"first_name": "Dup", "email": first["email"].upper()}
        )
        p = assert_problem(r, 409)
        assert p["existing_id"] == first["id"]
        assert p["errors"][0]["field"] == "email"
        assert await sql.snapshot(team.team_id) == before
        # Changing another record's email to a taken one is refused the same way.
        second = await make(team)
        p = assert_problem(
            await team.patch(f"/api/v1/{plural}/{second['id']}", json={"email": first["email"]}),
            409,
        )
        assert p["existing_id"] == first["id"]
        # Re-sending one's own email (any case) is fine.
        r = await team.patch(
            f"/api/v1/{plural}/{first['id']}", json={"email": first["email"].upper()}
        )
        assert r.status_code == 200
        # A deleted record frees its email; restoring it while taken is 409.
        await team.delete(f"/api/v1/{plural}/{first['id']}")
        third = await make(team, email=first["email"])
        p = assert_problem(await team.post(f"/api/v1/{plural}/{first['id']}/restore"), 409)
        assert p["existing_id"] == third["id"]
        assert_problem(await team.get(f"/api/v1/{plural}/{first['id']}"), 404)


async def test_concurrent_duplicate_creates_one(team: Team, sql: Sql) -> None:
    addr = email()
    rs = await asyncio.gather(
        *[team.post("/api/v1/contacts", json={"email": addr}) for _ in range(3)]
    )
    assert sorted(r.status_code for r in rs) == [201, 409, 409]
    assert await sql.count("contacts", team.team_id) == 1


async def test_merge(team: Team, sql: Sql) -> None:
    survivor = await new_lead(
        team,
        first_name="Sue",
        email=None,
        phone=None,
        title="CEO",
        status="new",
        rating=None,
        custom={"a": 1, "shared": "survivor"},
    )
    other = await new_lead(
        team,
        first_name="Other",
        last_name="Smith",
        email=email(),
        phone="+1 555 0100",
        title="CTO",
        status="qualified",
        rating=4.5,
        custom={"b": 2, "shared": "other"},
    )
    calls = [await new_call(team, lead_id=other["id"]) for _ in range(2)]
    own_call = await new_call(team, lead_id=survivor["id"])
    r = await team.post(
        f"/api/v1/leads/{survivor['id']}/merge",
        json={"other_id": other["id"]},
        headers={"X-Request-ID": "merge-req-1"},
    )
    assert r.status_code == 200, r.text
    merged = r.json()
    assert r.headers["etag"] == f'"{merged["version"]}"'
    # The survivor keeps its values and fills the empty ones from the other.
    assert merged["id"] == survivor["id"]
    assert merged["first_name"] == "Sue" and merged["title"] == "CEO"
    assert merged["last_name"] == "Smith" and merged["email"] == other["email"]
    assert merged["phone"] == "+1 555 0100" and merged["rating"] == 4.5
    assert merged["status"] == "qualified"  # the more advanced status wins
    assert merged["custom"] == {"a": 1, "b": 2, "shared": "survivor"}
    # Call logs now point at the survivor.
    for call in [*calls, own_call]:
        got = (await team.get(f"/api/v1/call-logs/{call['id']}")).json()
        assert got["lead_id"] == survivor["id"]
    listed = await team.get("/api/v1/call-logs", params={"filter[lead_id]": survivor["id"]})
    assert len(listed.json()["data"]) == 3
    # The other is retired: 404 naming where it went, out of lists, history kept.
    p = assert_problem(await team.get(f"/api/v1/leads/{other['id']}"), 404)
    assert p["merged_into_id"] == survivor["id"] and "merged_into_id" in p["detail"]
    assert_problem(await team.patch(f"/api/v1/leads/{other['id']}", json={"title": "x"}), 404)
    ids = [x["id"] for x in (await team.get("/api/v1/leads")).json()["data"]]
    assert other["id"] not in ids and survivor["id"] in ids
    p = assert_problem(await team.post(f"/api/v1/leads/{other['id']}/restore"), 409)
    assert p["merged_into_id"] == survivor["id"]
    hist_other = (await team.get(f"/api/v1/leads/{other['id']}/history")).json()["data"]
    assert {h["action"] for h in hist_other} == {"created", "merged"}
    assert any(h["field"] == "merged_into_id" and h["new"] == survivor["id"] for h in hist_other)
    hist_surv = (await team.get(f"/api/v1/leads/{survivor['id']}/history")).json()["data"]
    assert any(h["action"] == "merged" and h["field"] == "email" for h in hist_surv)
    # Events of the merge carry the request id; the survivor's event says what moved.
    evts = [e for e in await sql.team_events(team.team_id) if e["request_id"] == "merge-req-1"]
    kinds = sorted((e["object_type"], e["action"]) for e in evts)
    assert kinds == [("call_log", "updated")] * 2 + [("lead", "merged")] * 2
    surv_evt = next(e for e in evts if e["object_id"] == survivor["id"])
    assert surv_evt["data"]["merged_lead_id"] == other["id"]
    assert sorted(surv_evt["data"]["moved_call_logs"]) == sorted(c["id"] for c in calls)
    # The merged lead's email is free for the survivor only: a new lead with it is a duplicate.
    p = assert_problem(await team.post("/api/v1/leads", json={"email": other["email"]}), 409)
    assert p["existing_id"] == survivor["id"]


async def test_merge_errors(team: Team, other_team: Team, sql: Sql) -> None:
    a, b = await new_lead(team), await new_lead(team)
    foreign = await new_lead(other_team)
    url = f"/api/v1/leads/{a['id']}/merge"
    before = await sql.snapshot(team.team_id)
    assert_problem(await team.post(url, json={"other_id": foreign["id"]}), 404)
    assert_problem(
        await team.post(f"/api/v1/leads/{foreign['id']}/merge", json={"other_id": a["id"]}), 404
    )
    assert_problem(await other_team.post(url, json={"other_id": b["id"]}), 404)
    p = assert_problem(await team.post(url, json={"other_id": a["id"]}), 422)
    assert p["errors"][0]["field"] == "other_id"
    p = assert_problem(await team.post(url, json={"other_id": "nope"}), 422)
    assert p["errors"][0]["field"] == "other_id"
    assert_problem(await team.post(url, json={}), 422)
    assert_problem(await team.post(url), 400)
    assert_problem(
        await team.post("/api/v1/leads/lead_missing/merge", json={"other_id": b["id"]}), 404
    )
    assert await sql.snapshot(team.team_id) == before
    # Merging an already merged lead again: 404 naming where it went.
    assert (await team.post(url, json={"other_id": b["id"]})).status_code == 200
    p = assert_problem(await team.post(url, json={"other_id": b["id"]}), 404)
    assert p["merged_into_id"] == a["id"]
