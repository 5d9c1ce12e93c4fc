"""Producers: each notification type made by the dispatcher consumer from the events the real
services write (tasks, activities/mentions, deals, leads, imports, watches), once per event."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.api.notifications.conftest import (
    add_member,
    append_event,
    caught_up,
    notifications_of,
    wait_for_notification,
)
from tests.conftest import Team, assert_problem, make_team

pytestmark = pytest.mark.usefixtures("notification_worker")


@pytest.fixture(scope="module")
async def crew(http: Any, notification_worker: Any) -> dict[str, Team]:
    owner = await make_team(http)
    a = await add_member(owner, name="Alan Turing")
    b = await add_member(owner, name="Barbara Liskov")
    return {"owner": owner, "a": a, "b": b}


async def test_task_assigned_on_create_and_on_added_assignees(crew: dict[str, Team]) -> None:
    owner, a, b = crew["owner"], crew["a"], crew["b"]
    r = await owner.post(
        "/api/v1/tasks",
        json={"title": "Call back ACME", "assignee_ids": [a.member_id, owner.member_id]},
    )
    assert r.status_code == 201, r.text
    task = r.json()
    n = await wait_for_notification(a, lambda n: n["related_to_id"] == task["id"])
    assert n["type"] == "task_assigned"
    assert n["title"].endswith("Call back ACME") and n["action_url"] == f"/tasks/{task['id']}"
    r = await owner.patch(
        f"/api/v1/tasks/{task['id']}",
        json={"assignee_ids": [a.member_id, b.member_id]},
        headers={"If-Match": r.headers["ETag"]},
    )
    assert r.status_code == 200, r.text
    nb = await wait_for_notification(b, lambda n: n["related_to_id"] == task["id"])
    assert nb["type"] == "task_assigned"
    # a was already assigned: still one notification; the actor (owner) got none.
    await caught_up("notifications")
    assert len([x for x in await notifications_of(a) if x["related_to_id"] == task["id"]]) == 1
    assert [x for x in await notifications_of(owner) if x["type"] == "task_assigned"] == []


async def test_the_next_occurrence_of_a_recurring_task_is_not_a_new_assignment(
    crew: dict[str, Team],
) -> None:
    """Completing an occurrence creates the next one (and copies its subtasks) with the same
    assignees: they were told once, when the series was assigned."""
    owner, a = crew["owner"], crew["a"]
    due = datetime.now(UTC) + timedelta(days=1)
    r = await owner.post(
        "/api/v1/tasks",
        json={
            "title": "Weekly pipeline review",
            "assignee_ids": [a.member_id],
            "due_at": due.isoformat(),
            "recurrence_rule": "FREQ=WEEKLY",
        },
    )
    assert r.status_code == 201, r.text
    first = r.json()
    r = await owner.post(
        "/api/v1/tasks",
        json={
            "title": "Prepare the numbers",
            "assignee_ids": [a.member_id],
            "parent_task_id": first["id"],
        },
    )
    assert r.status_code == 201, r.text
    await wait_for_notification(a, lambda n: n["related_to_id"] == first["id"])
    r = await owner.patch(f"/api/v1/tasks/{first['id']}", json={"status": "completed"})
    assert r.status_code == 200, r.text
    nxt = r.json()["next_occurrence_id"]
    assert nxt
    # A marker assignment made after the completion arrives; the occurrence brought nothing.
    r = await owner.post("/api/v1/tasks", json={"title": "Marker", "assignee_ids": [a.member_id]})
    marker = r.json()["id"]
    await wait_for_notification(a, lambda n: n["related_to_id"] == marker)
    assigned = [
        n["related_to_id"] for n in await notifications_of(a) if n["type"] == "task_assigned"
    ]
    assert nxt not in assigned
    assert assigned.count(first["id"]) == 1
    r = await owner.get("/api/v1/tasks", params={"filter[parent_task_id]": nxt})
    (copied,) = r.json()["data"]
    assert copied["id"] not in assigned


async def test_task_reminder_and_overdue_from_fired_reminders(crew: dict[str, Team]) -> None:
    from api.tasks.reminders import fire_due_reminders

    owner, a = crew["owner"], crew["a"]
    due = datetime.now(UTC) + timedelta(hours=2)
    r = await owner.post(
        "/api/v1/tasks",
        json={
            "title": "Send the proposal",
            "assignee_ids": [a.member_id],
            "due_at": due.isoformat(),
            "reminders": ["1h"],
        },
    )
    assert r.status_code == 201, r.text
    task_id = r.json()["id"]
    kinds = set()
    for moment in (due - timedelta(hours=1), due):  # the reminder's time, then the due time
        fired = await fire_due_reminders(
            now=moment + timedelta(seconds=1), team_ids=[owner.team_id]
        )
        kinds |= {f["kind"] for f in fired if f["task_id"] == task_id}
    assert kinds == {"reminder", "overdue"}
    rem = await wait_for_notification(
        a, lambda n: n["related_to_id"] == task_id and n["type"] == "task_reminder"
    )
    over = await wait_for_notification(
        a, lambda n: n["related_to_id"] == task_id and n["type"] == "task_overdue"
    )
    assert rem["title"] == "Reminder: Send the proposal"
    assert over["priority"] == "high" and over["metadata"]["kind"] == "overdue"
    # Firing again fires nothing new and notifies nobody twice.
    await fire_due_reminders(now=due + timedelta(seconds=2), team_ids=[owner.team_id])
    await caught_up("notifications")
    mine = [n for n in await notifications_of(a) if n["related_to_id"] == task_id]
    assert sorted(n["type"] for n in mine) == ["task_assigned", "task_overdue", "task_reminder"]


async def test_mention_and_quick_reply_creates_the_comment(crew: dict[str, Team]) -> None:
    owner, a = crew["owner"], crew["a"]
    r = await owner.post("/api/v1/leads", json={"first_name": "Mention", "last_name": "Target"})
    lead_id = r.json()["id"]
    r = await owner.post(
        "/api/v1/activities",
        json={
            "type": "note",
            "related_to_type": "lead",
            "related_to_id": lead_id,
            "subject": "Notes",
        },
    )
    assert r.status_code == 201, r.text
    activity_id = r.json()["id"]
    r = await owner.post(
        f"/api/v1/activities/{activity_id}/comments",
        json={"text": f"Can you check this, @[Alan]({a.member_id})?"},
    )
    assert r.status_code == 201, r.text
    comment_id = r.json()["id"]
    n = await wait_for_notification(a, lambda n: n["type"] == "mention")
    assert n["related_to_type"] == "lead" and n["related_to_id"] == lead_id
    assert n["action_url"] == f"/leads/{lead_id}"
    assert n["metadata"]["activity_id"] == activity_id
    assert n["metadata"]["comment_id"] == comment_id
    assert "check this" in n["message"]

    r = await a.post(f"/api/v1/notifications/{n['id']}/reply", json={"text": "On it!"})
    assert r.status_code == 201, r.text
    reply = r.json()
    assert reply["parent_comment_id"] == comment_id and "On it!" in reply["text"]
    r = await a.get(f"/api/v1/activities/{activity_id}/comments")
    assert r.status_code == 200
    assert "On it!" in r.text
    assert (await a.get(f"/api/v1/notifications/{n['id']}")).json()["status"] == "read"
    assert_problem(await a.post(f"/api/v1/notifications/{n['id']}/reply", json={"text": ""}), 422)


async def test_deal_stage_change_notifies_owner_and_watchers(crew: dict[str, Team]) -> None:
    owner, a, b = crew["owner"], crew["a"], crew["b"]
    r = await owner.post("/api/v1/deals", json={"name": "Big deal", "owner_id": a.member_id})
    assert r.status_code == 201, r.text
    deal = r.json()
    r = await b.post("/api/v1/watches", json={"target_type": "deal", "target_id": deal["id"]})
    assert r.status_code == 201, r.text
    r = await owner.get(f"/api/v1/pipelines/{deal['pipeline_id']}")
    assert r.status_code == 200, r.text
    stages = [s["key"] for s in r.json()["stages"]]
    target = next(s for s in stages if s != deal["stage"])
    r = await owner.post(f"/api/v1/deals/{deal['id']}/move", json={"stage": target})
    assert r.status_code == 200, r.text
    for member in (a, b):
        n = await wait_for_notification(member, lambda n: n["related_to_id"] == deal["id"])
        assert n["type"] == "deal_stage_changed" and n["related_to_type"] == "deal"
        assert n["metadata"]["to_stage"] == target and "Big deal" in n["title"]
    assert [n for n in await notifications_of(owner) if n["type"] == "deal_stage_changed"] == []


async def test_meeting_reminder_from_event(crew: dict[str, Team]) -> None:
    owner, a = crew["owner"], crew["a"]
    starts = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    from tests.api.notifications.conftest import ulid_id

    activity_id = ulid_id("act")
    # Meeting reminders are fired by the notifications Dagster job as activity events.
    await append_event(
        owner.team_id,
        actor_type="system",
        object_type="activity",
        object_id=activity_id,
        action="reminder_fired",
        data={"kind": "meeting", "member_ids": [a.member_id], "starts_at": starts, "title": "Demo"},
    )
    n = await wait_for_notification(a, lambda n: n["related_to_id"] == activity_id)
    assert n["type"] == "meeting_reminder" and n["title"] == "Starting soon: Demo"
    assert n["metadata"]["starts_at"] == starts


async def test_watching_a_member(crew: dict[str, Team], http: Any) -> None:
    a, b = crew["a"], crew["b"]
    r = await b.post("/api/v1/watches", json={"target_type": "member", "target_id": a.member_id})
    assert r.status_code == 201, r.text
    watch = r.json()
    again = await b.post(
        "/api/v1/watches", json={"target_type": "member", "target_id": a.member_id}
    )
    assert again.status_code == 200 and again.json()["id"] == watch["id"]
    r = await a.post("/api/v1/leads", json={"first_name": "Watched", "last_name": "Lead"})
    lead_id = r.json()["id"]
    n = await wait_for_notification(b, lambda n: n["related_to_id"] == lead_id)
    assert n["type"] == "member_activity" and n["priority"] == "low"
    assert n["metadata"]["watched_member_id"] == a.member_id
    assert watch["id"] in [w["id"] for w in (await b.get("/api/v1/watches")).json()["data"]]
    # Bad input and isolation.
    stranger = await make_team(http)
    assert_problem(
        await b.post(
            "/api/v1/watches", json={"target_type": "member", "target_id": stranger.member_id}
        ),
        404,
    )
    assert_problem(
        await b.post("/api/v1/watches", json={"target_type": "planet", "target_id": "x"}), 422
    )
    assert_problem(
        await b.post("/api/v1/watches", json={"target_type": "member", "target_id": b.member_id}),
        422,
    )
    assert_problem(await b.post("/api/v1/watches", json={"target_type": "member"}), 422)
    assert_problem(await stranger.delete(f"/api/v1/watches/{watch['id']}"), 404)
    assert (await b.delete(f"/api/v1/watches/{watch['id']}")).status_code == 204
    assert_problem(await b.delete(f"/api/v1/watches/{watch['id']}"), 404)


async def test_import_completed_is_a_system_notification(crew: dict[str, Team]) -> None:
    from ingestion.runner import run_import

    a = crew["a"]
    b = crew["b"]
    csv = b"first_name,last_name,email,owner\nImp,Orted,imp@example.com," + b.email.encode() + b"\n"
    r = await a.post(
        "/api/v1/imports",
        files={"file": ("people.csv", io.BytesIO(csv), "text/csv")},
        data={"object": "leads"},
    )
    assert r.status_code in (200, 201, 202), r.text
    import_id = r.json()["id"]
    # The imports consumer is not running here: run the import as it would.
    await run_import(a.team_id, import_id)
    n = await wait_for_notification(a, lambda n: n["related_to_id"] == import_id)
    assert n["type"] == "system" and n["metadata"]["kind"] == "import_completed"
    assert n["title"] == "Import of people.csv completed" and "1 imported" in n["message"]
    # The imported lead is b's: no per-row lead_assigned (the import sums it up).
    r = await a.get("/api/v1/leads", params={"filter[owner_id]": b.member_id})
    assert [x["email"] for x in r.json()["data"]] == ["imp@example.com"]
    await caught_up("notifications")
    assert [x for x in await notifications_of(b) if x["type"] == "lead_assigned"] == []


async def test_redelivered_event_does_not_notify_twice(crew: dict[str, Team]) -> None:
    from sqlalchemy import text

    from api.dispatcher.registry import DispatchedEvent
    from api.notifications.producers import produce
    from warehouse.db import api_engine, tenant_tx

    owner, a = crew["owner"], crew["a"]
    r = await owner.post(
        "/api/v1/leads", json={"first_name": "Twice", "last_name": "Sent", "owner_id": a.member_id}
    )
    lead_id = r.json()["id"]
    await wait_for_notification(a, lambda n: n["related_to_id"] == lead_id)
    async with tenant_tx(api_engine(), owner.team_id) as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT id, team_id, txid::text AS txid, occurred_at, actor_type, actor_id, "
                    "object_type, object_id, action, changes, data, request_id FROM app.events "
                    "WHERE team_id = :t AND object_id = :o AND action = 'created'"
                ),
                {"t": owner.team_id, "o": lead_id},
            )
        ).one()
    await produce(DispatchedEvent.from_row(row))  # delivered again (at-least-once)
    mine = [n for n in await notifications_of(a) if n["related_to_id"] == lead_id]
    assert len(mine) == 1
