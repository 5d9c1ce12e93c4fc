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
