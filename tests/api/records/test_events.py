"""Every create/update/delete appends exactly one event, in the same transaction."""

from __future__ import annotations

from tests.api.records.conftest import Spec, Sql, new_lead, uniq
from tests.conftest import Team, assert_problem


async def test_one_event_per_write(team: Team, spec: Spec, sql: Sql) -> None:
    body = await spec.payload(team)
    rid = uniq("req-")
    r = await team.post(f"/api/v1/{spec.plural}", json=body, headers={"X-Request-ID": rid})
    assert r.status_code == 201 and r.headers["x-request-id"] == rid
    rec = r.json()
    url = f"/api/v1/{spec.plural}/{rec['id']}"
    (created,) = await sql.events(rec["id"])
    assert created["team_id"] == team.team_id
    assert created["actor_type"] == "member" and created["actor_id"] == team.member_id
    assert created["object_type"] == spec.object_type and created["object_id"] == rec["id"]
    assert created["action"] == "created" and created["request_id"] == rid
    for k, v in body.items():
        assert created["changes"][k] == [None, v], k
    assert "team_id" not in created["changes"] and "deleted_at" not in created["changes"]

    ((field, new),) = spec.change.items()
    await team.patch(url, json=spec.change, headers={"X-Request-ID": rid + "-u"})
    evts = await sql.events(rec["id"])
    assert len(evts) == 2
    updated = evts[1]
    assert updated["action"] == "updated" and updated["request_id"] == rid + "-u"
    assert updated["changes"] == {field: [rec[field], new]}  # only what changed
    # A PATCH that changes nothing writes no event.
    await team.patch(url, json=spec.change)
    assert len(await sql.events(rec["id"])) == 2

    await team.delete(url, headers={"X-Request-ID": rid + "-d"})
    evts = await sql.events(rec["id"])
    assert [e["action"] for e in evts] == ["created", "updated", "deleted"]
    assert evts[2]["request_id"] == rid + "-d"
    assert evts[2]["changes"]["deleted_at"][0] is None and evts[2]["changes"]["deleted_at"][1]
    # The event was written in the write's own transaction.
    assert len({e["txid"] for e in evts}) == 3
    row = await sql.one(
        f"SELECT version, deleted_at FROM app.{spec.table} WHERE id = %s", rec["id"]
    )
    assert row is not None and row["version"] == 3 and row["deleted_at"] is not None

    await team.post(f"{url}/restore")
    evts = await sql.events(rec["id"])
    assert evts[-1]["action"] == "restored" and evts[-1]["changes"]["deleted_at"][1] is None


async def test_failed_requests_write_nothing(team: Team, other_team: Team, sql: Sql) -> None:
    lead = await new_lead(team)
    url = f"/api/v1/leads/{lead['id']}"
    before = await sql.snapshot(team.team_id)
    failures = [
        (team.post("/api/v1/leads", json={"email": lead["email"]}), 409),
        (team.post("/api/v1/leads", json={"first_name": "x", "rating": 7}), 422),
        (
            team.post("/api/v1/leads", json={"first_name": "x", "owner_id": other_team.member_id}),
            422,
        ),
        (team.patch(url, json={"title": "x"}, headers={"If-Match": '"9"'}), 412),
        (team.patch(url, json={"owner_id": other_team.member_id}), 422),
        (team.post("/api/v1/call-logs", json={"lead_id": lead["id"], "duration": -5}), 422),
        (team.post("/api/v1/contacts", json={"first_name": "x", "custom": {"a": "\u0000"}}), 422),
        (team.delete(url, headers={"If-Match": '"5"'}), 412),
    ]
    for call, status in failures:
        assert_problem(await call, status)
    assert await sql.snapshot(team.team_id) == before
    assert (await team.get(url)).json() == lead
