"""Reminders and overdue alerts: computed in each member's time zone across DST, fired once by
``fire_due_reminders`` as ``reminder_fired`` events, visible under /tasks/{id}/reminders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.tasks.reminders import fire_due_reminders
from leadly import clock
from tests.api.tasks.conftest import Sql, add_member, assert_problem, new_task, set_zone
from tests.conftest import Team

SET_AT = datetime(2027, 1, 1, tzinfo=UTC)


def z(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


async def reminders(team: Team, task_id: str) -> list[dict]:
    r = await team.get(f"/api/v1/tasks/{task_id}/reminders")
    assert r.status_code == 200, r.text
    return r.json()


async def set_at_new_year(sql: Sql, task_id: str) -> None:
    """The task's due date was set at SET_AT (the API records the database's time)."""
    await sql.exec("UPDATE app.tasks SET due_set_at = %s WHERE id = %s", SET_AT, task_id)


async def test_day_and_week_reminders_keep_local_time_across_dst(team: Team, sql: Sql) -> None:
    # Today is SET_AT, when the due dates were set (whether a reminder is still to come or
    # was already past then depends on it).
    with clock.frozen(SET_AT):
        ny = await add_member(team, "user")
        berlin = await add_member(team, "user")
        tokyo = await add_member(team, "user")
        await set_zone(team, ny.member_id, "America/New_York")
        await set_zone(team, berlin.member_id, "Europe/Berlin")
        await set_zone(team, tokyo.member_id, "Asia/Tokyo")
        # Due Monday 2027-03-15 13:00Z: 09:00 in New York (EDT since the 14th), 14:00 in Berlin
        # (CET until the 28th), 22:00 in Tokyo (no DST).
        t = await new_task(
            team,
            due_at="2027-03-15T13:00:00Z",
            assignee_ids=[ny.member_id, berlin.member_id, tokyo.member_id],
            reminders=["1h", "1d", "1w"],
        )
        await set_at_new_year(sql, t["id"])
        plan = {(r["member_id"], r["offset"]): r for r in await reminders(team, t["id"])}
        assert all(r["status"] == "scheduled" for r in plan.values())
        # New York: one day before (the 14th, already EDT) is 24 h earlier; a week before (the
        # 8th, still EST) is 09:00 EST = 14:00Z, one hour less than seven days.
        assert plan[(ny.member_id, "1h")]["remind_at"] == "2027-03-15T12:00:00Z"
        assert plan[(ny.member_id, "1d")]["remind_at"] == "2027-03-14T13:00:00Z"
        assert plan[(ny.member_id, "1w")]["remind_at"] == "2027-03-08T14:00:00Z"
        # Berlin and Tokyo have no change in that week: exact days.
        assert plan[(berlin.member_id, "1w")]["remind_at"] == "2027-03-08T13:00:00Z"
        assert plan[(tokyo.member_id, "1d")]["remind_at"] == "2027-03-14T13:00:00Z"
        assert plan[(tokyo.member_id, "0")]["kind"] == "overdue"
        assert plan[(tokyo.member_id, "0")]["remind_at"] == t["due_at"]

        # Berlin across its own change (2027-03-28): due Monday 29th 09:00 CEST = 07:00Z; the day
        # before at 09:00 is CEST too, the week before (22nd) is CET: 08:00Z.
        b = await new_task(
            team,
            due_at="2027-03-29T09:00:00",
            assignee_ids=[berlin.member_id],
            reminders=["1d", "1w"],
        )
        assert b["due_at"] == "2027-03-29T07:00:00Z"
        await set_at_new_year(sql, b["id"])
        bplan = {r["offset"]: r["remind_at"] for r in await reminders(team, b["id"])}
        assert bplan == {
            "1d": "2027-03-28T07:00:00Z",
            "1w": "2027-03-22T08:00:00Z",
            "0": "2027-03-29T07:00:00Z",
        }

        # Fire at the New York one-day mark: the three 1w and the NY/Berlin/Tokyo 1d ones fell due.
        fired = await fire_due_reminders(now=z("2027-03-14T13:00:00Z"), team_ids=[team.team_id])
        mine = sorted(
            (f["member_id"], f["kind"], f["remind_at"]) for f in fired if f["task_id"] == t["id"]
        )
        assert len(mine) == 6
        again = await fire_due_reminders(now=z("2027-03-14T13:00:30Z"), team_ids=[team.team_id])
        assert [f for f in again if f["task_id"] == t["id"]] == []  # each once
        evts = [e for e in await sql.events(t["id"]) if e["action"] == "reminder_fired"]
        assert len(evts) == 6
        e = next(
            e
            for e in evts
            if e["data"]["member_id"] == ny.member_id
            and e["data"]["remind_at"] == "2027-03-08T14:00:00+00:00"
        )
        assert e["object_type"] == "task" and e["changes"] == {}
        assert e["data"] == {
            "member_id": ny.member_id,
            "kind": "reminder",
            "due_at": "2027-03-15T13:00:00+00:00",
            "remind_at": "2027-03-08T14:00:00+00:00",
        }
        statuses = {
            (r["member_id"], r["offset"]): r["status"] for r in await reminders(team, t["id"])
        }
        assert (
            statuses[(ny.member_id, "1d")] == "fired"
            and statuses[(ny.member_id, "1h")] == "scheduled"
        )

        # The 1 h reminders, then overdue alerts at due time, then nothing once the task is done.
        fired = await fire_due_reminders(now=z("2027-03-15T12:00:00Z"), team_ids=[team.team_id])
        assert sorted(f["kind"] for f in fired if f["task_id"] == t["id"]) == ["reminder"] * 3
        fired = await fire_due_reminders(now=z("2027-03-15T13:00:00Z"), team_ids=[team.team_id])
        assert sorted(f["kind"] for f in fired if f["task_id"] == t["id"]) == ["overdue"] * 3
        await team.patch(f"/api/v1/tasks/{b['id']}", json={"status": "completed"})
        fired = await fire_due_reminders(now=z("2027-04-01T00:00:00Z"), team_ids=[team.team_id])
        assert [f for f in fired if f["task_id"] == b["id"]] == []


async def test_member_defaults_and_late_due_dates(team: Team) -> None:
    rep = await add_member(team, "user")
    r = await rep.get("/api/v1/task-reminder-defaults")
    assert r.json()["reminder_offsets"] == ["1h", "1d"] and r.json()["overdue_alerts"] is True
    r = await rep.request(
        "PUT",
        "/api/v1/task-reminder-defaults",
        json={"reminder_offsets": ["30m", "1w"], "overdue_alerts": False},
    )
    assert r.status_code == 200, r.text
    due = datetime.now(UTC) + timedelta(days=3)
    t = await new_task(team, due_at=due.isoformat(), assignee_ids=[rep.member_id])
    plan = await reminders(team, t["id"])
    # The one-week reminder was already past when the due date was set: skipped, never fired.
    assert {(r["offset"], r["status"]) for r in plan} == {("30m", "scheduled"), ("1w", "skipped")}
    fired = await fire_due_reminders(now=due - timedelta(minutes=29), team_ids=[team.team_id])
    assert [(f["kind"], f["member_id"]) for f in fired if f["task_id"] == t["id"]] == [
        ("reminder", rep.member_id)
    ]
    # A per-task override wins over the defaults.
    o = await new_task(team, due_at=due.isoformat(), assignee_ids=[rep.member_id], reminders=[])
    assert await reminders(team, o["id"]) == []
    for body in (
        {"reminder_offsets": ["5w"]},
        {"reminder_offsets": ["soon"]},
        {"reminder_offsets": "1h"},
        {},
    ):
        assert_problem(await rep.request("PUT", "/api/v1/task-reminder-defaults", json=body), 422)
    assert_problem(await team.post("/api/v1/tasks", json={"title": "x", "reminders": ["0h"]}), 422)


async def test_reminders_are_tenant_scoped(team: Team, other_team: Team) -> None:
    t = await new_task(team, due_at="2027-06-01T10:00:00Z")
    assert_problem(await other_team.get(f"/api/v1/tasks/{t['id']}/reminders"), 404)
    fired = await fire_due_reminders(now=z("2027-06-01T10:00:00Z"), team_ids=[other_team.team_id])
    assert [f for f in fired if f["task_id"] == t["id"]] == []
