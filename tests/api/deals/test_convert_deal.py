"""Lead conversion opens a deal through the deal service (same rules, same events)."""

from __future__ import annotations

from tests.api.deals.conftest import Sql, new_lead, uniq
from tests.conftest import Team, assert_problem


async def test_convert_creates_deal(team: Team, sql: Sql) -> None:
    lead = await new_lead(
        team, company_name="Deal Co", email=f"ann@{uniq('d')}.com", source="referral"
    )
    r = await team.post(
        f"/api/v1/leads/{lead['id']}/convert",
        json={"deal": {"value": "4200", "stage": "contact_made"}},
    )
    assert r.status_code == 201, r.text
    out = r.json()
    deal = out["deal"]
    assert deal["name"] == "Deal Co deal" and deal["value"] == "4200.00"
    assert deal["stage"] == "contact_made" and deal["probability"] == 20
    assert deal["lead_id"] == lead["id"] and deal["account_id"] == out["account"]["id"]
    assert deal["contacts"] == [{"contact_id": out["contact"]["id"], "role": None}]
    assert deal["source"] == "referral"
    assert [e["action"] for e in await sql.events(deal["id"])] == ["created"]


async def test_convert_deal_failing_the_gate_converts_nothing(team: Team, sql: Sql) -> None:
    lead = await new_lead(team, company_name="Gate Co")
    before = await sql.snapshot(team.team_id)
    r = await team.post(
        f"/api/v1/leads/{lead['id']}/convert", json={"deal": {"stage": "negotiation"}}
    )
    body = assert_problem(r, 422)
    assert {e["field"] for e in body["errors"]} == {"value", "expected_close_date"}
    assert await sql.snapshot(team.team_id) == before
    assert (await team.get(f"/api/v1/leads/{lead['id']}")).json()["status"] != "converted"
    # Without a deal, conversion is as before.
    r = await team.post(f"/api/v1/leads/{lead['id']}/convert")
    assert r.status_code == 201 and r.json()["deal"] is None
