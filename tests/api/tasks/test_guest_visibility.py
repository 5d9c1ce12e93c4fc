"""Issue 22: a guest sees only the tasks assigned to them — and history, ``as_of``, timelines,
activity lists and search follow the same rule (they were a way around the record read)."""

from __future__ import annotations

from typing import Any

from tests.api.auth.conftest import add_member
from tests.conftest import Team, assert_problem


async def _task(owner: Team, **body: Any) -> dict[str, Any]:
    r = await owner.post("/api/v1/tasks", json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def test_guests_read_no_unassigned_task_through_any_path(team: Team) -> None:
    guest = await add_member(team, "guest")
    r = await team.post("/api/v1/leads", json={"first_name": "Guest", "last_name": "Lead"})
    lead = r.json()
    hidden = await _task(
        team, title="Hidden salary review", related_to_type="lead", related_to_id=lead["id"]
    )
    mine = await _task(
        team,
        title="Guest follow-up",
        assignee_ids=[guest.member_id],
        related_to_type="lead",
        related_to_id=lead["id"],
    )
    r = await team.patch(
        f"/api/v1/tasks/{hidden['id']}",
        json={"description": "Confidential: the numbers"},
        headers={"If-Match": f'"{hidden["version"]}"'},
    )
    assert r.status_code == 200, r.text
    for task, subject in ((hidden, "Confidential note"), (mine, "Guest note")):
        r = await team.post(
            "/api/v1/activities",
            json={
                "type": "note",
                "related_to_type": "task",
                "related_to_id": task["id"],
                "subject": subject,
            },
        )
        assert r.status_code == 201, r.text

    base = f"/api/v1/tasks/{hidden['id']}"
    for path in (
        base,
        f"{base}?as_of=2030-01-01T00:00:00Z",
        f"{base}/history",
        f"{base}/timeline",
    ):
        assert_problem(await guest.get(path), 404)
    r = await guest.get(f"/api/v1/activities?filter[related_to_id]={hidden['id']}")
    assert r.status_code == 200 and r.json()["data"] == [], r.text
    r = await guest.get("/api/v1/search/activities?q=Confidential")
    assert r.status_code == 200, r.text
    assert all(h["activity"]["related_to_id"] != hidden["id"] for h in r.json()["data"])

    # The lead's timeline shows the guest's own task, not the hidden one.
    r = await guest.get(f"/api/v1/leads/{lead['id']}/timeline?limit=100")
    assert r.status_code == 200, r.text
    related = {e.get("related_to_id") for e in r.json()["data"]}
    assert hidden["id"] not in related and mine["id"] in related

    # The guest's own task: every path answers.
    mine_base = f"/api/v1/tasks/{mine['id']}"
    for path in (mine_base, f"{mine_base}/history", f"{mine_base}/timeline"):
        assert (await guest.get(path)).status_code == 200, path
    assert (await guest.get(f"{mine_base}?as_of=2030-01-01T00:00:00Z")).status_code == 200
    # A member (user) still reads the hidden task's history.
    assert (await team.get(f"{base}/history")).status_code == 200
