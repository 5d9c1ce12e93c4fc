"""Dependencies: the three types block the matching transitions (409 naming the blocker), cycles
are 422, bulk complete respects them too."""

from __future__ import annotations

from tests.api.tasks.conftest import Sql, assert_problem, depend, new_task
from tests.conftest import Team


async def dep(team: Team, task_id: str, on: str, type_: str = "finish_to_start") -> dict:
    r = await depend(team, task_id, on, type_)
    assert r.status_code == 201, r.text
    return r.json()


async def status(team: Team, task_id: str, value: str) -> object:
    return await team.patch(f"/api/v1/tasks/{task_id}", json={"status": value})


async def test_finish_to_start_blocks_start_and_completion(team: Team, sql: Sql) -> None:
    a, b = await new_task(team, title="A"), await new_task(team, title="B")
    d = await dep(team, b["id"], a["id"])
    assert d["type"] == "finish_to_start" and d["task_id"] == b["id"]
    for target in ("in_progress", "completed"):
        p = assert_problem(await status(team, b["id"], target), 409)
        assert p["blocking_task_id"] == a["id"] and a["id"] in p["detail"]
    assert (await team.get(f"/api/v1/tasks/{b['id']}")).json()["version"] == 1
    # waiting is not a start.
    assert (await status(team, b["id"], "waiting")).status_code == 200
    assert (await status(team, a["id"], "completed")).status_code == 200
    assert (await status(team, b["id"], "in_progress")).status_code == 200
    listed = (await team.get(f"/api/v1/tasks/{a['id']}/dependencies")).json()
    assert [x["id"] for x in listed["blocks"]] == [d["id"]] and listed["depends_on"] == []
    evts = await sql.events(d["id"])
    assert [(e["object_type"], e["action"]) for e in evts] == [("task_dependency", "created")]


async def test_start_to_start_and_finish_to_finish(team: Team) -> None:
    a, b = await new_task(team, title="A"), await new_task(team, title="B")
    await dep(team, b["id"], a["id"], "start_to_start")
    p = assert_problem(await status(team, b["id"], "in_progress"), 409)
    assert p["blocking_task_id"] == a["id"]
    assert (await status(team, a["id"], "in_progress")).status_code == 200
    assert (await status(team, b["id"], "in_progress")).status_code == 200

    c, d = await new_task(team, title="C"), await new_task(team, title="D")
    await dep(team, d["id"], c["id"], "finish_to_finish")
    assert (await status(team, d["id"], "in_progress")).status_code == 200  # may start
    p = assert_problem(await status(team, d["id"], "completed"), 409)
    assert p["blocking_task_id"] == c["id"]
    r = await team.post(
        "/api/v1/tasks/bulk", json={"action": "complete", "ids": [c["id"], d["id"]]}
    )
    # Bulk applies in order: c completes first, then d may.
    assert r.status_code == 200, r.text
    assert [x["status"] for x in r.json()["results"]] == [200, 200]


async def test_cycles_and_bad_dependencies(team: Team, other_team: Team) -> None:
    a, b, c = [await new_task(team, title=t) for t in "ABC"]
    await dep(team, b["id"], a["id"])
    await dep(team, c["id"], b["id"])
    p = assert_problem(await depend(team, a["id"], c["id"]), 422)
    assert "cycle" in p["detail"]
    assert_problem(await depend(team, a["id"], a["id"]), 422)
    # Twice the same pair: 409; a bad type or a missing field: 422.
    assert_problem(await depend(team, b["id"], a["id"]), 409)
    for body in ({"depends_on_task_id": a["id"], "type": "sideways"}, {}):
        assert_problem(await team.post(f"/api/v1/tasks/{c['id']}/dependencies", json=body), 422)
    # Another team's task is not there.
    foreign = await new_task(other_team)
    assert_problem(await depend(team, a["id"], foreign["id"]), 422)
    assert_problem(await depend(other_team, a["id"], foreign["id"]), 404)
    deps = (await team.get(f"/api/v1/tasks/{b['id']}/dependencies")).json()
    assert_problem(await other_team.get(f"/api/v1/tasks/{b['id']}/dependencies"), 404)
    dep_id = deps["depends_on"][0]["id"]
    assert_problem(await other_team.delete(f"/api/v1/tasks/{b['id']}/dependencies/{dep_id}"), 404)
    assert (await team.delete(f"/api/v1/tasks/{b['id']}/dependencies/{dep_id}")).status_code == 204
    assert_problem(await team.delete(f"/api/v1/tasks/{b['id']}/dependencies/{dep_id}"), 404)
    # Removed: B may start now.
    assert (await status(team, b["id"], "in_progress")).status_code == 200
