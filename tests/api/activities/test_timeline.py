"""Timelines: entries derived from the event log (idempotent), logged entries, filters,
grouping, cursor pagination, an account's contacts and deals, tenant isolation."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from api.activities.consumer import accepts, handle
from api.dispatcher.registry import Consumer
from tests.api.activities.conftest import (
    derive,
    log,
    new_account,
    new_contact,
    new_lead,
    sql,
    uniq,
)
from tests.conftest import Team, assert_problem
from tests.dispatcher.conftest import cursor_of, eventually, running


async def timeline(team: Team, plural: str, rid: str, **params: object) -> dict:
    r = await team.get(f"/api/v1/{plural}/{rid}/timeline", params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def test_events_become_entries_once(team: Team) -> None:
    lead = await new_lead(team, status="new")
    rid = lead["id"]
    assert (
        await team.patch(f"/api/v1/leads/{rid}", json={"status": "contacted"})
    ).status_code == 200
    r = await team.patch(f"/api/v1/leads/{rid}", json={"phone": "+1 555 0100", "title": "CTO"})
    assert r.status_code == 200
    r = await team.patch(f"/api/v1/leads/{rid}", json={"status": "qualified", "industry": "Tea"})
    assert r.status_code == 200
    note = await log(team, lead, "lead", subject="Logged by hand")

    await derive(team.team_id)
    first = await timeline(team, "leads", rid)
    await derive(team.team_id)  # the same events again: nothing new
    again = await timeline(team, "leads", rid)
    assert again == first
    entries = first["data"]
    assert [e["type"] for e in entries] == [
        "note",
        "status_change",
        "field_update",
        "status_change",
        "system",
    ]
    assert entries[0]["id"] == note["id"]
    created = entries[-1]
    assert created["subject"] == "Lead created" and created["metadata"]["action"] == "created"
    assert created["member_id"] == team.member_id and created["source_event_id"]
    assert entries[3]["metadata"] | {} == {
        "field": "status",
        "old": "new",
        "new": "contacted",
        "action": "updated",
        "other_fields": [],
    }
    assert entries[2]["metadata"]["fields"] == ["phone", "title"]
    assert entries[2]["metadata"]["changes"]["title"] == {"old": None, "new": "CTO"}
    assert entries[1]["metadata"]["field"] == "status"
    assert entries[1]["metadata"]["other_fields"] == ["industry"]
    # One entry per event, keyed by the event id.
    rows = await sql(
        "SELECT source_event_id, count(*) AS n FROM app.activities "
        "WHERE related_to_id = :r AND source_event_id IS NOT NULL GROUP BY 1",
        team=team.team_id,
        r=rid,
    )
    assert len(rows) == 4 and all(r["n"] == 1 for r in rows)
    # Derived entries are read-only through the API.
    assert_problem(
        await team.patch(f"/api/v1/activities/{created['id']}", json={"subject": "x"}), 403
    )
    assert_problem(await team.delete(f"/api/v1/activities/{created['id']}"), 403)


async def test_deletes_merges_and_conversions_are_system_entries(team: Team) -> None:
    a = await new_lead(team, company_name=uniq("Co "))
    b = await new_lead(team)
    r = await team.post(f"/api/v1/leads/{a['id']}/merge", json={"other_id": b["id"]})
    assert r.status_code == 200, r.text
    r = await team.post(f"/api/v1/leads/{a['id']}/convert", json={})
    assert r.status_code == 201, r.text
    contact_id = r.json()["contact"]["id"]
    assert (await team.delete(f"/api/v1/contacts/{contact_id}")).status_code == 204
    await derive(team.team_id)
    entries = (await timeline(team, "leads", a["id"]))["data"]
    by_action = {e["metadata"].get("action"): e["type"] for e in entries}
    assert by_action["converted"] == "system" and by_action["merged"] == "system"
    rows = await sql(
        "SELECT type, metadata->>'action' AS action FROM app.activities "
        "WHERE related_to_id = :c AND source_event_id IS NOT NULL ORDER BY occurred_at",
        team=team.team_id,
        c=contact_id,
    )
    assert [(r["type"], r["action"]) for r in rows][-1] == ("system", "deleted")
    # The deleted contact has no timeline any more.
    assert_problem(await team.get(f"/api/v1/contacts/{contact_id}/timeline"), 404)


async def test_the_consumer_runs_in_the_dispatcher(team: Team, worker_engine: AsyncEngine) -> None:
    """The handler inside the real worker loop (a consumer of this team's events only, starting
    now, so it does not replay the whole test database first)."""
    mine = Consumer(
        uniq("timeline-test-"),
        handle,
        filter=lambda e: e.team_id == team.team_id and accepts(e),
        start_from="now",
    )
    async with running([mine], worker_engine, batch_size=500) as task:
        await eventually(
            lambda: cursor_of(worker_engine, mine.name), task=task, what="consumer cursor"
        )
        lead = await new_lead(team)
        await team.patch(f"/api/v1/leads/{lead['id']}", json={"status": "contacted"})

        async def shown() -> bool:
            data = (await timeline(team, "leads", lead["id"]))["data"]
            return [e["type"] for e in data] == ["status_change", "system"]

        await eventually(shown, task=task, what="derived entries", within=60)


async def test_filters_grouping_and_pages(team: Team, mate: Team) -> None:
    lead = await new_lead(team)
    base = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    made = []
    for i, (kind, who) in enumerate(
        [("call", team), ("note", mate), ("email", team), ("call", mate), ("meeting", team)]
    ):
        meta = {"starts_at": base.isoformat()} if kind == "meeting" else {}
        made.append(
            await log(
                who,
                lead,
                "lead",
                type=kind,
                subject=f"{kind} {i}",
                occurred_at=(base + timedelta(days=i // 2, hours=i)).isoformat(),
                metadata=meta,
            )
        )
    ids = [a["id"] for a in reversed(made)]
    full = await timeline(team, "leads", lead["id"])
    assert [a["id"] for a in full["data"]] == ids and not full["has_more"]
    calls = await timeline(team, "leads", lead["id"], type="call")
    assert [a["id"] for a in calls["data"]] == [made[3]["id"], made[0]["id"]]
    two = await timeline(team, "leads", lead["id"], type="call,note")
    assert len(two["data"]) == 3
    by_mate = await timeline(team, "leads", lead["id"], member_id=mate.member_id)
    assert {a["id"] for a in by_mate["data"]} == {made[1]["id"], made[3]["id"]}
    day = await timeline(team, "leads", lead["id"], **{"from": "2026-03-11", "to": "2026-03-11"})
    assert {a["id"] for a in day["data"]} == {made[2]["id"], made[3]["id"]}
    since = await timeline(team, "leads", lead["id"], **{"from": "2026-03-12T00:00:00Z"})
    assert [a["id"] for a in since["data"]] == [made[4]["id"]]
    # Pages: newest first, no repeats, no gaps.
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = await timeline(team, "leads", lead["id"], **params)
        seen += [a["id"] for a in page["data"]]
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    assert seen == ids
    grouped = await timeline(team, "leads", lead["id"], group_by="day")
    assert [(g["key"], g["count"]) for g in grouped["groups"]] == [
        ("2026-03-12", 1),
        ("2026-03-11", 2),
        ("2026-03-10", 2),
    ]
    by_type = await timeline(team, "leads", lead["id"], group_by="type")
    assert {g["key"]: g["count"] for g in by_type["groups"]} == {
        "meeting": 1,
        "call": 2,
        "email": 1,
        "note": 1,
    }
    assert [a["id"] for a in by_type["data"]] == ids


async def test_an_account_shows_its_contacts_and_deals(team: Team) -> None:
    account = await new_account(team)
    contact = await new_contact(team, account_id=account["id"])
    elsewhere = await new_contact(team)
    on_account = await log(team, account, "account", subject="account note")
    on_contact = await log(team, contact, "contact", subject="contact note")
    await log(team, elsewhere, "contact", subject="unrelated")
    r = await team.post("/api/v1/deals", json={"name": uniq("Deal "), "account_id": account["id"]})
    assert r.status_code == 201, r.text
    deal = r.json()
    on_deal = await log(team, deal, "deal", subject="deal note")
    data = (await timeline(team, "accounts", account["id"]))["data"]
    assert [a["id"] for a in data] == [on_deal["id"], on_contact["id"], on_account["id"]]
    only = await timeline(team, "accounts", account["id"], related_to_type="contact")
    assert [a["id"] for a in only["data"]] == [on_contact["id"]]
    one = await timeline(team, "accounts", account["id"], related_to_id=deal["id"])
    assert [a["id"] for a in one["data"]] == [on_deal["id"]]
    assert [a["id"] for a in (await timeline(team, "deals", deal["id"]))["data"]] == [on_deal["id"]]
    # Derived entries of the contact and the deal show on the account too.
    await derive(team.team_id)
    derived = await timeline(team, "accounts", account["id"], type="system")
    subjects = {(a["related_to_type"], a["subject"]) for a in derived["data"]}
    assert {("account", "Account created"), ("contact", "Contact created")} <= subjects
    assert ("deal", "Deal created") in subjects
    assert elsewhere["id"] not in {a["related_to_id"] for a in derived["data"]}


async def test_timeline_errors_are_problems(team: Team, other_team: Team) -> None:
    lead = await new_lead(team)
    url = f"/api/v1/leads/{lead['id']}/timeline"
    for params in (
        {"type": "bogus"},
        {"type": ""},
        {"from": "yesterday"},
        {"to": "2026-13-45"},
        {"group_by": "week"},
        {"limit": "0"},
        {"limit": "x"},
        {"cursor": "!!!"},
        {"cursor": "WyJub3QgYSBkYXRlIiwgMV0"},
        {"colour": "red"},
        {"member_id": "a\x00b"},
    ):
        assert_problem(await team.get(url, params=params), 400)
    for plural in ("leads", "contacts", "accounts", "deals", "tasks"):
        for rid in ("nope", f"{plural[:4]}_01JD5Z0000000000000000000A", "'; select 1; --"):
            assert_problem(await team.get(f"/api/v1/{plural}/{rid}/timeline"), 404)
    assert_problem(await other_team.get(url), 404)
    # An empty timeline of a live record is fine.
    fresh = await new_lead(team)
    assert (await timeline(team, "leads", fresh["id"]))["data"] == []


async def test_entries_have_stable_order_for_equal_times(team: Team) -> None:
    lead = await new_lead(team)
    at = "2026-05-01T09:00:00Z"
    made = await asyncio.gather(
        *[log(team, lead, "lead", subject=f"same {i}", occurred_at=at) for i in range(4)]
    )
    want = sorted((a["id"] for a in made), reverse=True)
    got = []
    cursor = None
    for _ in range(4):
        params = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        page = await timeline(team, "leads", lead["id"], **params)
        got += [a["id"] for a in page["data"]]
        cursor = page["next_cursor"]
    assert got == want


async def test_a_records_tasks_show_on_its_timeline(team: Team) -> None:
    lead = await new_lead(team)
    r = await team.post(
        "/api/v1/tasks",
        json={"title": uniq("Call back "), "related_to_type": "lead", "related_to_id": lead["id"]},
    )
    assert r.status_code == 201, r.text
    task = r.json()
    on_task = await log(team, task, "task", subject="note on the task")
    r = await team.patch(f"/api/v1/tasks/{task['id']}", json={"status": "completed"})
    assert r.status_code == 200, r.text
    await derive(team.team_id)
    own = (await timeline(team, "tasks", task["id"]))["data"]
    assert on_task["id"] in {a["id"] for a in own}
    assert "status_change" in {a["type"] for a in own} and "system" in {a["type"] for a in own}
    on_lead = (await timeline(team, "leads", lead["id"], related_to_type="task"))["data"]
    assert {a["id"] for a in on_lead} == {a["id"] for a in own}
    done = next(a for a in on_lead if a["type"] == "status_change")
    assert done["metadata"]["new"] == "completed"
