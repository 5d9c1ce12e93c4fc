"""The notification center: lists by status, unread count, read/unread/archive/snooze, tenant
isolation and bad input. Notifications come from real lead assignments through the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.api.notifications.conftest import (
    add_member,
    clock_moved,
    notifications_of,
    wait_for_notification,
)
from tests.conftest import Team, assert_problem, make_team

pytestmark = pytest.mark.usefixtures("notification_worker")


async def assign_leads(owner: Team, member: Team, n: int) -> list[str]:
    ids = []
    for i in range(n):
        r = await owner.post(
            "/api/v1/leads",
            json={"first_name": f"Ada{i}", "last_name": "Lovelace", "owner_id": member.member_id},
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return ids


@pytest.fixture(scope="module")
async def crew(http: Any, notification_worker: Any) -> dict[str, Any]:
    owner = await make_team(http)
    rep = await add_member(owner, name="Grace Hopper")
    lead_ids = await assign_leads(owner, rep, 4)
    for lid in lead_ids:
        await wait_for_notification(rep, lambda n, lid=lid: n["related_to_id"] == lid)
    return {"owner": owner, "rep": rep, "lead_ids": lead_ids}


async def test_lead_assignment_notifies_the_new_owner(crew: dict[str, Any]) -> None:
    rep, owner = crew["rep"], crew["owner"]
    items = await notifications_of(rep)
    lead_id = crew["lead_ids"][0]
    n = next(x for x in items if x["related_to_id"] == lead_id)
    assert n["id"].startswith("ntf_")
    assert n["type"] == "lead_assigned"
    assert n["related_to_type"] == "lead"
    assert n["action_url"] == f"/leads/{lead_id}"
    assert n["status"] == "unread" and n["read_at"] is None
    assert n["actor_id"] == owner.member_id
    assert "Ada0 Lovelace" in n["title"] and n["priority"] == "normal"
    # The actor assigned nothing to themselves: no notification for the owner.
    assert await notifications_of(owner) == []


async def test_unread_count_read_unread_archive(crew: dict[str, Any]) -> None:
    rep = crew["rep"]
    items = await notifications_of(rep, status="unread")
    assert len(items) >= 3
    r = await rep.get("/api/v1/notifications/unread-count")
    assert r.status_code == 200 and r.json() == {"count": len(items)}
    first, second = items[0]["id"], items[1]["id"]

    r = await rep.post("/api/v1/notifications/read", json={"ids": [first]})
    assert r.status_code == 200, r.text
    assert r.json() == {"updated": 1, "unread_count": len(items) - 1}
    read = await notifications_of(rep, status="read")
    assert [n["id"] for n in read] == [first] and read[0]["read_at"]

    r = await rep.post(f"/api/v1/notifications/{first}/unread")
    assert r.status_code == 200 and r.json()["status"] == "unread"
    assert (await rep.get("/api/v1/notifications/unread-count")).json()["count"] == len(items)

    r = await rep.post(f"/api/v1/notifications/{second}/archive")
    assert r.status_code == 200 and r.json()["status"] == "archived"
    archived = await notifications_of(rep, status="archived")
    assert second in [n["id"] for n in archived]
    assert second not in [n["id"] for n in await notifications_of(rep)]
    assert (await rep.get("/api/v1/notifications/unread-count")).json()["count"] == len(items) - 1


async def test_snooze_hides_until_then_and_archive_clears_it(crew: dict[str, Any]) -> None:
    rep = crew["rep"]
    items = await notifications_of(rep, status="unread")
    target = items[0]["id"]
    before = (await rep.get("/api/v1/notifications/unread-count")).json()["count"]
    until = (datetime.now(UTC) + timedelta(hours=2)).astimezone().isoformat()
    r = await rep.post(f"/api/v1/notifications/{target}/snooze", json={"until": until})
    assert r.status_code == 200, r.text
    assert r.json()["snoozed_until"]
    assert target not in [n["id"] for n in await notifications_of(rep)]
    assert (await rep.get("/api/v1/notifications/unread-count")).json()["count"] == before - 1
    # Archiving clears the snooze; status=archived lists it.
    r = await rep.post(f"/api/v1/notifications/{target}/archive")
    assert r.status_code == 200 and r.json()["snoozed_until"] is None
    assert target in [n["id"] for n in await notifications_of(rep, status="archived")]


async def test_snooze_until_is_an_instant_in_any_time_zone(crew: dict[str, Any]) -> None:
    from zoneinfo import ZoneInfo

    rep = crew["rep"]
    target = (await notifications_of(rep, status="unread"))[0]["id"]
    tokyo = (datetime.now(ZoneInfo("Asia/Tokyo")) + timedelta(hours=5)).replace(microsecond=0)
    r = await rep.post(f"/api/v1/notifications/{target}/snooze", json={"until": tokyo.isoformat()})
    assert r.status_code == 200, r.text
    assert r.json()["snoozed_until"].startswith(tokyo.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    assert datetime.fromisoformat(r.json()["snoozed_until"]) == tokyo
    hidden = [n["id"] for n in await notifications_of(rep)]
    assert target not in hidden
    # Marking it unread leaves the snooze alone.
    r = await rep.post(f"/api/v1/notifications/{target}/unread")
    assert r.status_code == 200 and r.json()["snoozed_until"] is not None


async def test_snooze_that_ended_shows_again(crew: dict[str, Any]) -> None:
    rep = crew["rep"]
    items = await notifications_of(rep, status="unread")
    target = items[-1]["id"]
    from api.notifications.center import wake_snoozed

    until = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    r = await rep.post(f"/api/v1/notifications/{target}/snooze", json={"until": until})
    assert r.status_code == 200, r.text
    assert target not in [n["id"] for n in await notifications_of(rep)]
    with clock_moved(timedelta(minutes=9)):  # not yet: hidden, and the minute job leaves it
        await wake_snoozed()
        assert target not in [n["id"] for n in await notifications_of(rep)]
    with clock_moved(timedelta(minutes=11)):
        # Shown again at once, before the minute job runs.
        assert target in [n["id"] for n in await notifications_of(rep, status="unread")]
        # The minute job wakes it: the snooze is cleared (and pushed to the member's sockets).
        assert (await wake_snoozed())["woken"] >= 1
    r = await rep.get(f"/api/v1/notifications/{target}")
    assert r.json()["snoozed_until"] is None and r.json()["status"] == "unread"


async def test_mark_all_read(http: Any, notification_worker: Any) -> None:
    owner = await make_team(http)
    rep = await add_member(owner)
    ids = await assign_leads(owner, rep, 2)
    await wait_for_notification(rep, lambda n: n["related_to_id"] == ids[-1])
    await wait_for_notification(rep, lambda n: n["related_to_id"] == ids[0])
    r = await rep.post("/api/v1/notifications/read", json={"all": True})
    assert r.status_code == 200 and r.json() == {"updated": 2, "unread_count": 0}
    assert await notifications_of(rep, status="unread") == []
    assert len(await notifications_of(rep, status="read")) == 2


async def test_cursor_pagination_and_filters(crew: dict[str, Any]) -> None:
    rep = crew["rep"]
    everything = await notifications_of(rep)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1}
        if cursor:
            params["cursor"] = cursor
        r = await rep.get("/api/v1/notifications", params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        seen += [n["id"] for n in body["data"]]
        if not body["has_more"]:
            break
        cursor = body["next_cursor"]
    assert seen == [n["id"] for n in everything]
    r = await rep.get("/api/v1/notifications", params={"filter[type]": "mention"})
    assert r.status_code == 200 and r.json()["data"] == []


async def test_other_members_and_teams_get_404(crew: dict[str, Any], http: Any) -> None:
    rep, owner = crew["rep"], crew["owner"]
    target = (await notifications_of(rep))[0]["id"]
    stranger = await make_team(http)
    for who in (owner, stranger):
        assert_problem(await who.get(f"/api/v1/notifications/{target}"), 404)
        assert_problem(await who.post(f"/api/v1/notifications/{target}/unread"), 404)
        assert_problem(await who.post(f"/api/v1/notifications/{target}/archive"), 404)
        until = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        assert_problem(
            await who.post(f"/api/v1/notifications/{target}/snooze", json={"until": until}), 404
        )
        assert_problem(await who.post("/api/v1/notifications/read", json={"ids": [target]}), 404)
        assert_problem(
            await who.post(f"/api/v1/notifications/{target}/reply", json={"text": "hi"}), 404
        )
    # Nothing changed for the owner of the notification.
    n = next(x for x in await notifications_of(rep) if x["id"] == target)
    assert n["read_at"] is None


async def test_bad_input(crew: dict[str, Any]) -> None:
    rep = crew["rep"]
    target = (await notifications_of(rep))[0]["id"]
    assert_problem(await rep.get("/api/v1/notifications", params={"status": "nope"}), 400)
    assert_problem(await rep.get("/api/v1/notifications", params={"bogus": "1"}), 400)
    assert_problem(await rep.post("/api/v1/notifications/read", json={}), 422)
    assert_problem(
        await rep.post("/api/v1/notifications/read", json={"ids": [target], "all": True}), 422
    )
    assert_problem(await rep.post("/api/v1/notifications/read", json={"ids": "x"}), 422)
    assert_problem(await rep.post("/api/v1/notifications/read", content=b"{not json"), 400)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    assert_problem(
        await rep.post(f"/api/v1/notifications/{target}/snooze", json={"until": past}), 422
    )
    assert_problem(
        await rep.post(
            f"/api/v1/notifications/{target}/snooze", json={"until": "2030-01-01T00:00:00"}
        ),
        422,
    )
    assert_problem(await rep.post(f"/api/v1/notifications/{target}/snooze", json={}), 422)
    # A lead assignment is not a mention: no quick reply.
    assert_problem(
        await rep.post(f"/api/v1/notifications/{target}/reply", json={"text": "ok"}), 409
    )
    r = await rep.http.get("/api/v1/notifications")
    assert_problem(r, 401)
