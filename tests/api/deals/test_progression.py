"""Automatic progression: declarative rules on deal fields and related activity (call logs
now; other kinds plug in through api.pipelines.rules.register_activity_source)."""

from __future__ import annotations

from typing import Any

from tests.api.deals.conftest import Sql, move, new_contact, new_deal, new_lead
from tests.api.records.conftest import create
from tests.conftest import Team, assert_problem


async def test_next_step_and_meeting_advance_to_demo(team: Team, sql: Sql) -> None:
    lead = await new_lead(team)
    d = await new_deal(team, lead_id=lead["id"])
    # The next step alone is not enough.
    r = await team.patch(f"/api/v1/deals/{d['id']}", json={"next_step": "Send deck"})
    assert r.json()["stage"] == "qualified"
    await create(
        team, "call-logs", {"lead_id": lead["id"], "duration": 300, "outcome": "meeting_booked"}
    )
    r = await team.patch(f"/api/v1/deals/{d['id']}", json={"next_step": "Demo on Tuesday"})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["stage"] == "demo_scheduled" and got["probability"] == 40
    evts = await sql.events(d["id"])
    assert [e["action"] for e in evts] == ["created", "updated", "updated", "updated"]
    auto = evts[-1]
    assert auto["changes"]["stage"] == ["qualified", "demo_scheduled"]
    assert auto["actor_type"] == "system" and auto["data"]["auto_advance"] is True
    hist = (await team.get(f"/api/v1/deals/{d['id']}/stage-history")).json()["data"]
    assert hist[-1]["from_stage"] == "qualified" and hist[-1]["changed_by"] == "system"


async def test_calls_on_contacts_count_and_explicit_moves_win(team: Team) -> None:
    contact = await new_contact(team)
    await create(
        team,
        "call-logs",
        {"contact_id": contact["id"], "duration": 60, "outcome": "meeting_booked"},
    )
    d = await new_deal(team, contacts=[{"contact_id": contact["id"]}], next_step="Demo")
    assert d["stage"] == "demo_scheduled"  # created, then advanced
    # A rep who picks a stage is not overridden by the rules.
    r = await move(team, d["id"], "contact_made", headers={})
    assert r.json()["stage"] == "contact_made"


async def test_field_rules_on_a_custom_pipeline(team: Team) -> None:
    stages: list[dict[str, Any]] = [
        {"key": "new", "name": "New", "probability": 5},
        {
            "key": "big",
            "name": "Big",
            "probability": 50,
            "required_fields": ["expected_close_date"],
            "auto_advance": {
                "all": [
                    {"field": "value", "op": "gte", "value": "10000"},
                    {"field": "custom.budget", "op": "in", "value": ["approved", "signed"]},
                ]
            },
        },
        {"key": "won", "name": "Won", "probability": 100, "is_won": True},
    ]
    r = await team.post("/api/v1/pipelines", json={"name": "Field rules", "stages": stages})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    small = await new_deal(team, pipeline_id=pid, value=500, custom={"budget": "approved"})
    assert small["stage"] == "new"
    no_date = await new_deal(team, pipeline_id=pid, value=20000, custom={"budget": "approved"})
    assert no_date["stage"] == "new"  # the rule holds but the stage's requirements do not
    big = await new_deal(
        team,
        pipeline_id=pid,
        value="20000",
        custom={"budget": "signed"},
        expected_close_date="2027-03-01",
    )
    assert big["stage"] == "big" and big["probability"] == 50
    r = await team.patch(
        f"/api/v1/deals/{no_date['id']}", json={"expected_close_date": "2027-02-01"}
    )
    assert r.json()["stage"] == "big"
    bad = {**stages[1], "auto_advance": {"all": [{"field": "value", "op": "gte"}]}}
    body = assert_problem(
        await team.post("/api/v1/pipelines", json={"name": "x", "stages": [stages[0], bad]}), 422
    )
    assert body["errors"][0]["field"] == "stages[1].auto_advance.all[0].value"


async def test_activity_kinds_are_pluggable(team: Team) -> None:
    from api.pipelines import rules

    async def champions(conn: Any, actor: Any, deal: Any, cond: Any) -> int:
        return sum(1 for c in deal.get("contacts") or [] if c["role"] == "champion")

    rules.register_activity_source("champion", champions)
    stages = [
        {"key": "a", "name": "A", "probability": 5},
        {
            "key": "b",
            "name": "B",
            "probability": 60,
            "auto_advance": {"all": [{"activity": "champion", "min_count": 1}]},
        },
    ]
    pid = (await team.post("/api/v1/pipelines", json={"name": "P", "stages": stages})).json()["id"]
    c = await new_contact(team)
    d = await new_deal(team, pipeline_id=pid, contacts=[{"contact_id": c["id"], "role": "user"}])
    assert d["stage"] == "a"
    r = await team.patch(
        f"/api/v1/deals/{d['id']}", json={"contacts": [{"contact_id": c["id"], "role": "champion"}]}
    )
    assert r.json()["stage"] == "b"
