"""Pipelines: CRUD, one default per team, the builder (add, rename, reorder, remove with a
target that moves deals with history), admin-only changes, stage validation."""

from __future__ import annotations

from tests.api.deals.conftest import Sql, default_pipeline, move, new_deal
from tests.api.records.conftest import add_member
from tests.conftest import Team, assert_problem

STAGES = [
    {"key": "new", "name": "New", "probability": 10},
    {"key": "talk", "name": "Talking", "probability": 50, "required_fields": ["next_step"]},
    {"key": "won", "name": "Won", "probability": 100, "is_won": True},
    {"key": "lost", "name": "Lost", "probability": 0, "is_lost": True},
]


async def test_signup_creates_default_pipeline(team: Team, sql: Sql) -> None:
    p = await default_pipeline(team)
    keys = [s["key"] for s in p["stages"]]
    assert keys[0] == "qualified" and keys[-2:] == ["won", "lost"]
    won = next(s for s in p["stages"] if s["key"] == "won")
    assert won["is_won"] and won["forecast_category"] == "closed" and won["rot_days"] is None
    evts = await sql.events(p["id"])
    assert evts[0]["object_type"] == "pipeline" and evts[0]["action"] == "created"


async def test_create_switch_default_and_validation(team: Team, sql: Sql) -> None:
    first = await default_pipeline(team)
    r = await team.post("/api/v1/pipelines", json={"name": "Renewals", "stages": STAGES})
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["is_default"] is False
    assert p["stages"][2]["forecast_category"] == "closed"
    assert p["stages"][3]["forecast_category"] == "omitted"
    r = await team.patch(f"/api/v1/pipelines/{p['id']}", json={"is_default": True})
    assert r.status_code == 200 and r.json()["is_default"]
    assert (await team.get(f"/api/v1/pipelines/{first['id']}")).json()["is_default"] is False
    # New deals land in the default pipeline.
    assert (await new_deal(team))["pipeline_id"] == p["id"]
    assert_problem(
        await team.patch(f"/api/v1/pipelines/{p['id']}", json={"is_default": False}), 422
    )
    assert_problem(await team.delete(f"/api/v1/pipelines/{p['id']}"), 409)  # default
    before = await sql.count("pipelines", team.team_id)
    for stages, field in (
        ([STAGES[0], STAGES[0]], "stages[1].key"),
        ([{**STAGES[0], "is_won": True, "is_lost": True}], "stages[0].is_won"),
        ([{**STAGES[0], "required_fields": ["nope"]}], "stages[0].required_fields[0]"),
        ([{**STAGES[0], "key": "Bad Key"}], "stages[0].key"),
        ([{**STAGES[0], "probability": 120}], "stages[0].probability"),
        ([STAGES[2]], "stages"),
        (
            [
                STAGES[0],
                {
                    **STAGES[1],
                    "auto_advance": {"all": [{"activity": "carrier_pigeon", "min_count": 1}]},
                },
            ],
            "stages[1].auto_advance.all[0].activity",
        ),
        ([], "stages"),
    ):
        r = await team.post("/api/v1/pipelines", json={"name": "Bad", "stages": stages})
        body = assert_problem(r, 422)
        assert field in {e["field"] for e in body["errors"]}, body
    assert await sql.count("pipelines", team.team_id) == before


async def test_builder_operations(team: Team, sql: Sql) -> None:
    p = (await team.post("/api/v1/pipelines", json={"name": "B", "stages": STAGES})).json()
    base = f"/api/v1/pipelines/{p['id']}"
    r = await team.post(f"{base}/stages", json={"key": "demo", "name": "Demo", "probability": 30})
    assert r.status_code == 201, r.text
    assert [s["key"] for s in r.json()["stages"]] == ["new", "talk", "demo", "won", "lost"]
    assert_problem(
        await team.post(f"{base}/stages", json={"key": "demo", "name": "Again", "probability": 1}),
        409,
    )
    version = r.json()["version"]
    assert_problem(
        await team.patch(
            f"{base}/stages/demo", json={"name": "Stale"}, headers={"If-Match": f'"{version - 1}"'}
        ),
        412,
    )
    r = await team.patch(
        f"{base}/stages/demo",
        json={"name": "Product demo", "rot_days": 7},
        headers={"If-Match": f'"{version}"'},
    )
    assert r.status_code == 200, r.text
    demo = next(s for s in r.json()["stages"] if s["key"] == "demo")
    assert demo["name"] == "Product demo" and demo["rot_days"] == 7 and demo["probability"] == 30
    r = await team.post(
        f"{base}/stages/reorder", json={"keys": ["new", "demo", "talk", "won", "lost"]}
    )
    assert [s["key"] for s in r.json()["stages"]] == ["new", "demo", "talk", "won", "lost"]
    assert_problem(await team.post(f"{base}/stages/reorder", json={"keys": ["new", "demo"]}), 422)
    assert_problem(await team.patch(f"{base}/stages/nope", json={"name": "x"}), 404)
    # Removing a stage that holds deals needs a target; the deals move with history.
    deals = [await new_deal(team, pipeline_id=p["id"], stage="demo") for _ in range(2)]
    body = assert_problem(await team.delete(f"{base}/stages/demo"), 422)
    assert body["errors"][0]["field"] == "target_stage"
    # The target's requirements still apply (talk needs next_step).
    body = assert_problem(await team.delete(f"{base}/stages/demo?target_stage=talk"), 422)
    assert {e["field"] for e in body["errors"]} == {f"deals[{d['id']}].next_step" for d in deals}
    assert_problem(await team.delete(f"{base}/stages/demo?target_stage=nope"), 422)
    assert_problem(
        await team.patch(f"{base}", json={"stages": [STAGES[0], STAGES[2]]}), 409
    )  # a PATCH cannot strand deals either
    r = await team.delete(f"{base}/stages/demo?target_stage=new")
    assert r.status_code == 200, r.text
    assert [s["key"] for s in r.json()["stages"]] == ["new", "talk", "won", "lost"]
    for d in deals:
        got = (await team.get(f"/api/v1/deals/{d['id']}")).json()
        assert got["stage"] == "new" and got["probability"] == 10
        hist = (await team.get(f"/api/v1/deals/{d['id']}/stage-history")).json()["data"]
        assert [(h["from_stage"], h["to_stage"]) for h in hist] == [(None, "demo"), ("demo", "new")]
        evts = await sql.events(d["id"])
        assert evts[-1]["changes"]["stage"] == ["demo", "new"]
        assert evts[-1]["data"] == {"stage_removed": "demo"}
    pevts = await sql.events(p["id"])
    assert pevts[-1]["data"]["op"] == "remove_stage" and pevts[-1]["data"]["moved"] == 2
    # An empty stage goes without a target.
    r = await team.delete(f"{base}/stages/talk")
    assert r.status_code == 200 and [s["key"] for s in r.json()["stages"]] == ["new", "won", "lost"]
    # A pipeline with deals cannot be deleted; an empty non-default one can.
    assert_problem(await team.delete(base), 409)
    empty = (await team.post("/api/v1/pipelines", json={"name": "E", "stages": STAGES})).json()
    gone = await new_deal(team, pipeline_id=empty["id"])
    assert (await team.delete(f"/api/v1/deals/{gone['id']}")).status_code == 204
    assert (await team.delete(f"/api/v1/pipelines/{empty['id']}")).status_code == 204
    # A deal of a deleted pipeline stays deleted.
    assert_problem(await team.post(f"/api/v1/deals/{gone['id']}/restore"), 409)


async def test_only_admins_change_pipelines(team: Team) -> None:
    rep = await add_member(team, "user")
    p = await default_pipeline(team)
    assert_problem(
        await rep.post("/api/v1/pipelines", json={"name": "Mine", "stages": STAGES}), 403
    )
    assert_problem(await rep.patch(f"/api/v1/pipelines/{p['id']}", json={"name": "x"}), 403)
    assert_problem(
        await rep.post(
            f"/api/v1/pipelines/{p['id']}/stages", json={"key": "k", "name": "K", "probability": 1}
        ),
        403,
    )
    assert (await rep.get(f"/api/v1/pipelines/{p['id']}/board")).status_code == 200
    spare = (await team.post("/api/v1/pipelines", json={"name": "Spare", "stages": STAGES})).json()
    assert_problem(await rep.delete(f"/api/v1/pipelines/{spare['id']}"), 403)
    assert (await team.delete(f"/api/v1/pipelines/{spare['id']}")).status_code == 204
    assert_problem(await rep.post(f"/api/v1/pipelines/{spare['id']}/restore"), 403)
    # Reps move their deals.
    d = await new_deal(rep)
    assert (await move(rep, d["id"], "contact_made")).status_code == 200
