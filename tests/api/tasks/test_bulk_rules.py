"""Bulk actions apply each task's rules in the order of the ids, as single changes would."""

from __future__ import annotations

import secrets

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


async def bulk(team: Team, **body: object) -> dict:
    r = await team.post("/api/v1/tasks/bulk", json=body)
    assert r.status_code == 200, r.text
    return r.json()


async def changes(sql: Sql, team: Team, since: int) -> list[tuple[str, str, str]]:
    """(object_type, object_id, action) of the team's events after event ``since``."""
    evts = await sql.team_events(team.team_id)
    return [(e["object_type"], e["object_id"], e["action"]) for e in evts if e["id"] > since]


async def last_event(sql: Sql, team: Team) -> int:
    evts = await sql.team_events(team.team_id)
    return evts[-1]["id"] if evts else 0


async def test_complete_follows_the_order_of_the_ids(team: Team, sql: Sql) -> None:
    a, b = await new_task(team), await new_task(team)
    c, d = await new_task(team), await new_task(team)
    for waiting, on, kind in ((b, a, "finish_to_start"), (d, c, "start_to_start")):
        r = await depend(team, waiting["id"], on["id"], kind)
        assert r.status_code == 201, r.text
    # The blocker first: it is completed before the task waiting for it is checked.
    since = await last_event(sql, team)
    out = await bulk(team, action="complete", ids=[a["id"], b["id"], c["id"], d["id"]])
    assert [x["status"] for x in out["results"]] == [200, 200, 200, 200]
    assert await changes(sql, team, since) == [("task", t["id"], "updated") for t in (a, b, c, d)]
    # The waiting task first: blocked by what the call had not completed yet.
    e, f = await new_task(team), await new_task(team)
    assert (await depend(team, f["id"], e["id"])).status_code == 201
    p = assert_problem(
        await team.post(
            "/api/v1/tasks/bulk", json={"action": "complete", "ids": [f["id"], e["id"]]}
        ),
        422,
    )
    assert p["results"] == [
        {
            "id": f["id"],
            "status": 409,
            "detail": f"Task {f['id']!r} cannot be completed: it depends on {e['id']!r} "
            "(finish_to_start, which is todo).",
            "blocking_task_id": e["id"],
        },
        {"id": e["id"], "status": 200},
    ]
    assert (await task(team, e["id"]))["status"] == "todo"
    # Completing what is completed changes nothing (no new version, no event).
    since = await last_event(sql, team)
    await bulk(team, action="complete", ids=[a["id"]])
    assert (await task(team, a["id"]))["version"] == 2
    assert await changes(sql, team, since) == []


async def test_complete_creates_the_next_occurrences(team: Team, sql: Sql) -> None:
    rep = await add_member(team, "user")
    r = await new_task(
        team,
        due_at="2027-03-01T09:00:00Z",
        recurrence_rule="FREQ=WEEKLY",
        assignee_ids=[rep.member_id],
        tags=["weekly"],
    )
    sub = await new_task(team, parent_task_id=r["id"], due_at="2027-03-01T08:00:00Z")
    plain = await new_task(team)
    since = await last_event(sql, team)
    await bulk(team, action="complete", ids=[r["id"], plain["id"]])
    done = await task(team, r["id"])
    assert done["status"] == "completed" and done["next_occurrence_id"]
    nxt = await task(team, done["next_occurrence_id"])
    assert nxt["due_at"] == "2027-03-08T09:00:00Z" and nxt["status"] == "todo"
    assert nxt["assignee_ids"] == [rep.member_id] and nxt["tags"] == ["weekly"]
    copies = (await team.get("/api/v1/tasks", params={"filter[parent_task_id]": nxt["id"]})).json()[
        "data"
    ]
    assert [c["due_at"] for c in copies] == ["2027-03-08T08:00:00Z"]
    # The new occurrence and its subtask as they are created, then one update per task.
    assert await changes(sql, team, since) == [
        ("task", nxt["id"], "created"),
        ("task", copies[0]["id"], "created"),
        ("task", r["id"], "updated"),
        ("task", plain["id"], "updated"),
    ]
    evt = [e for e in await sql.events(r["id"]) if e["action"] == "updated"][-1]
    assert evt["changes"]["next_occurrence_id"] == [None, nxt["id"]]
    assert evt["changes"]["status"] == ["todo", "completed"]
    assert (await task(team, sub["id"]))["status"] == "todo"


async def test_delete_takes_live_subtasks_once(team: Team, sql: Sql) -> None:
    p = await new_task(team)
    c = await new_task(team, parent_task_id=p["id"])
    g = await new_task(team, parent_task_id=c["id"])
    other = await new_task(team)
    since = await last_event(sql, team)
    # The grandchild first (deleted on its own), then its grandparent (takes the child).
    out = await bulk(team, action="delete", ids=[g["id"], p["id"], other["id"]])
    assert [x["status"] for x in out["results"]] == [200, 200, 200]
    assert await changes(sql, team, since) == [
        ("task", t["id"], "deleted") for t in (g, p, c, other)
    ]
    for t in (p, c, g, other):
        assert_problem(await team.get(f"/api/v1/tasks/{t['id']}"), 404)
    # A subtask listed after its parent is reported done, and deleted once.
    p2 = await new_task(team)
    c2 = await new_task(team, parent_task_id=p2["id"])
    since = await last_event(sql, team)
    out = await bulk(team, action="delete", ids=[p2["id"], c2["id"]])
    assert out["results"] == [{"id": p2["id"], "status": 200}, {"id": c2["id"], "status": 200}]
    assert await changes(sql, team, since) == [
        ("task", p2["id"], "deleted"),
        ("task", c2["id"], "deleted"),
    ]
    # The walk goes through live subtasks only: a live task under a deleted one stays.
    p3 = await new_task(team)
    c3 = await new_task(team, parent_task_id=p3["id"])
    g3 = await new_task(team, parent_task_id=c3["id"])
    assert (await team.delete(f"/api/v1/tasks/{c3['id']}")).status_code == 204
    assert (await team.post(f"/api/v1/tasks/{g3['id']}/restore")).status_code == 200
    await bulk(team, action="delete", ids=[p3["id"]])
    assert (await task(team, g3["id"]))["parent_task_id"] == c3["id"]


async def test_assign_modes_zones_and_no_ops(team: Team, sql: Sql) -> None:
    ny, tokyo = await add_member(team, "user"), await add_member(team, "user")
    await set_zone(team, ny.member_id, "America/New_York")
    await set_zone(team, tokyo.member_id, "Asia/Tokyo")
    await set_zone(team, team.member_id, "Europe/Berlin")
    a = await new_task(team, assignee_ids=[ny.member_id])
    b = await new_task(team, assignee_ids=[tokyo.member_id, ny.member_id])
    assert (a["time_zone"], b["time_zone"]) == ("America/New_York", "Asia/Tokyo")
    since = await last_event(sql, team)
    await bulk(
        team, action="assign", ids=[a["id"], b["id"]], assignee_ids=[ny.member_id], mode="add"
    )
    assert await changes(sql, team, since) == []  # both have them already
    assert (await task(team, a["id"]))["version"] == 1
    await bulk(
        team, action="assign", ids=[a["id"], b["id"]], assignee_ids=[tokyo.member_id], mode="remove"
    )
    got_a, got_b = await task(team, a["id"]), await task(team, b["id"])
    assert (got_a["version"], got_b["assignee_ids"], got_b["time_zone"]) == (
        1,
        [ny.member_id],
        "America/New_York",
    )
    await bulk(
        team, action="assign", ids=[a["id"], b["id"]], assignee_ids=[ny.member_id], mode="remove"
    )
    got_a = await task(team, a["id"])
    assert got_a["assignee_ids"] == [] and got_a["time_zone"] == "Europe/Berlin"  # the creator's
    await bulk(
        team,
        action="assign",
        ids=[a["id"]],
        assignee_ids=[tokyo.member_id, tokyo.member_id, ny.member_id],
        mode="replace",
    )
    got_a = await task(team, a["id"])
    assert got_a["assignee_ids"] == [tokyo.member_id, ny.member_id]
    assert got_a["time_zone"] == "Asia/Tokyo"
    evt = [e for e in await sql.events(a["id"]) if e["action"] == "updated"][-1]
    assert evt["changes"]["time_zone"] == ["Europe/Berlin", "Asia/Tokyo"]
    # A member who is not in the team: 422 naming them, nothing changed.
    p = assert_problem(
        await team.post(
            "/api/v1/tasks/bulk",
            json={
                "action": "assign",
                "ids": [a["id"], b["id"]],
                "assignee_ids": ["mem_01JAAAAAAAAAAAAAAAAAAAAAAA"],
                "mode": "add",
            },
        ),
        422,
    )
    assert [x["detail"] for x in p["results"]] == [
        "assignee_ids: No member with id 'mem_01JAAAAAAAAAAAAAAAAAAAAAAA' in your team."
    ] * 2


async def test_reschedule_keeps_recurring_tasks_dated(team: Team) -> None:
    r = await new_task(team, due_at="2027-03-01T09:00:00Z", recurrence_rule="FREQ=DAILY")
    plain = await new_task(team, due_at="2027-03-01T09:00:00Z")
    p = assert_problem(
        await team.post(
            "/api/v1/tasks/bulk",
            json={"action": "reschedule", "ids": [plain["id"], r["id"]], "due_at": None},
        ),
        422,
    )
    assert p["results"] == [
        {"id": plain["id"], "status": 200},
        {
            "id": r["id"],
            "status": 422,
            "detail": "due_at: A recurring task needs a due_at (clear recurrence_rule first).",
        },
    ]
    assert (await task(team, plain["id"]))["due_at"] == "2027-03-01T09:00:00Z"


async def test_a_database_error_stops_the_call(team: Team, sql: Sql) -> None:
    """A row the database refuses (here: a trigger standing for any rule it enforces) is
    named; the ids after it are not attempted (424); nothing is changed."""
    title = f"Explode {secrets.token_hex(4)}"
    fn = f"app.test_explode_{secrets.token_hex(4)}"
    trigger = fn.split(".")[1]
    await sql.exec(
        f"CREATE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION 'refused' USING ERRCODE = 'check_violation'; END $$"
    )
    await sql.exec(
        f"CREATE TRIGGER {trigger} BEFORE UPDATE ON app.tasks FOR EACH ROW "
        f"WHEN (NEW.title = '{title}') EXECUTE FUNCTION {fn}()"
    )
    try:
        a, boom, c = await new_task(team), await new_task(team, title=title), await new_task(team)
        ids = [a["id"], boom["id"], c["id"]]
        p = assert_problem(
            await team.post("/api/v1/tasks/bulk", json={"action": "complete", "ids": ids}), 422
        )
        assert p["results"] == [
            {"id": a["id"], "status": 200},
            {"id": boom["id"], "status": 422, "detail": "The values break a rule of the record."},
            {"id": c["id"], "status": 424, "detail": "Not attempted."},
        ]
        # A delete refused by the database answers one problem for the call.
        assert_problem(
            await team.post("/api/v1/tasks/bulk", json={"action": "delete", "ids": ids}), 422
        )
        for t in (a, boom, c):
            got = await task(team, t["id"])
            assert (got["status"], got["version"]) == ("todo", 1)
    finally:
        await sql.exec(f"DROP TRIGGER IF EXISTS {trigger} ON app.tasks")
        await sql.exec(f"DROP FUNCTION IF EXISTS {fn}()")
