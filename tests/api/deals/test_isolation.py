"""Another team's deals and pipelines are 404 on every endpoint; its records cannot be linked."""

from __future__ import annotations

from tests.api.deals.conftest import Sql, default_pipeline, move, new_contact, new_deal
from tests.conftest import Team, assert_problem


async def test_other_teams_ids_are_404(team: Team, other_team: Team, sql: Sql) -> None:
    d = await new_deal(other_team, value=5)
    p = await default_pipeline(other_team)
    before = await sql.team_events(other_team.team_id)
    did, pid = d["id"], p["id"]
    for method, url, kw in (
        ("GET", f"/api/v1/deals/{did}", {}),
        ("PATCH", f"/api/v1/deals/{did}", {"json": {"name": "mine"}}),
        ("DELETE", f"/api/v1/deals/{did}", {}),
        ("POST", f"/api/v1/deals/{did}/move", {"json": {"stage": "qualified"}}),
        ("GET", f"/api/v1/deals/{did}/stage-history", {}),
        ("GET", f"/api/v1/deals/{did}/history", {}),
        ("POST", f"/api/v1/deals/{did}/restore", {}),
        ("GET", f"/api/v1/pipelines/{pid}", {}),
        ("PATCH", f"/api/v1/pipelines/{pid}", {"json": {"name": "mine"}}),
        ("DELETE", f"/api/v1/pipelines/{pid}", {}),
        ("GET", f"/api/v1/pipelines/{pid}/board", {}),
        (
            "POST",
            f"/api/v1/pipelines/{pid}/stages",
            {"json": {"key": "x", "name": "X", "probability": 5}},
        ),
        ("PATCH", f"/api/v1/pipelines/{pid}/stages/qualified", {"json": {"name": "Y"}}),
        ("POST", f"/api/v1/pipelines/{pid}/stages/reorder", {"json": {"keys": ["won"]}}),
        ("DELETE", f"/api/v1/pipelines/{pid}/stages/qualified", {}),
    ):
        r = await team.request(method, url, **kw)
        assert_problem(r, 404)
    assert await sql.team_events(other_team.team_id) == before
    assert (await team.get("/api/v1/deals")).json()["data"] == []
    mine = await default_pipeline(team)
    assert mine["id"] != pid
    # Linking another team's records is refused by name.
    contact = await new_contact(other_team)
    for body, field in (
        ({"pipeline_id": pid}, "pipeline_id"),
        ({"contacts": [{"contact_id": contact["id"]}]}, "contacts[0].contact_id"),
        ({"owner_id": other_team.member_id}, "owner_id"),
    ):
        p = assert_problem(await team.post("/api/v1/deals", json={"name": "x", **body}), 422)
        assert p["errors"][0]["field"] == field
    r = await team.get(f"/api/v1/deals/velocity?pipeline_id={pid}")
    assert r.json()["by_pipeline"] == []
    r = await team.get(f"/api/v1/deals/weighted-value?pipeline_id={pid}")
    assert r.json()["data"] == []
    mine_deal = await new_deal(team)
    assert_problem(await move(other_team, mine_deal["id"], "won", win_reason="x"), 404)


async def test_guests_read_but_cannot_write(team: Team, sql: Sql) -> None:
    from tests.api.records.conftest import add_member

    guest = await add_member(team, "guest")
    d = await new_deal(team)
    p = await default_pipeline(team)
    assert (await guest.get(f"/api/v1/deals/{d['id']}")).status_code == 200
    assert (await guest.get(f"/api/v1/pipelines/{p['id']}/board")).status_code == 200
    before = await sql.team_events(team.team_id)
    assert_problem(await guest.post("/api/v1/deals", json={"name": "x"}), 403)
    assert_problem(await move(guest, d["id"], "contact_made"), 403)
    assert_problem(await guest.patch(f"/api/v1/deals/{d['id']}", json={"name": "y"}), 403)
    assert_problem(await guest.delete(f"/api/v1/pipelines/{p['id']}/stages/qualified"), 403)
    assert await sql.team_events(team.team_id) == before


async def test_other_teams_deal_in_a_batch_or_as_of_is_404(team: Team, other_team: Team) -> None:
    d = await new_deal(other_team)
    r = await team.post("/api/v1/deals/batch", json={"items": [{"id": d["id"], "name": "x"}]})
    assert [x["status"] for x in r.json()["results"]] == [404]
    assert_problem(
        await team.get(f"/api/v1/deals/{d['id']}", params={"as_of": "2100-01-01T00:00:00Z"}), 404
    )
    r = await team.get("/api/v1/deals", params={"filter[id]": d["id"]})
    assert r.status_code == 200 and r.json()["data"] == []
