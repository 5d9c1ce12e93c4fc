"""POST /<plural>/batch: per-item results in order; all_or_none rolls everything back."""

from __future__ import annotations

from tests.api.records.conftest import Spec, Sql, email, new_lead
from tests.conftest import Team, assert_problem


async def test_mixed_batch_reports_each_item(team: Team, other_team: Team, sql: Sql) -> None:
    existing = await new_lead(team, title="Old")
    foreign = await new_lead(other_team)
    taken = existing["email"]
    items = [
        {"first_name": "New", "email": email()},  # 0 created
        {"id": existing["id"], "title": "New title"},  # 1 updated
        {"rating": 7, "website_score": 101},  # 2 invalid
        {"id": foreign["id"], "title": "x"},  # 3 another team's: 404
        {"email": taken},  # 4 duplicate: 409
        "not an object",  # 5
        {"id": existing["id"], "version": 1, "title": "stale"},  # 6 stale version: 412
        {"first_name": "X", "unknown": 1},  # 7 unknown field
        {"id": "lead_nope", "title": "x"},  # 8 no such id
    ]
    before = await sql.snapshot(team.team_id)
    r = await team.post("/api/v1/leads/batch", json={"items": items, "all_or_none": False})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["status"] for x in results] == [201, 200, 422, 404, 409, 422, 412, 422, 404]
    assert all(isinstance(x["status"], int) for x in results)
    for x in results:
        assert ("record" in x) != ("problem" in x), x
        if "problem" in x:
            assert x["problem"]["status"] == x["status"] and x["problem"]["detail"]
    assert results[0]["record"]["first_name"] == "New"
    assert results[1]["record"]["title"] == "New title" and results[1]["record"]["version"] == 2
    assert {e["field"] for e in results[2]["problem"]["errors"]} == {"rating", "website_score"}
    assert results[4]["problem"]["existing_id"] == existing["id"]
    assert results[7]["problem"]["errors"][0]["field"] == "unknown"
    # Exactly the two good items were written, each with one event.
    after = await sql.snapshot(team.team_id)
    assert after["leads"] == before["leads"] + 1
    assert after["events"] == before["events"] + 2
    assert (await team.get(f"/api/v1/leads/{existing['id']}")).json()["title"] == "New title"
    assert (await other_team.get(f"/api/v1/leads/{foreign['id']}")).json()["title"] is None


async def test_all_or_none_rolls_back(team: Team, sql: Sql, spec: Spec) -> None:
    first = await spec.payload(team)
    good = [await spec.payload(team) for _ in range(2)]
    created = await team.post(f"/api/v1/{spec.plural}", json=first)
    rec = created.json()
    before = await sql.snapshot(team.team_id)
    items = [good[0], {"id": rec["id"], **spec.change}, {**good[1], "nope": 1}]
    r = await team.post(f"/api/v1/{spec.plural}/batch", json={"items": items, "all_or_none": True})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["status"] for x in results] == [424, 424, 422]
    assert all("record" not in x and x["problem"]["status"] == x["status"] for x in results)
    assert await sql.snapshot(team.team_id) == before
    assert (await team.get(f"/api/v1/{spec.plural}/{rec['id']}")).json() == rec
    # The same batch without the bad item applies fully.
    r = await team.post(
        f"/api/v1/{spec.plural}/batch", json={"items": items[:2], "all_or_none": True}
    )
    assert [x["status"] for x in r.json()["results"]] == [201, 200]


async def test_all_or_none_duplicate_inside_batch(team: Team, sql: Sql) -> None:
    addr = email()
    before = await sql.snapshot(team.team_id)
    r = await team.post(
        "/api/v1/contacts/batch",
        json={"items": [{"email": addr}, {"email": addr.upper()}], "all_or_none": True},
    )
    assert [x["status"] for x in r.json()["results"]] == [424, 409]
    assert await sql.snapshot(team.team_id) == before


async def test_batch_limits(team: Team, sql: Sql) -> None:
    r = await team.post(
        "/api/v1/leads/batch", json={"items": [{"first_name": f"n{i}"} for i in range(1000)]}
    )
    assert r.status_code == 200
    assert [x["index"] for x in r.json()["results"]] == list(range(1000))
    assert {x["status"] for x in r.json()["results"]} == {201}
    assert await sql.count("leads", team.team_id) == 1000
    too_many = {"items": [{"first_name": "n"}] * 1001}
    p = assert_problem(await team.post("/api/v1/leads/batch", json=too_many), 413)
    assert "1000" in p["detail"]
    assert await sql.count("leads", team.team_id) == 1000
    for body in ({"items": []}, {"items": {}}, {"items": [], "x": 1}, {}):
        assert_problem(await team.post("/api/v1/leads/batch", json=body), 422)
    assert_problem(
        await team.post(
            "/api/v1/leads/batch", content=b"{", headers={"content-type": "application/json"}
        ),
        400,
    )
