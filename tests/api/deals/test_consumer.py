"""Activity written after the deal: the dispatcher consumer runs the progression rules."""

from __future__ import annotations

from api.deals.consumer import deal_progression_consumer
from api.dispatcher.registry import BUILTIN, DispatchedEvent
from tests.api.deals.conftest import Sql, new_deal, new_lead
from tests.api.records.conftest import create
from tests.conftest import Team


async def test_a_booked_meeting_advances_the_deal(team: Team, sql: Sql) -> None:
    assert "api.deals.consumer:deal_progression_consumer" in BUILTIN
    lead = await new_lead(team)
    d = await new_deal(team, lead_id=lead["id"], next_step="Book the demo")
    other = await new_deal(team, lead_id=lead["id"])  # no next step: stays
    call = await create(
        team, "call-logs", {"lead_id": lead["id"], "duration": 90, "outcome": "meeting_booked"}
    )
    assert (await team.get(f"/api/v1/deals/{d['id']}")).json()["stage"] == "qualified"
    rows = await sql.all(
        "SELECT *, txid::text AS txid FROM app.events WHERE object_id = %s ORDER BY id", call["id"]
    )
    event = DispatchedEvent.from_row(rows[0])
    assert deal_progression_consumer.accepts(event)
    await deal_progression_consumer(event)
    got = (await team.get(f"/api/v1/deals/{d['id']}")).json()
    assert got["stage"] == "demo_scheduled"
    assert (await team.get(f"/api/v1/deals/{other['id']}")).json()["stage"] == "qualified"
    evts = await sql.events(d["id"])
    assert (
        evts[-1]["actor_type"] == "system" and evts[-1]["changes"]["stage"][1] == "demo_scheduled"
    )
    await deal_progression_consumer(event)  # redelivery changes nothing
    assert len(await sql.events(d["id"])) == len(evts)


async def test_a_completed_meeting_on_the_timeline_advances_the_deal(team: Team, sql: Sql) -> None:
    stages = [
        {"key": "talk", "name": "Talk", "probability": 10},
        {
            "key": "met",
            "name": "Met",
            "probability": 40,
            "auto_advance": {"all": [{"activity": "meeting", "outcome": "completed"}]},
        },
        {"key": "won", "name": "Won", "probability": 100, "is_won": True},
    ]
    r = await team.post("/api/v1/pipelines", json={"name": "Meetings", "stages": stages})
    assert r.status_code == 201, r.text
    d = await new_deal(team, pipeline_id=r.json()["id"])

    async def log_meeting(status: str) -> DispatchedEvent:
        body = {
            "type": "meeting",
            "related_to_type": "deal",
            "related_to_id": d["id"],
            "subject": "Demo",
            "metadata": {"status": status, "starts_at": "2026-11-20T15:00:00Z"},
        }
        r = await team.post("/api/v1/activities", json=body)
        assert r.status_code == 201, r.text
        rows = await sql.all(
            "SELECT *, txid::text AS txid FROM app.events WHERE object_id = %s ORDER BY id",
            r.json()["id"],
        )
        event = DispatchedEvent.from_row(rows[0])
        assert deal_progression_consumer.accepts(event)
        await deal_progression_consumer(event)
        return event

    await log_meeting("scheduled")  # not the outcome the rule wants
    assert (await team.get(f"/api/v1/deals/{d['id']}")).json()["stage"] == "talk"
    await log_meeting("completed")
    got = (await team.get(f"/api/v1/deals/{d['id']}")).json()
    assert got["stage"] == "met" and got["probability"] == 40
