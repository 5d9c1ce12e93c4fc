"""Tenant isolation (another team's ids are 404) and roles (a guest cannot write)."""

from __future__ import annotations

from tests.api.records.conftest import Spec, Sql, add_member, new_lead
from tests.conftest import Team, assert_problem


async def test_other_teams_records_are_404(
    team: Team, other_team: Team, spec: Spec, sql: Sql
) -> None:
    rec = (await team.post(f"/api/v1/{spec.plural}", json=await spec.payload(team))).json()
    url = f"/api/v1/{spec.plural}/{rec['id']}"
    before = await sql.snapshot(team.team_id)
    assert_problem(await other_team.get(url), 404)
    assert_problem(await other_team.get(url, params={"as_of": "2100-01-01T00:00:00Z"}), 404)
    assert_problem(await other_team.get(f"{url}/history"), 404)
    assert_problem(await other_team.patch(url, json=spec.change), 404)
    assert_problem(await other_team.delete(url), 404)
    assert_problem(await other_team.post(f"{url}/restore"), 404)
    r = await other_team.post(
        f"/api/v1/{spec.plural}/batch", json={"items": [{"id": rec["id"], **spec.change}]}
    )
    assert [x["status"] for x in r.json()["results"]] == [404]
    r = await other_team.get(f"/api/v1/{spec.plural}", params={"filter[id]": rec["id"]})
    assert r.status_code == 200 and r.json()["data"] == []
    assert await sql.snapshot(team.team_id) == before
    assert (await team.get(url)).json() == rec
    # Deleted records stay invisible to others too.
    await team.delete(url)
    assert_problem(await other_team.post(f"{url}/restore"), 404)
    assert_problem(await other_team.get(f"{url}/history"), 404)


async def test_guest_cannot_write(team: Team) -> None:
    guest = await add_member(team, "guest")
    lead = await new_lead(team, company_name="Guest Co")
    url = f"/api/v1/leads/{lead['id']}"
    # Reads are allowed.
    assert (await guest.get(url)).status_code == 200
    assert (await guest.get("/api/v1/leads")).status_code == 200
    assert (await guest.get(f"{url}/history")).status_code == 200
    other = await new_lead(team)
    writes = [
        guest.post("/api/v1/leads", json={"first_name": "g"}),
        guest.patch(url, json={"title": "g"}),
        guest.delete(url),
        guest.post(f"{url}/restore"),
        guest.post("/api/v1/leads/batch", json={"items": [{"first_name": "g"}]}),
        guest.post(f"{url}/merge", json={"other_id": other["id"]}),
        guest.post(f"{url}/convert"),
        guest.post("/api/v1/contacts", json={"first_name": "g"}),
        guest.post("/api/v1/accounts", json={"name": "g"}),
        guest.post("/api/v1/call-logs", json={"lead_id": lead["id"]}),
    ]
    for call in writes:
        assert_problem(await call, 403)
    assert (await team.get(url)).json() == lead
    # A user-role member can write.
    user = await add_member(team, "user")
    r = await user.post("/api/v1/leads", json={"first_name": "u"})
    assert r.status_code == 201 and r.json()["created_by"] == user.member_id


async def test_authorization_comes_before_validation(team: Team) -> None:
    guest = await add_member(team, "guest")
    lead = await new_lead(team)
    for call in (
        guest.post("/api/v1/accounts", json={}),
        guest.post("/api/v1/leads", json={"rating": 70}),
        guest.patch(f"/api/v1/leads/{lead['id']}", json={"nope": 1}),
        guest.post("/api/v1/leads/batch", json={"items": "x"}),
        guest.post(f"/api/v1/leads/{lead['id']}/merge", json={}),
        guest.post(
            f"/api/v1/leads/{lead['id']}/convert",
            content=b"{",
            headers={"content-type": "application/json"},
        ),
    ):
        assert_problem(await call, 403)


async def test_api_key_scopes(team: Team) -> None:
    r = await team.post("/api/v1/api-keys", json={"name": "ro", "scopes": ["leads:read"]})
    assert r.status_code == 201, r.text
    ro = team.as_token(r.json()["key"])
    lead = await new_lead(team)
    assert (await ro.get(f"/api/v1/leads/{lead['id']}")).status_code == 200
    p = assert_problem(await ro.post("/api/v1/leads", json={"first_name": "k"}), 403)
    assert p["required_scope"] == "leads:write"
    assert_problem(await ro.get("/api/v1/contacts"), 403)
    r = await team.post("/api/v1/api-keys", json={"name": "rw", "scopes": ["leads:write"]})
    rw = team.as_token(r.json()["key"])
    assert (await rw.post("/api/v1/leads", json={"first_name": "k"})).status_code == 201
    # Converting writes contacts too.
    assert_problem(await rw.post(f"/api/v1/leads/{lead['id']}/convert"), 403)
