"""Time tracking: one running timer per member, manual logs, actual hours rolled up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.api.tasks.conftest import Sql, add_member, assert_problem, new_task
from tests.conftest import Team


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def test_one_running_timer_per_member(team: Team, sql: Sql) -> None:
    a, b = await new_task(team), await new_task(team)
    r = await team.post(f"/api/v1/tasks/{a['id']}/timer/start")
    assert r.status_code == 201, r.text
    log = r.json()
    assert log["ended_at"] is None and log["source"] == "timer"
    for t in (a, b):
        p = assert_problem(await team.post(f"/api/v1/tasks/{t['id']}/timer/start"), 409)
        assert p["running_task_id"] == a["id"]
    # Another member has their own timer.
    rep = await add_member(team, "user")
    assert (await rep.post(f"/api/v1/tasks/{b['id']}/timer/start")).status_code == 201
    assert_problem(await team.post(f"/api/v1/tasks/{b['id']}/timer/stop"), 409)
    r = await team.post(f"/api/v1/tasks/{a['id']}/timer/stop")
    assert r.status_code == 200 and r.json()["ended_at"] is not None
    assert_problem(await team.post(f"/api/v1/tasks/{a['id']}/timer/stop"), 409)
    assert (await team.post(f"/api/v1/tasks/{b['id']}/timer/start")).status_code == 201
    evts = await sql.events(log["id"])
    assert [(e["object_type"], e["action"]) for e in evts] == [
        ("time_log", "created"),
        ("time_log", "updated"),
    ]
    assert evts[1]["changes"]["ended_at"][0] is None


async def test_manual_logs_roll_up_through_subtasks(team: Team) -> None:
    parent = await new_task(team, estimated_hours=4)
    child = await new_task(team, parent_task_id=parent["id"], estimated_hours=2)
    grandchild = await new_task(team, parent_task_id=child["id"], estimated_hours=1)
    end = datetime.now(UTC) - timedelta(hours=1)
    for t, hours in ((parent, 1), (child, 2), (grandchild, 0.5)):
        r = await team.post(
            f"/api/v1/tasks/{t['id']}/time-logs",
            json={
                "started_at": iso(end - timedelta(hours=hours)),
                "ended_at": iso(end),
                "notes": "work",
            },
        )
        assert r.status_code == 201, r.text
        assert r.json()["hours"] == hours
    got = (await team.get(f"/api/v1/tasks/{parent['id']}")).json()
    assert got["actual_hours"] == 3.5
    summary = (await team.get(f"/api/v1/tasks/{parent['id']}/time-summary")).json()
    assert summary == {
        "task_id": parent["id"],
        "estimated_hours": 4.0,
        "own_actual_hours": 1.0,
        "actual_hours": 3.5,
        "estimated_hours_total": 7.0,
        "subtask_count": 2,
    }
    listed = (await team.get("/api/v1/tasks", params={"filter[id]": child["id"]})).json()
    assert listed["data"][0]["actual_hours"] == 2.5
    logs = (await team.get(f"/api/v1/tasks/{child['id']}/time-logs")).json()
    assert [x["hours"] for x in logs] == [2.0]


async def test_bad_time_logs(team: Team, other_team: Team) -> None:
    t = await new_task(team)
    now = datetime.now(UTC)
    url = f"/api/v1/tasks/{t['id']}/time-logs"
    for body in (
        {"started_at": iso(now - timedelta(hours=1)), "ended_at": iso(now - timedelta(hours=2))},
        {"started_at": iso(now - timedelta(hours=30)), "ended_at": iso(now)},
        {"started_at": iso(now + timedelta(hours=1)), "ended_at": iso(now + timedelta(hours=2))},
        {"started_at": "yesterday", "ended_at": iso(now)},
        {"ended_at": iso(now)},
        {"started_at": iso(now - timedelta(hours=1)), "ended_at": iso(now), "extra": 1},
    ):
        assert_problem(await team.post(url, json=body), 422)
    assert (await team.get(url)).json() == []
    assert_problem(await other_team.post(f"/api/v1/tasks/{t['id']}/timer/start"), 404)
    assert_problem(await other_team.post(f"/api/v1/tasks/{t['id']}/timer/stop"), 404)
    assert_problem(
        await other_team.post(
            url, json={"started_at": iso(now - timedelta(hours=1)), "ended_at": iso(now)}
        ),
        404,
    )
    assert_problem(await other_team.get(url), 404)
    assert_problem(await other_team.get(f"/api/v1/tasks/{t['id']}/time-summary"), 404)
