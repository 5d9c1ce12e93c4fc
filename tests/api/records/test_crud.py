"""The uniform REST surface of leads, contacts, accounts and call logs."""

from __future__ import annotations

from tests.api.records.conftest import Spec, new_lead
from tests.conftest import Team, assert_problem


async def test_create_get_patch_delete_restore(team: Team, spec: Spec) -> None:
    body = await spec.payload(team)
    r = await team.post(f"/api/v1/{spec.plural}", json=body)
    assert r.status_code == 201, r.text
    rec = r.json()
    assert rec["id"].startswith(spec.prefix + "_")
    assert rec["version"] == 1
    assert r.headers["etag"] == '"1"'
    assert r.headers["location"] == f"/api/v1/{spec.plural}/{rec['id']}"
    assert "team_id" not in rec and "deleted_at" not in rec
    for k, v in body.items():
        assert rec[k] == v, k
    url = f"/api/v1/{spec.plural}/{rec['id']}"

    r = await team.get(url)
    assert r.status_code == 200 and r.json() == rec
    assert r.headers["etag"] == '"1"'

    # If-Match: the current version applies, a stale one is 412 and changes nothing.
    r = await team.patch(url, json=spec.change, headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert r.headers["etag"] == '"2"'
    updated = r.json()
    assert updated["version"] == 2 and updated["updated_at"] >= rec["updated_at"]
    for k, v in spec.change.items():
        assert updated[k] == v
    stale = await team.patch(url, json={**spec.change}, headers={"If-Match": '"1"'})
    body412 = assert_problem(stale, 412)
    assert body412["current_version"] == 2
    assert (await team.get(url)).json() == updated
    # W/ prefix and * are accepted; no If-Match is last-writer-wins.
    assert (await team.patch(url, json={}, headers={"If-Match": 'W/"2"'})).status_code == 200
    assert (await team.patch(url, json={}, headers={"If-Match": "*"})).status_code == 200
    # An empty PATCH changes nothing: same version.
    assert (await team.patch(url, json={})).json()["version"] == 2

    # DELETE: stale If-Match is 412, then 204 and the record is gone (404 everywhere).
    assert_problem(await team.delete(url, headers={"If-Match": '"1"'}), 412)
    r = await team.delete(url, headers={"If-Match": '"2"'})
    assert r.status_code == 204 and r.content == b""
    assert_problem(await team.get(url), 404)
    assert_problem(await team.patch(url, json=spec.change), 404)
    assert_problem(await team.delete(url), 404)
    listed = (await team.get(f"/api/v1/{spec.plural}", params={"filter[id]": rec["id"]})).json()
    assert listed["data"] == []

    # Restore brings it back with a new version; restoring a live record is 404.
    r = await team.post(f"{url}/restore")
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 4 and r.headers["etag"] == '"4"'
    assert (await team.get(url)).status_code == 200
    assert_problem(await team.post(f"{url}/restore"), 404)


async def test_get_one_sparse_fields_and_unknown_params(team: Team) -> None:
    lead = await new_lead(team, rating=3)
    url = f"/api/v1/leads/{lead['id']}"
    r = await team.get(url, params={"fields": "email,rating"})
    assert r.status_code == 200
    assert r.json() == {"id": lead["id"], "email": lead["email"], "rating": 3}
    assert r.headers["etag"] == '"1"'
    assert_problem(await team.get(url, params={"fields": "nope"}), 400)
    for params in ({"x": "1"}, {"limit": "5"}, {"filter[status]": "new"}, {"as_of": ""}):
        assert_problem(await team.get(url, params=params), 400)


async def test_patch_cannot_touch_read_only_or_unknown_fields(team: Team) -> None:
    lead = await new_lead(team)
    url = f"/api/v1/leads/{lead['id']}"
    for body in (
        {"id": "lead_x"},
        {"version": 9},
        {"created_at": "2020-01-01T00:00:00Z"},
        {"team_id": "t"},
        {"merged_into_id": None},
    ):
        p = assert_problem(await team.patch(url, json=body), 422)
        assert p["errors"][0]["field"] == next(iter(body))
    assert (await team.get(url)).json()["version"] == 1


async def test_status_rules(team: Team) -> None:
    lead = await new_lead(team)
    url = f"/api/v1/leads/{lead['id']}"
    p = assert_problem(await team.patch(url, json={"status": "converted"}), 422)
    assert p["errors"][0]["field"] == "status"
    assert (await team.patch(url, json={"status": "qualified"})).json()["status"] == "qualified"
    p = assert_problem(await team.patch(url, json={"first_name": None, "email": None}), 422)
    assert p["errors"][0]["field"] == "email"


async def test_account_domain_is_normalised(team: Team) -> None:
    r = await team.post(
        "/api/v1/accounts", json={"name": "Acme", "website": "https://www.Acme.io/x"}
    )
    assert r.status_code == 201 and r.json()["domain"] == "acme.io"
    r = await team.post("/api/v1/accounts", json={"name": "B", "domain": "HTTP://WWW.B.COM"})
    assert r.json()["domain"] == "b.com"
    r = await team.post("/api/v1/accounts", json={"name": "C", "website": "http://[broken"})
    assert r.status_code == 201 and r.json()["domain"] is None
    p = assert_problem(
        await team.post("/api/v1/accounts", json={"name": "D", "domain": "a b"}), 422
    )
    assert p["errors"][0]["field"] == "domain"
    p = assert_problem(await team.post("/api/v1/accounts", json={"name": "  "}), 422)
    assert p["errors"][0]["field"] == "name"


async def test_call_log_defaults_and_rules(team: Team) -> None:
    lead = await new_lead(team)
    r = await team.post("/api/v1/call-logs", json={"lead_id": lead["id"]})
    assert r.status_code == 201, r.text
    call = r.json()
    assert call["member_id"] == team.member_id
    assert call["direction"] == "outbound" and call["duration"] == 0 and call["started_at"]
    r = await team.post(
        "/api/v1/call-logs", json={"lead_id": lead["id"], "started_at": "2026-01-02T03:04:05"}
    )
    assert r.json()["started_at"].startswith("2026-01-02T03:04:05")
    p = assert_problem(await team.post("/api/v1/call-logs", json={"duration": 5}), 422)
    assert p["errors"][0]["field"] == "lead_id"
    p = assert_problem(
        await team.patch(f"/api/v1/call-logs/{call['id']}", json={"lead_id": None}), 422
    )
    assert p["errors"][0]["field"] == "lead_id"
