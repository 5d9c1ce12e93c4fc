"""Another team's task ids are 404 on every endpoint; bad input is a 4xx problem (never 500)
and writes nothing."""

from __future__ import annotations

import pytest

from tests.api.tasks.conftest import Sql, assert_problem, new_task
from tests.conftest import Team


async def test_every_endpoint_is_tenant_scoped(team: Team, other_team: Team, sql: Sql) -> None:
    t = await new_task(team, due_at="2027-01-01T09:00:00Z", recurrence_rule="FREQ=DAILY")
    other = await new_task(other_team)
    u = f"/api/v1/tasks/{t['id']}"
    before = (await sql.count("tasks", team.team_id), len(await sql.team_events(team.team_id)))
    calls = [
        other_team.get(u),
        other_team.get(u, params={"as_of": "2100-01-01T00:00:00Z"}),
        other_team.get(f"{u}/history"),
        other_team.patch(u, json={"title": "x"}),
        other_team.delete(u),
        other_team.post(f"{u}/restore"),
        other_team.get(f"{u}/dependencies"),
        other_team.post(f"{u}/dependencies", json={"depends_on_task_id": other["id"]}),
        other_team.delete(f"{u}/dependencies/tdep_x"),
        other_team.post(f"{u}/timer/start"),
        other_team.post(f"{u}/timer/stop"),
        other_team.get(f"{u}/time-logs"),
        other_team.get(f"{u}/time-summary"),
        other_team.get(f"{u}/reminders"),
        other_team.get(f"{u}/occurrences"),
        other_team.post(f"{u}/split-series", json={"title": "x"}),
    ]
    for call in calls:
        assert_problem(await call, 404)
    r = await other_team.get("/api/v1/tasks", params={"filter[id]": t["id"]})
    assert r.json()["data"] == []
    r = await other_team.post(
        "/api/v1/tasks/batch", json={"items": [{"id": t["id"], "title": "x"}]}
    )
    assert [x["status"] for x in r.json()["results"]] == [404]
    # References into another team are refused too.
    for body in (
        {"parent_task_id": t["id"]},
        {"assignee_ids": [team.member_id]},
        {"related_to_type": "task", "related_to_id": t["id"]},
    ):
        assert_problem(await other_team.post("/api/v1/tasks", json={"title": "x", **body}), 422)
    after = (await sql.count("tasks", team.team_id), len(await sql.team_events(team.team_id)))
    assert after == before


BAD_CREATES = [
    {},
    {"title": ""},
    {"title": "   "},
    {"title": "x", "status": "done"},
    {"title": "x", "priority": "asap"},
    {"title": "x", "due_at": "next week"},
    {"title": "x", "due_at": 5},
    {"title": "x", "due_at": "9999-12-31T20:00:00-05:00"},  # year 10000 in UTC
    {"title": "x", "due_at": "0001-01-01T05:00:00+06:00"},  # year 0 in UTC
    {"title": "x", "due_at": "9999-12-31T23:59:59Z"},
    {"title": "x", "assignee_ids": "mem_1"},
    {"title": "x", "assignee_ids": ["mem_01JAAAAAAAAAAAAAAAAAAAAAAA"]},
    {"title": "x", "related_to_type": "lead"},
    {"title": "x", "related_to_type": "planet", "related_to_id": "lead_01JAAAAAAAAAAAAAAAAAAAAAAA"},
    {"title": "x", "related_to_type": "lead", "related_to_id": "lead_01JAAAAAAAAAAAAAAAAAAAAAAA"},
    {"title": "x", "related_to_type": "Robert'); DROP TABLE x;--", "related_to_id": "a"},
    {"title": "x", "parent_task_id": "task_01JAAAAAAAAAAAAAAAAAAAAAAA"},
    {"title": "x", "estimated_hours": -1},
    {"title": "x", "estimated_hours": "2"},
    {"title": "x", "tags": ["a,b"]},
    {"title": "x", "reminders": ["1y"]},
    {"title": "x", "unknown": 1},
    {"title": "x\u0000y"},
    {"title": "x", "actual_hours": 3},
]


@pytest.mark.parametrize("body", BAD_CREATES, ids=[str(i) for i in range(len(BAD_CREATES))])
async def test_bad_creates_are_422(team: Team, sql: Sql, body: dict) -> None:
    before = await sql.count("tasks", team.team_id)
    r = await team.post("/api/v1/tasks", json=body)
    assert r.status_code in (400, 422), r.text
    assert_problem(r, r.status_code)
    assert await sql.count("tasks", team.team_id) == before


async def test_bad_updates(team: Team, sql: Sql) -> None:
    parent = await new_task(team)
    child = await new_task(team, parent_task_id=parent["id"])
    u = f"/api/v1/tasks/{parent['id']}"
    for body in (
        {"parent_task_id": child["id"]},  # a cycle of parents
        {"parent_task_id": parent["id"]},
        {"status": None},
        {"priority_rank": 1},
        {"series_id": "x"},
        {"started_at": "2027-01-01T00:00:00Z"},
    ):
        r = await team.patch(u, json=body)
        assert r.status_code == 422, (body, r.text)
    assert_problem(await team.patch(u, json={"title": "x"}, headers={"If-Match": '"7"'}), 412)
    assert_problem(await team.get("/api/v1/tasks", params={"filter[nope]": "1"}), 400)
    assert_problem(await team.get("/api/v1/tasks", params={"sort": "assignee_ids"}), 400)
    assert_problem(await team.get(f"{u}/occurrences", params={"limit": "0"}), 400)
    assert (await team.get(u)).json()["version"] == 1
    # Deleting the parent deletes its subtasks; restoring brings back the parent.
    assert (await team.delete(u)).status_code == 204
    assert_problem(await team.get(f"/api/v1/tasks/{child['id']}"), 404)
    assert (await team.post(f"{u}/restore")).status_code == 200
    assert (await team.get(f"/api/v1/tasks/{child['id']}")).status_code == 200
