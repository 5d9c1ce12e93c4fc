"""Task records: create/read/update through the common surface, time zones, views, events."""

from __future__ import annotations

from tests.api.tasks.conftest import Sql, add_member, assert_problem, new_task, set_zone, task
from tests.conftest import Team


async def test_create_read_update_and_events(team: Team, sql: Sql) -> None:
    lead = (await team.post("/api/v1/leads", json={"first_name": "Ada"})).json()
    t = await new_task(
        team,
        title="Send proposal",
        priority="high",
        due_at="2027-01-15T10:00:00+01:00",
        assignee_ids=[team.member_id],
        related_to_type="lead",
        related_to_id=lead["id"],
        tags=["q1", "q1", "proposal"],
        estimated_hours=2.5,
    )
    assert t["id"].startswith("task_")
    assert t["due_at"] == "2027-01-15T09:00:00Z"
    assert t["status"] == "todo" and t["priority_rank"] == 3
    assert t["tags"] == ["q1", "proposal"] and t["actual_hours"] == 0
    assert t["created_by"] == team.member_id and t["estimated_hours"] == 2.5
    got = await task(team, t["id"])
    assert got == t
    r = await team.patch(f"/api/v1/tasks/{t['id']}", json={"status": "in_progress"})
    assert r.status_code == 200, r.text
    assert r.json()["started_at"] is not None and r.json()["version"] == 2
    evts = await sql.events(t["id"])
    assert [e["action"] for e in evts] == ["created", "updated"]
    assert evts[0]["object_type"] == "task"
    assert evts[0]["changes"]["assignee_ids"] == [None, [team.member_id]]
    assert evts[1]["changes"]["status"] == ["todo", "in_progress"]


async def test_due_without_offset_is_read_in_first_assignees_zone(team: Team) -> None:
    rep = await add_member(team, "user")
    await set_zone(team, rep.member_id, "America/New_York")
    t = await new_task(team, due_at="2027-07-01T09:00:00", assignee_ids=[rep.member_id])
    assert t["due_at"] == "2027-07-01T13:00:00Z" and t["time_zone"] == "America/New_York"
    winter = await new_task(team, due_at="2027-01-04T09:00:00", assignee_ids=[rep.member_id])
    assert winter["due_at"] == "2027-01-04T14:00:00Z"
    # No assignee: the creator's zone (the owner's is UTC).
    own = await new_task(team, due_at="2027-01-04T09:00:00")
    assert own["due_at"] == "2027-01-04T09:00:00Z"


async def test_views_as_list_filters(team: Team) -> None:
    rep = await add_member(team, "user")
    mine = await new_task(team, assignee_ids=[team.member_id], priority="urgent")
    theirs = await new_task(team, assignee_ids=[rep.member_id], due_at="2020-01-01T00:00:00Z")
    both = await new_task(team, assignee_ids=[rep.member_id, team.member_id], priority="low")

    async def ids(**params: str) -> list[str]:
        r = await team.get("/api/v1/tasks", params={"limit": "100", **params})
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()["data"]]

    got = await ids(**{"filter[assignee_ids__contains]": team.member_id})
    assert set(got) == {mine["id"], both["id"]}
    assert set(await ids(**{"filter[assignee_ids__contains]": "me"})) == set(got)
    assert set(await ids(**{"filter[assignee_ids__contains]": rep.member_id})) == {
        theirs["id"],
        both["id"],
    }
    assert await ids(**{"filter[overdue]": "true"}) == [theirs["id"]]
    ranked = await ids(sort="-priority_rank")
    assert ranked.index(mine["id"]) < ranked.index(theirs["id"]) < ranked.index(both["id"])
    assert await ids(**{"filter[priority]": "urgent"}) == [mine["id"]]
    assert (await ids(sort="due_at"))[0] == theirs["id"]
    assert_problem(await team.get("/api/v1/tasks", params={"filter[overdue]": "maybe"}), 400)


async def test_guest_sees_only_assigned_tasks(team: Team) -> None:
    guest = await add_member(team, "guest")
    assigned = await new_task(team, assignee_ids=[guest.member_id])
    other = await new_task(team)
    r = await guest.get("/api/v1/tasks")
    assert [x["id"] for x in r.json()["data"]] == [assigned["id"]]
    assert (await guest.get(f"/api/v1/tasks/{assigned['id']}")).status_code == 200
    assert_problem(await guest.get(f"/api/v1/tasks/{other['id']}"), 404)
    assert_problem(await guest.patch(f"/api/v1/tasks/{assigned['id']}", json={"title": "x"}), 403)
