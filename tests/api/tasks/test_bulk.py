"""Bulk actions: all or nothing, a result per id, up to 1,000 ids."""

from __future__ import annotations

from tests.api.tasks.conftest import (
    Sql,
    add_member,
    assert_problem,
    depend,
    new_task,
    set_zone,
    task,
)
from tests.conftest import Team


async def snapshot(sql: Sql, team: Team) -> tuple:
    rows = await sql.all(
        "SELECT id, version, deleted_at, status, due_at, assignee_ids FROM app.tasks "
        "WHERE team_id = %s ORDER BY id",
        team.team_id,
    )
    return tuple(tuple(r.values()) for r in rows), len(await sql.team_events(team.team_id))


async def test_bulk_actions(team: Team, sql: Sql) -> None:
    rep = await add_member(team, "user")
    await set_zone(team, rep.member_id, "America/New_York")
    ts = [await new_task(team, due_at="2027-03-13T14:00:00Z") for _ in range(3)]
    ids = [t["id"] for t in ts]
    r = await team.post(
        "/api/v1/tasks/bulk",
        json={"action": "assign", "ids": ids, "assignee_ids": [rep.member_id], "mode": "add"},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"results": [{"id": i, "status": 200} for i in ids]}
    got = (
        await team.get("/api/v1/tasks", params={"filter[assignee_ids__contains]": rep.member_id})
    ).json()["data"]
    assert {t["id"] for t in got} == set(ids)
    assert all(t["time_zone"] == "America/New_York" for t in got)
    evt = [e for e in await sql.events(ids[0]) if e["action"] == "updated"][-1]
    assert evt["changes"]["assignee_ids"] == [[], [rep.member_id]]
    # Shift by a day in the task's zone across the spring-forward night: 09:00 EST → 09:00 EDT.
    r = await team.post(
        "/api/v1/tasks/bulk", json={"action": "reschedule", "ids": ids, "shift_by": "P1D"}
    )
    assert r.status_code == 200, r.text
    assert (await task(team, ids[0]))["due_at"] == "2027-03-14T13:00:00Z"
    r = await team.post(
        "/api/v1/tasks/bulk", json={"action": "reschedule", "ids": ids[:1], "shift_by": "-PT2H"}
    )
    assert (await task(team, ids[0]))["due_at"] == "2027-03-14T11:00:00Z"
    r = await team.post(
        "/api/v1/tasks/bulk",
        json={"action": "reschedule", "ids": ids[1:], "due_at": "2027-04-01T09:00:00"},
    )
    assert (await task(team, ids[1]))["due_at"] == "2027-04-01T13:00:00Z"
    r = await team.post("/api/v1/tasks/bulk", json={"action": "complete", "ids": ids[:2]})
    assert r.status_code == 200 and (await task(team, ids[0]))["status"] == "completed"
    sub = await new_task(team, parent_task_id=ids[0])
    r = await team.post("/api/v1/tasks/bulk", json={"action": "delete", "ids": [*ids, sub["id"]]})
    assert r.status_code == 200, r.text
    for i in [*ids, sub["id"]]:
        assert_problem(await team.get(f"/api/v1/tasks/{i}"), 404)


async def test_one_failing_id_changes_nothing(team: Team, other_team: Team, sql: Sql) -> None:
    a, b = await new_task(team), await new_task(team)
    blocker = await new_task(team)
    assert (await depend(team, b["id"], blocker["id"])).status_code == 201
    foreign = await new_task(other_team)
    soon = await new_task(team, due_at="2027-06-01T00:00:00Z")
    late = await new_task(team, due_at="3995-06-01T00:00:00Z")
    legacy = await new_task(team, due_at="2027-06-01T00:00:00Z")
    # A due date stored before the API refused dates after 4000-12-31.
    await sql.exec(
        "UPDATE app.tasks SET due_at = '9999-12-30T00:00Z' WHERE team_id = %s AND id = %s",
        team.team_id,
        legacy["id"],
    )
    before = await snapshot(sql, team)
    cases = [
        ({"action": "delete", "ids": [a["id"], foreign["id"]]}, {foreign["id"]: 404}),
        ({"action": "complete", "ids": [a["id"], b["id"]]}, {b["id"]: 409}),
        ({"action": "delete", "ids": [a["id"], "task_nope"]}, {"task_nope": 404}),
        (
            {"action": "reschedule", "ids": [a["id"], b["id"]], "shift_by": "P1D"},
            {a["id"]: 422, b["id"]: 422},  # no due date to shift
        ),
        (  # shifted past 4000-12-31, or past year 9999
            {"action": "reschedule", "ids": [soon["id"], late["id"]], "shift_by": "P3650D"},
            {late["id"]: 422},
        ),
        ({"action": "reschedule", "ids": [legacy["id"]], "shift_by": "P3D"}, {legacy["id"]: 422}),
        (
            {
                "action": "assign",
                "ids": [a["id"]],
                "assignee_ids": ["mem_01JAAAAAAAAAAAAAAAAAAAAAAA"],
            },
            {a["id"]: 422},
        ),
    ]
    for body, failing in cases:
        r = await team.post("/api/v1/tasks/bulk", json=body)
        p = assert_problem(r, 422)
        got = {x["id"]: x["status"] for x in p["results"]}
        assert {k: v for k, v in got.items() if v >= 400} == failing, p
        if b["id"] in failing and failing[b["id"]] == 409:
            assert p["results"][1]["blocking_task_id"] == blocker["id"]
        assert await snapshot(sql, team) == before
    # The other team's bulk on our ids: every id 404, nothing changed.
    p = assert_problem(
        await other_team.post("/api/v1/tasks/bulk", json={"action": "delete", "ids": [a["id"]]}),
        422,
    )
    assert p["results"] == [
        {"id": a["id"], "status": 404, "detail": f"No task with id {a['id']!r}."}
    ]
    assert await snapshot(sql, team) == before


async def test_bad_bulk_requests(team: Team) -> None:
    t = await new_task(team, due_at="2027-01-01T00:00:00Z")
    for body in (
        {"action": "archive", "ids": [t["id"]]},
        {"action": "delete", "ids": []},
        {"action": "delete", "ids": [t["id"], t["id"]]},
        {"action": "delete", "ids": [f"task_{i}" for i in range(1001)]},
        {"action": "assign", "ids": [t["id"]]},
        {"action": "reschedule", "ids": [t["id"]]},
        {"action": "reschedule", "ids": [t["id"]], "shift_by": "P1D", "due_at": None},
        {"action": "reschedule", "ids": [t["id"]], "shift_by": "tomorrow"},
        {"action": "reschedule", "ids": [t["id"]], "shift_by": "P"},
        {"action": "complete", "ids": [t["id"]], "shift_by": "P1D"},
        {"action": "delete", "ids": "all"},
    ):
        assert_problem(await team.post("/api/v1/tasks/bulk", json=body), 422)
    # More days than a timedelta holds was a 500 (OverflowError), now "at most ten years".
    for shift in ("P99999999999W", "-P99999999999D", "PT99999999999999H"):
        body = {"action": "reschedule", "ids": [t["id"]], "shift_by": shift}
        p = assert_problem(await team.post("/api/v1/tasks/bulk", json=body), 422)
        assert p["errors"] == [{"field": "shift_by", "message": "Shift by at most ten years."}]
    assert (await task(team, t["id"]))["version"] == 1
    guest = await add_member(team, "guest")
    assert_problem(
        await guest.post("/api/v1/tasks/bulk", json={"action": "delete", "ids": [t["id"]]}), 403
    )


async def test_a_thousand_ids_in_one_call(team: Team, sql: Sql) -> None:
    n = 1000
    await sql.exec(
        """INSERT INTO app.tasks (team_id, id, title, due_at, due_set_at)
        SELECT %s, 'task_bulk' || g, 'T' || g, '2027-01-01T00:00:00Z', now()
        FROM generate_series(1, %s) g""",
        team.team_id,
        n,
    )
    ids = [f"task_bulk{g}" for g in range(1, n + 1)]
    r = await team.post("/api/v1/tasks/bulk", json={"action": "complete", "ids": ids})
    assert r.status_code == 200, r.text[:500]
    assert len(r.json()["results"]) == n
    done = await sql.one(
        "SELECT count(*) AS n FROM app.tasks WHERE team_id = %s AND status = 'completed'",
        team.team_id,
    )
    assert done is not None and done["n"] == n
