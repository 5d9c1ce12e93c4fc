"""Webhook delivery, driven step by step: the consumer's queueing and the sender run in the
test (``pump``), and the clock is moved instead of waiting for a retry."""

from __future__ import annotations

import json
from datetime import timedelta

from api.webhooks.delivery import SCHEDULE
from tests.api.notifications.conftest import notifications_of
from tests.api.webhooks.conftest import Receiver, deliveries, later, make_webhook, pump
from tests.conftest import Team, assert_problem


async def new_lead(team: Team, **values: object) -> dict:
    r = await team.post("/api/v1/leads", json={"first_name": "Ada", **values})
    assert r.status_code == 201, r.text
    return r.json()


async def test_signed_envelope_and_delivery_log(
    team: Team, other_team: Team, receiver: Receiver
) -> None:
    hook = await make_webhook(team, receiver, "/signed", ["lead.*"])
    lead = await new_lead(team, email="ada@example.com")
    r = await team.patch(f"/api/v1/leads/{lead['id']}", json={"status": "contacted"})
    assert r.status_code == 200, r.text
    await pump(team)
    got = receiver.at("/signed")
    assert len(got) == 2 and all(g["verified"] == [True] for g in got)
    created, updated = (json.loads(g["body"]) for g in got)
    assert created["type"] == "lead.created" and updated["type"] == "lead.updated"
    assert created["id"] == got[0]["headers"]["webhook-id"]
    assert created["team_id"] == team.team_id
    assert created["data"]["object"] == "lead" and created["data"]["id"] == lead["id"]
    assert created["data"]["record"]["email"] == "ada@example.com"
    assert updated["data"]["changes"] == {"status": ["new", "contacted"]}
    assert updated["data"]["record"]["status"] == "contacted"
    log = await deliveries(team, hook["id"])
    assert [d["event_id"] for d in log] == [updated["id"], created["id"]]  # newest first
    for d in log:
        assert d["status"] == "succeeded" and d["attempt"] == 1 and d["response_code"] == 200
        assert d["duration_ms"] >= 0 and d["attempted_at"] and d["next_attempt_at"] is None
    one = (await team.get(f"/api/v1/webhook-deliveries/{log[0]['id']}")).json()
    assert one["payload"] == updated and one["attempts"][0]["response_body"] == "thanks"
    assert one["attempts"][0]["request"]["headers"]["webhook-id"] == updated["id"]
    assert_problem(await other_team.get(f"/api/v1/webhook-deliveries/{log[0]['id']}"), 404)
    assert_problem(await other_team.post(f"/api/v1/webhook-deliveries/{log[0]['id']}/retry"), 404)
    # Queued once: the consumer seeing the same events again adds nothing.
    await pump(team)
    assert len(receiver.at("/signed")) == 2


async def test_only_matching_types_and_no_rolled_back_event(team: Team, receiver: Receiver) -> None:
    from warehouse import events
    from warehouse.db import api_engine, tenant_tx

    await make_webhook(team, receiver, "/deals-only", ["deal.*"])
    await new_lead(team)
    try:
        async with tenant_tx(api_engine(), team.team_id) as conn:
            await events.append(
                conn,
                events.EventRecord(
                    team.team_id, "member", team.member_id, "deal", "deal_x", "created", {}
                ),
            )
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    await pump(team)
    assert receiver.at("/deals-only") == []


async def test_retries_on_the_schedule_with_the_same_id(team: Team, receiver: Receiver) -> None:
    hook = await make_webhook(team, receiver, "/flaky/2/a", ["lead.created"])
    await new_lead(team)
    await pump(team)
    (d,) = await deliveries(team, hook["id"])
    assert d["status"] == "pending" and d["attempt"] == 1 and d["response_code"] == 503
    with later(timedelta(seconds=4)):
        await pump(team)  # not due yet
    assert len(receiver.at("/flaky/2/a")) == 1
    with later(timedelta(seconds=SCHEDULE[0])):
        await pump(team)
        (d,) = await deliveries(team, hook["id"])
        assert d["attempt"] == 2 and d["status"] == "pending"
        with later(timedelta(seconds=SCHEDULE[1])):
            await pump(team)
    got = receiver.at("/flaky/2/a")
    assert len(got) == 3 and len({g["headers"]["webhook-id"] for g in got}) == 1
    assert len({g["body"] for g in got}) == 1
    (d,) = await deliveries(team, hook["id"])
    assert d["status"] == "succeeded" and d["attempt"] == 3
    detail = (await team.get(f"/api/v1/webhook-deliveries/{d['id']}")).json()
    assert [a["status"] for a in detail["attempts"]] == ["failed", "failed", "succeeded"]
    assert detail["attempts"][0]["response_code"] == 503


async def test_a_records_updates_wait_for_its_created(team: Team, receiver: Receiver) -> None:
    await make_webhook(team, receiver, "/flaky/1/order", ["lead.*"])
    lead = await new_lead(team)
    # Sent alone, so it is the request the receiver refuses (sends of different records may go
    # in any order).
    await pump(team)
    for status in ("contacted", "qualified"):
        r = await team.patch(f"/api/v1/leads/{lead['id']}", json={"status": status})
        assert r.status_code == 200, r.text
    other = await new_lead(team, first_name="Grace")
    await pump(team)
    # The created failed: the updates of that lead wait; another lead's event does not.
    sent = [json.loads(g["body"]) for g in receiver.at("/flaky/1/order")]
    assert [(e["type"], e["data"]["id"]) for e in sent] == [
        ("lead.created", lead["id"]),
        ("lead.created", other["id"]),
    ]
    with later(timedelta(seconds=SCHEDULE[0])):
        await pump(team)
    sent = [json.loads(g["body"]) for g in receiver.at("/flaky/1/order")]
    mine = [e for e in sent if e["data"]["id"] == lead["id"]]
    assert [e["type"] for e in mine] == [
        "lead.created",
        "lead.created",
        "lead.updated",
        "lead.updated",
    ]
    assert [e["data"]["record"]["status"] for e in mine[2:]] == ["contacted", "qualified"]


async def test_rotation_signs_with_both_secrets_for_a_day(team: Team, receiver: Receiver) -> None:
    hook = await make_webhook(team, receiver, "/rotated", ["lead.created"])
    old = hook["secret"]
    r = await team.post(f"/api/v1/webhooks/{hook['id']}/rotate-secret")
    new = r.json()["secret"]
    receiver.secrets["/rotated"] = [old, new]
    await new_lead(team)
    await pump(team)
    assert receiver.at("/rotated")[-1]["verified"] == [True, True]
    with later(timedelta(hours=24, minutes=1)):
        await new_lead(team)
        await pump(team)
    assert receiver.at("/rotated")[-1]["verified"] == [False, True]
    assert len(receiver.at("/rotated")[-1]["headers"]["webhook-signature"].split(" ")) == 1


async def test_failed_after_eight_attempts_then_retry_and_replay(
    team: Team, receiver: Receiver
) -> None:
    hook = await make_webhook(team, receiver, "/fail/eight", ["lead.created"])
    await new_lead(team)
    await pump(team)
    moved = timedelta(0)
    for wait in SCHEDULE:
        moved += timedelta(seconds=wait)
        with later(moved):
            await pump(team)
    (d,) = await deliveries(team, hook["id"])
    assert d["status"] == "failed" and d["attempt"] == 8 and d["next_attempt_at"] is None
    assert len(receiver.at("/fail/eight")) == 8
    detail = (await team.get(f"/api/v1/webhook-deliveries/{d['id']}")).json()
    assert len(detail["attempts"][0]["response_body"]) == 2048  # truncated
    r = await team.post(f"/api/v1/webhook-deliveries/{d['id']}/retry")
    assert r.status_code == 200 and r.json()["status"] == "pending", r.text
    with later(moved):
        await pump(team)
    (d,) = await deliveries(team, hook["id"])
    assert d["status"] == "failed" and d["attempt"] == 9
    # Replay: every failed one since a time, after the endpoint is fixed.
    r = await team.patch(f"/api/v1/webhooks/{hook['id']}", json={"url": receiver.base + "/fixed"})
    assert r.status_code == 200, r.text
    r = await team.post(
        f"/api/v1/webhooks/{hook['id']}/replay", json={"since": "2000-01-01T00:00:00Z"}
    )
    assert r.status_code == 200 and r.json() == {"replayed": 1}, r.text
    with later(moved):
        await pump(team)
    assert len(receiver.at("/fixed")) == 1
    (d,) = await deliveries(team, hook["id"])
    assert d["status"] == "succeeded"
    r = await team.post(f"/api/v1/webhooks/{hook['id']}/replay", json={"since": "2000-01-01"})
    assert_problem(r, 422)


async def test_disabled_after_five_days_of_failure(team: Team, receiver: Receiver) -> None:
    hook = await make_webhook(team, receiver, "/fail/days", ["lead.created"])
    await new_lead(team)
    await pump(team)
    with later(timedelta(days=5, seconds=SCHEDULE[0])):
        await pump(team)
        r = await team.get(f"/api/v1/webhooks/{hook['id']}")
        assert r.json()["enabled"] is False and "5 days" in r.json()["disabled_reason"]
        await new_lead(team)
        await pump(team)  # a disabled endpoint gets nothing
    assert len(receiver.at("/fail/days")) == 2
    notes = await notifications_of(team)
    assert any(n["type"] == "system" and n["related_to_id"] == hook["id"] for n in notes), notes
    r = await team.patch(f"/api/v1/webhooks/{hook['id']}", json={"enabled": True})
    assert r.json()["enabled"] is True and r.json()["failing_since"] is None


async def test_the_guard_refuses_at_send_time(
    team: Team, receiver: Receiver, guarded: None
) -> None:
    hook = await make_webhook_unguarded(team, receiver, "/private")
    await new_lead(team)
    await pump(team)
    assert receiver.at("/private") == []
    (d,) = await deliveries(team, hook)
    detail = (await team.get(f"/api/v1/webhook-deliveries/{d['id']}")).json()
    assert detail["attempts"][0]["error"].startswith("refused:"), detail
    assert detail["attempts"][0]["response_code"] is None


async def make_webhook_unguarded(team: Team, receiver: Receiver, path: str) -> str:
    """An endpoint saved while the guard was lifted (or whose name resolves elsewhere now)."""
    import os

    from leadly.settings import get_settings

    os.environ["LEADLY_ALLOW_PRIVATE_TARGETS"] = "true"
    get_settings.cache_clear()
    try:
        made = await make_webhook(team, receiver, path, ["lead.created"])
    finally:
        os.environ["LEADLY_ALLOW_PRIVATE_TARGETS"] = "false"
        get_settings.cache_clear()
    return made["id"]


async def test_redirects_are_not_followed(team: Team, receiver: Receiver) -> None:
    hook = await make_webhook(team, receiver, "/redirect/x", ["lead.created"])
    await new_lead(team)
    await pump(team)
    (d,) = await deliveries(team, hook["id"])
    assert d["response_code"] == 302 and d["status"] == "pending"
    assert all(not r["path"].startswith("/internal") for r in receiver.requests)


async def test_the_hourly_check_disables_endpoints_failing_for_five_days(
    team: Team, receiver: Receiver
) -> None:
    from api.webhooks.delivery import disable_failing

    hook = await make_webhook(team, receiver, "/fail/hourly", ["lead.created"])
    await new_lead(team)
    await pump(team)
    assert await disable_failing() == 0
    with later(timedelta(days=5, seconds=1)):
        assert await disable_failing() >= 1
        assert await disable_failing() == 0  # once
    r = await team.get(f"/api/v1/webhooks/{hook['id']}")
    assert r.json()["enabled"] is False


async def test_order_per_record_under_concurrent_updates(team: Team, receiver: Receiver) -> None:
    import asyncio

    await make_webhook(team, receiver, "/flaky/3/concurrent", ["lead.*"])
    leads = [await new_lead(team, first_name=f"N{i}") for i in range(3)]

    async def touch(lead: dict, n: int) -> None:
        r = await team.patch(f"/api/v1/leads/{lead['id']}", json={"title": f"T{n}"})
        assert r.status_code == 200, r.text

    await asyncio.gather(*(touch(lead, n) for lead in leads for n in range(6)))
    moved = timedelta(0)
    await pump(team)
    for wait in SCHEDULE[:3]:
        moved += timedelta(seconds=wait)
        with later(moved):
            await pump(team)
    sent = [json.loads(g["body"]) for g in receiver.at("/flaky/3/concurrent")]
    for lead in leads:
        mine = [e for e in sent if e["data"]["id"] == lead["id"]]
        firsts = list(dict.fromkeys(e["id"] for e in mine))  # first arrival of each event
        numbers = [int(i.removeprefix("evt_")) for i in firsts]
        assert numbers == sorted(numbers) and len(numbers) == 7, firsts
        assert mine[0]["type"] == "lead.created"
        last = next(e for e in reversed(mine) if e["id"] == firsts[-1])
        current = (await team.get(f"/api/v1/leads/{lead['id']}")).json()
        assert last["data"]["record"]["title"] == current["title"]
