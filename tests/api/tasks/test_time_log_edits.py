"""Editing and deleting time logs: intervals re-validated, running timers, If-Match, who may."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.api.tasks.conftest import Sql, add_member, assert_problem, new_task, set_zone
from tests.conftest import Team


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def hour() -> datetime:
    """A whole hour at least two hours ago (so intervals around it are in the past)."""
    return (datetime.now(UTC) - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)


async def log_time(team: Team, task_id: str, start: datetime, end: datetime) -> dict[str, Any]:
    r = await team.post(
        f"/api/v1/tasks/{task_id}/time-logs",
        json={"started_at": iso(start), "ended_at": iso(end), "notes": "first"},
    )
    assert r.status_code == 201, r.text
    return r.json()


def url(task_id: str, log_id: str) -> str:
    return f"/api/v1/tasks/{task_id}/time-logs/{log_id}"


async def test_edit_notes_and_interval(team: Team, sql: Sql) -> None:
    t = await new_task(team, estimated_hours=3)
    h = hour()
    log = await log_time(team, t["id"], h - timedelta(hours=1), h)
    r = await team.patch(url(t["id"], log["id"]), json={"notes": "call prep"})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["notes"] == "call prep" and got["hours"] == 1.0 and got["version"] == 2
    assert r.headers["etag"] == '"2"'
    r = await team.patch(
        url(t["id"], log["id"]),
        json={"started_at": iso(h - timedelta(hours=2)), "ended_at": iso(h - timedelta(hours=0.5))},
    )
    assert r.status_code == 200, r.text
    assert r.json()["hours"] == 1.5 and r.json()["version"] == 3
    assert (await team.get(f"/api/v1/tasks/{t['id']}")).json()["actual_hours"] == 1.5
    summary = (await team.get(f"/api/v1/tasks/{t['id']}/time-summary")).json()
    assert summary["actual_hours"] == 1.5 and summary["own_actual_hours"] == 1.5
    # The same values again change nothing (no new version, no event).
    r = await team.patch(url(t["id"], log["id"]), json={"notes": "call prep"})
    assert r.status_code == 200 and r.json()["version"] == 3
    evts = await sql.events(log["id"])
    assert [(e["object_type"], e["action"]) for e in evts] == [
        ("time_log", "created"),
        ("time_log", "updated"),
        ("time_log", "updated"),
    ]
    assert evts[1]["changes"] == {"notes": ["first", "call prep"]}
    assert set(evts[2]["changes"]) == {"started_at", "ended_at"}
    assert all(e["data"] == {"task_id": t["id"]} for e in evts)
    listed = (await team.get(f"/api/v1/tasks/{t['id']}/time-logs")).json()
    assert [(x["id"], x["hours"], x["notes"]) for x in listed] == [(log["id"], 1.5, "call prep")]


async def test_times_without_offset_are_in_the_loggers_zone(team: Team) -> None:
    rep = await add_member(team, "user")
    await set_zone(team, rep.member_id, "America/New_York")
    await set_zone(team, team.member_id, "Asia/Tokyo")
    t = await new_task(team)
    log = await log_time(
        rep, t["id"], datetime(2026, 1, 5, 14, tzinfo=UTC), datetime(2026, 1, 5, 15, tzinfo=UTC)
    )
    # The owner (a manager and above, in Tokyo) edits the rep's log: New York time applies.
    r = await team.patch(url(t["id"], log["id"]), json={"started_at": "2026-01-05T08:30:00"})
    assert r.status_code == 200, r.text
    assert r.json()["started_at"] == "2026-01-05T13:30:00Z" and r.json()["hours"] == 1.5


async def test_stop_a_running_timer_by_patch(team: Team, sql: Sql) -> None:
    t = await new_task(team)
    r = await team.post(f"/api/v1/tasks/{t['id']}/timer/start")
    assert r.status_code == 201, r.text
    log = r.json()
    u = url(t["id"], log["id"])
    p = assert_problem(await team.patch(u, json={"ended_at": None}), 422)
    assert [e["field"] for e in p["errors"]] == ["ended_at"]
    future = datetime.now(UTC) + timedelta(hours=1)
    p = assert_problem(await team.patch(u, json={"started_at": iso(future)}), 422)
    assert [e["field"] for e in p["errors"]] == ["started_at"]
    # Move the start back: still running.
    start = datetime.now(UTC) - timedelta(hours=2)
    r = await team.patch(u, json={"started_at": iso(start), "notes": "forgot to start"})
    assert r.status_code == 200, r.text
    assert r.json()["ended_at"] is None and 1.99 < r.json()["hours"] < 2.1
    p = assert_problem(await team.post(f"/api/v1/tasks/{t['id']}/timer/start"), 409)
    assert p["running_time_log_id"] == log["id"]
    # Stopping it at a time: it ends then, and a new timer can start.
    r = await team.patch(u, json={"ended_at": iso(start + timedelta(hours=1))})
    assert r.status_code == 200, r.text
    assert r.json()["hours"] == 1.0 and r.json()["version"] == 3
    assert_problem(await team.post(f"/api/v1/tasks/{t['id']}/timer/stop"), 409)
    assert (await team.post(f"/api/v1/tasks/{t['id']}/timer/start")).status_code == 201
    evts = await sql.events(log["id"])
    assert [e["action"] for e in evts] == ["created", "updated", "updated"]
    assert evts[2]["changes"]["ended_at"][0] is None


async def test_bad_edits_change_nothing(team: Team, sql: Sql) -> None:
    t = await new_task(team)
    h = hour()
    log = await log_time(team, t["id"], h - timedelta(hours=1), h)
    u = url(t["id"], log["id"])
    now = datetime.now(UTC)
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"ended_at": iso(h - timedelta(hours=2))}, ["ended_at"]),
        ({"started_at": iso(h + timedelta(minutes=30))}, ["started_at"]),
        ({"started_at": iso(h - timedelta(hours=25))}, ["started_at"]),
        ({"ended_at": iso(h + timedelta(hours=25))}, ["ended_at", "ended_at"]),
        ({"ended_at": iso(now + timedelta(hours=1))}, ["ended_at"]),
        ({"started_at": iso(now + timedelta(hours=1))}, ["started_at", "started_at"]),
        ({"started_at": "yesterday"}, ["started_at"]),
        ({"started_at": "0001-01-01T00:00:00+01:00"}, ["started_at"]),
        ({"notes": "x", "minutes": 5}, ["minutes"]),
        ({"task_id": t["id"]}, ["task_id"]),
        ({"notes": "a\u0000b"}, ["notes"]),
        ({}, ["$"]),
    ]
    for body, fields in cases:
        p = assert_problem(await team.patch(u, json=body), 422)
        assert sorted(e["field"] for e in p["errors"]) == sorted(fields), (body, p)
    assert_problem(await team.patch(u, content=b"[1]"), 422)
    assert_problem(await team.patch(u, content=b"{"), 400)
    row = await sql.one(
        "SELECT version, started_at, ended_at, notes FROM app.time_logs WHERE id = %s", log["id"]
    )
    assert row == {
        "version": 1,
        "started_at": h - timedelta(hours=1),
        "ended_at": h,
        "notes": "first",
    }
    assert [e["action"] for e in await sql.events(log["id"])] == ["created"]


async def test_if_match(team: Team) -> None:
    t = await new_task(team)
    h = hour()
    log = await log_time(team, t["id"], h - timedelta(hours=1), h)
    u = url(t["id"], log["id"])
    p = assert_problem(await team.patch(u, json={"notes": "x"}, headers={"If-Match": '"7"'}), 412)
    assert p["current_version"] == 1
    assert_problem(await team.patch(u, json={"notes": "x"}, headers={"If-Match": "nope"}), 400)
    r = await team.patch(u, json={"notes": "x"}, headers={"If-Match": '"1"'})
    assert r.status_code == 200 and r.headers["etag"] == '"2"'
    assert_problem(await team.patch(u, json={"notes": "y"}, headers={"If-Match": '"1"'}), 412)
    assert_problem(await team.delete(u, headers={"If-Match": '"1"'}), 412)
    assert (await team.delete(u, headers={"If-Match": '"2"'})).status_code == 204


async def test_who_may_change_a_log(team: Team, sql: Sql) -> None:
    rep, other_rep = await add_member(team, "user"), await add_member(team, "user")
    manager, guest = await add_member(team, "manager"), await add_member(team, "guest")
    t = await new_task(team, assignee_ids=[guest.member_id])
    h = hour()
    log = await log_time(rep, t["id"], h - timedelta(hours=1), h)
    u = url(t["id"], log["id"])
    assert_problem(await other_rep.patch(u, json={"notes": "mine now"}), 403)
    assert_problem(await other_rep.delete(u), 403)
    assert_problem(await guest.patch(u, json={"notes": "x"}), 403)
    assert_problem(await guest.delete(u), 403)
    r = await rep.patch(u, json={"notes": "own"})
    assert r.status_code == 200, r.text
    r = await manager.patch(u, json={"notes": "checked"})
    assert r.status_code == 200 and r.json()["member_id"] == rep.member_id
    evts = await sql.events(log["id"])
    assert [e["actor_id"] for e in evts] == [rep.member_id, rep.member_id, manager.member_id]
    log2 = await log_time(rep, t["id"], h - timedelta(hours=2), h - timedelta(hours=1))
    assert (await manager.delete(url(t["id"], log2["id"]))).status_code == 204
    assert (await rep.delete(u)).status_code == 204
    assert (await team.get(f"/api/v1/tasks/{t['id']}/time-logs")).json() == []


async def test_unknown_foreign_and_mismatched_ids(team: Team, other_team: Team, sql: Sql) -> None:
    a, b = await new_task(team), await new_task(team)
    h = hour()
    log = await log_time(team, a["id"], h - timedelta(hours=1), h)
    theirs = await new_task(other_team)
    their_log = await log_time(other_team, theirs["id"], h - timedelta(hours=1), h)
    for who, task_id, log_id in (
        (team, b["id"], log["id"]),  # another task's log
        (team, a["id"], "tlog_01JAAAAAAAAAAAAAAAAAAAAAAA"),  # unknown log
        (team, a["id"], "tlog nope"),  # not an id
        (team, "task_01JAAAAAAAAAAAAAAAAAAAAAAA", log["id"]),  # unknown task
        (team, theirs["id"], their_log["id"]),  # another team's task and log
        (team, a["id"], their_log["id"]),  # another team's log on our task
        (other_team, a["id"], log["id"]),  # our ids seen from another team
        (other_team, theirs["id"], log["id"]),
    ):
        assert_problem(await who.patch(url(task_id, log_id), json={"notes": "x"}), 404)
        assert_problem(await who.delete(url(task_id, log_id)), 404)
    rows = await sql.all(
        "SELECT id, version FROM app.time_logs WHERE id IN (%s, %s) ORDER BY id",
        log["id"],
        their_log["id"],
    )
    assert [r["version"] for r in rows] == [1, 1]


async def test_delete_drops_the_hours(team: Team, sql: Sql) -> None:
    parent = await new_task(team)
    child = await new_task(team, parent_task_id=parent["id"])
    h = hour()
    keep = await log_time(team, parent["id"], h - timedelta(hours=1), h)
    gone = await log_time(team, child["id"], h - timedelta(hours=2), h)
    summary = (await team.get(f"/api/v1/tasks/{parent['id']}/time-summary")).json()
    assert summary["actual_hours"] == 3.0
    r = await team.delete(url(child["id"], gone["id"]))
    assert r.status_code == 204 and r.content == b""
    summary = (await team.get(f"/api/v1/tasks/{parent['id']}/time-summary")).json()
    assert summary["actual_hours"] == 1.0 and summary["own_actual_hours"] == 1.0
    assert (await team.get(f"/api/v1/tasks/{parent['id']}")).json()["actual_hours"] == 1.0
    assert (await team.get(f"/api/v1/tasks/{child['id']}/time-logs")).json() == []
    assert_problem(await team.delete(url(child["id"], gone["id"])), 404)
    assert_problem(await team.patch(url(child["id"], gone["id"]), json={"notes": "x"}), 404)
    evts = await sql.events(gone["id"])
    assert [e["action"] for e in evts] == ["created", "deleted"]
    deleted = evts[1]
    assert deleted["data"] == {"task_id": child["id"]}
    assert deleted["changes"]["ended_at"] == [iso(h).replace("Z", "+00:00"), None]
    assert deleted["changes"]["member_id"] == [team.member_id, None]
    assert await sql.one("SELECT 1 FROM app.time_logs WHERE id = %s", gone["id"]) is None
    assert keep["id"] in {
        x["id"] for x in (await team.get(f"/api/v1/tasks/{parent['id']}/time-logs")).json()
    }


async def test_delete_a_running_timer(team: Team, sql: Sql) -> None:
    t = await new_task(team)
    log = (await team.post(f"/api/v1/tasks/{t['id']}/timer/start")).json()
    assert (await team.delete(url(t["id"], log["id"]))).status_code == 204
    assert_problem(await team.post(f"/api/v1/tasks/{t['id']}/timer/stop"), 409)
    assert (await team.get(f"/api/v1/tasks/{t['id']}")).json()["actual_hours"] == 0.0
    assert (await team.post(f"/api/v1/tasks/{t['id']}/timer/start")).status_code == 201
    evts = await sql.events(log["id"])
    assert [e["action"] for e in evts] == ["created", "deleted"]
    assert "ended_at" not in evts[1]["changes"]  # it was null and the row is gone
    assert evts[1]["changes"]["source"] == ["timer", None]
