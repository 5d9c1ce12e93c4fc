"""The deal gate: required fields per stage, win/loss reasons, reopen, probability and close
date defaults, on every write path (create, PATCH, move, batch)."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.api.deals.conftest import Sql, default_pipeline, move, new_deal
from tests.conftest import Team, assert_problem


def _entered_on(deal: dict) -> str:
    """The UTC date the deal entered its stage: a closed deal's default close date."""
    moment = datetime.fromisoformat(deal["stage_changed_at"].replace("Z", "+00:00"))
    return moment.astimezone(UTC).date().isoformat()


async def test_create_takes_defaults_and_money_forms(team: Team) -> None:
    p = await default_pipeline(team)
    d = await new_deal(team, value=1234.5)
    assert d["pipeline_id"] == p["id"] and d["stage"] == p["stages"][0]["key"]
    assert d["probability"] == 10 and d["status"] == "open"
    assert d["value"] == "1234.50" and d["weighted_value"] == "123.45"
    assert d["currency"] == "USD" and d["value_type"] == "one_off"
    assert d["days_in_stage"] == 0 and d["is_rotting"] is False
    d2 = await new_deal(team, value="99.99", currency="EUR", value_type="arr", probability=55)
    assert d2["value"] == "99.99" and d2["probability"] == 55 and d2["weighted_value"] == "54.99"


async def test_required_fields_named_on_every_path(team: Team, sql: Sql) -> None:
    before = await sql.count("deals", team.team_id)
    p = assert_problem(
        await team.post("/api/v1/deals", json={"name": "X", "stage": "negotiation"}), 422
    )
    assert sorted(e["field"] for e in p["errors"]) == ["expected_close_date", "value"]
    assert await sql.count("deals", team.team_id) == before  # nothing half-written
    d = await new_deal(team)
    for r in (
        await team.patch(f"/api/v1/deals/{d['id']}", json={"stage": "negotiation", "value": 5}),
        await move(team, d["id"], "negotiation", headers={}),
    ):
        p = assert_problem(r, 422)
        assert {e["field"] for e in p["errors"]} >= {"expected_close_date"}
    r = await team.post(
        "/api/v1/deals/batch",
        json={"items": [{"name": "ok"}, {"id": d["id"], "stage": "proposal_made"}]},
    )
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert results[0]["status"] == 201
    assert results[1]["status"] == 422 and results[1]["problem"]["errors"][0]["field"] == "value"
    # With the fields it enters, and the stage's probability comes with it.
    r = await team.patch(
        f"/api/v1/deals/{d['id']}",
        json={"stage": "negotiation", "value": "5000", "expected_close_date": "2027-01-31"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "negotiation" and r.json()["probability"] == 80
    events = await sql.events(d["id"])
    assert [e["action"] for e in events] == ["created", "updated"]
    assert events[-1]["changes"]["stage"] == ["qualified", "negotiation"]
    assert events[-1]["object_type"] == "deal"


async def test_probability_follows_stage_unless_given(team: Team) -> None:
    d = await new_deal(team)
    d = (await team.patch(f"/api/v1/deals/{d['id']}", json={"probability": 33})).json()
    assert d["probability"] == 33  # overridable in a stage
    d = (await move(team, d["id"], "contact_made")).json()
    assert d["probability"] == 20  # reset on a stage change
    d = (await move(team, d["id"], "demo_scheduled", probability=45)).json()
    assert d["probability"] == 45  # unless the move gives one
    assert_problem(await team.patch(f"/api/v1/deals/{d['id']}", json={"probability": 101}), 422)


async def test_won_and_lost_need_reasons_and_close(team: Team) -> None:
    d = await new_deal(team, value=100)
    p = assert_problem(await move(team, d["id"], "lost"), 422)
    assert [e["field"] for e in p["errors"]] == ["loss_reason"]
    p = assert_problem(await move(team, d["id"], "won"), 422)
    assert [e["field"] for e in p["errors"]] == ["win_reason"]
    r = await move(team, d["id"], "won", win_reason="Best fit")
    assert r.status_code == 200, r.text
    won = r.json()
    assert won["status"] == "won" and won["actual_close_date"] == _entered_on(won)
    assert won["probability"] == 100
    # A won deal keeps its reason.
    assert_problem(await team.patch(f"/api/v1/deals/{d['id']}", json={"win_reason": None}), 422)
    # Given close date wins over today.
    d2 = await new_deal(team)
    lost = (
        await team.patch(
            f"/api/v1/deals/{d2['id']}",
            json={"stage": "lost", "loss_reason": "Price", "actual_close_date": "2026-01-15"},
        )
    ).json()
    assert lost["status"] == "lost" and lost["actual_close_date"] == "2026-01-15"
    assert lost["probability"] == 0 and lost["weighted_value"] is None


async def test_a_deal_created_closed_gets_todays_close_date(team: Team) -> None:
    lost = await new_deal(team, stage="lost", loss_reason="Timing")
    assert lost["status"] == "lost" and lost["actual_close_date"] == _entered_on(lost)
    given = await new_deal(team, stage="won", win_reason="Fit", actual_close_date="2026-02-01")
    assert given["actual_close_date"] == "2026-02-01"
    assert (await new_deal(team))["actual_close_date"] is None


async def test_closed_deal_reopens_only_explicitly(team: Team, sql: Sql) -> None:
    d = await new_deal(team)
    await move(team, d["id"], "lost", loss_reason="No budget")
    n = len(await sql.events(d["id"]))
    for r in (
        await move(team, d["id"], "qualified"),
        await team.patch(f"/api/v1/deals/{d['id']}", json={"stage": "won", "win_reason": "x"}),
    ):
        p = assert_problem(r, 409)
        assert p["errors"][0]["field"] == "reopen"
    assert len(await sql.events(d["id"])) == n
    # Editing a closed deal without leaving its stage is fine.
    r = await team.patch(f"/api/v1/deals/{d['id']}", json={"competitor": "Acme"})
    assert r.status_code == 200 and r.json()["status"] == "lost"
    r = await move(team, d["id"], "proposal_made", reopen=True, headers={})
    assert_problem(r, 422)  # reopening still passes the gate (value missing)
    r = await team.patch(f"/api/v1/deals/{d['id']}", json={"stage": "qualified", "reopen": True})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "open" and r.json()["actual_close_date"] is None


async def test_bad_input_is_a_problem_and_writes_nothing(team: Team, sql: Sql) -> None:
    before = await sql.snapshot(team.team_id)
    deals_before = await sql.count("deals", team.team_id)
    for body, field in (
        ({"name": "x", "value": "abc"}, "value"),
        ({"name": "x", "value": "-5"}, "value"),
        ({"name": "x", "value": "1.005"}, "value"),
        ({"name": "x", "value": "1e20"}, "value"),
        ({"name": "x", "value": "NaN"}, "value"),
        ({"name": "x", "currency": "usd"}, "currency"),
        ({"name": "x", "value_type": "weekly"}, "value_type"),
        ({"name": "x", "probability": -1}, "probability"),
        ({"name": "x", "stage": "nope"}, "stage"),
        ({"name": "x", "pipeline_id": "pipe_01J0000000000000000000000A"}, "pipeline_id"),
        ({"name": "x", "owner_id": "mem_01J0000000000000000000000A"}, "owner_id"),
        (
            {"name": "x", "contacts": [{"contact_id": "cont_01J0000000000000000000000A"}]},
            "contacts[0].contact_id",
        ),
        ({"name": ""}, "name"),
        ({"name": "x", "bogus": 1}, "bogus"),
        ({"value": 5}, "name"),
    ):
        r = await team.post("/api/v1/deals", json=body)
        assert 400 <= r.status_code < 500, (body, r.text)
        p = assert_problem(r, r.status_code)
        assert field in {e["field"] for e in p.get("errors") or []}, (body, p)
    assert_problem(await team.post("/api/v1/deals", content=b"{nope"), 400)
    assert await sql.snapshot(team.team_id) == before
    assert await sql.count("deals", team.team_id) == deals_before
    d = await new_deal(team)
    assert_problem(await team.patch(f"/api/v1/deals/{d['id']}", json={"status": "won"}), 422)
    assert_problem(await move(team, d["id"], "qualified", position=-1), 422)
    assert_problem(await team.get("/api/v1/deals?filter[nope]=1"), 400)
    assert_problem(await team.get("/api/v1/deals/velocity?from=yesterday"), 400)


async def test_money_round_trips_exactly(team: Team, sql: Sql) -> None:
    big = "9999999999999.99"  # the largest value: exact in the event log too
    d = await new_deal(team, value=big)
    assert d["value"] == big
    created = (await sql.events(d["id"]))[0]["changes"]["value"][1]
    assert f"{created:.2f}" == big
    r = await team.get(f"/api/v1/deals/{d['id']}?as_of={d['updated_at']}")
    assert r.json()["value"] == big
    assert_problem(
        await team.post("/api/v1/deals", json={"name": "x", "value": "10000000000000"}), 422
    )
