"""Logging activities: per-type metadata, sanitised HTML, who may change what, bad input."""

from __future__ import annotations

from tests.api.activities.conftest import log, new_account, new_lead, sql
from tests.conftest import Team, assert_problem


async def test_log_a_call_with_metadata(team: Team) -> None:
    lead = await new_lead(team)
    r = await team.post(
        "/api/v1/activities",
        json={
            "type": "call",
            "subject": "Intro call",
            "description": "<p onclick='x()'>Talked <b>pricing</b></p><script>alert(1)</script>",
            "related_to_type": "lead",
            "related_to_id": lead["id"],
            "metadata": {
                "duration": 300,
                "outcome": "connected",
                "recording_url": "https://rec.example.com/1.mp3",
            },
        },
    )
    assert r.status_code == 201, r.text
    act = r.json()
    assert act["id"].startswith("act_")
    assert r.headers["location"] == f"/api/v1/activities/{act['id']}"
    assert act["type"] == "call" and act["member_id"] == team.member_id
    assert act["metadata"]["duration"] == 300 and act["metadata"]["outcome"] == "connected"
    assert act["description"] == "<p>Talked <b>pricing</b></p>"
    assert act["source_event_id"] is None and act["occurred_at"]
    got = (await team.get(f"/api/v1/activities/{act['id']}")).json()
    assert got == act
    # The write appended its event.
    [ev] = await sql(
        "SELECT action, changes FROM app.events WHERE object_type = 'activity' AND object_id = :i",
        team=team.team_id,
        i=act["id"],
    )
    assert ev["action"] == "created" and ev["changes"]["type"] == [None, "call"]


async def test_meeting_metadata_is_validated(team: Team, mate: Team) -> None:
    lead = await new_lead(team)
    base = {"type": "meeting", "related_to_type": "lead", "related_to_id": lead["id"]}
    ok = await log(
        team,
        lead,
        "lead",
        type="meeting",
        metadata={
            "status": "scheduled",
            "starts_at": "2026-12-01T12:00:00+02:00",
            "ends_at": "2026-12-01T11:00:00Z",
            "attendee_ids": [mate.member_id],
        },
    )
    assert ok["metadata"]["starts_at"] == "2026-12-01T10:00:00Z"  # stored in UTC
    assert ok["metadata"]["attendee_ids"] == [mate.member_id]
    cases = [
        ({"status": "scheduled"}, "metadata.starts_at"),
        ({"starts_at": "2026-12-01T10:00:00Z", "status": "maybe"}, "metadata.status"),
        ({"starts_at": "tomorrow"}, "metadata.starts_at"),
        (
            {"starts_at": "2026-12-01T10:00:00Z", "ends_at": "2026-12-01T09:00:00Z"},
            "metadata.ends_at",
        ),
        ({"starts_at": "2026-12-01T10:00:00Z", "colour": "red"}, "metadata.colour"),
        (
            {
                "starts_at": "2026-12-01T10:00:00Z",
                "attendee_ids": ["mem_01JD5Z0000000000000000000A"],
            },
            "metadata.attendee_ids",
        ),
    ]
    for meta, field in cases:
        r = await team.post("/api/v1/activities", json={**base, "metadata": meta})
        body = assert_problem(r, 422)
        assert field in {e["field"] for e in body["errors"]}, (meta, body)


BAD_BODIES = [
    ({"type": "call", "metadata": {"duration": "60"}}, 422, "metadata.duration"),
    ({"type": "call", "metadata": {"duration": -1}}, 422, "metadata.duration"),
    (
        {"type": "call", "metadata": {"recording_url": "not a url"}},
        422,
        "metadata.recording_url",
    ),
    ({"type": "status_change"}, 422, "type"),
    ({"type": "system"}, 422, "type"),
    ({"type": "tweet"}, 422, "type"),
    ({"type": "note", "related_to_type": "planet"}, 422, "related_to_type"),
    (
        {"type": "note", "related_to_id": "lead_01JD5Z0000000000000000000A"},
        422,
        "related_to_id",
    ),
    (
        {"type": "note", "related_to_id": "x'; DROP TABLE app.activities; --"},
        422,
        "related_to_id",
    ),
    ({"type": "note", "occurred_at": "2026-01-01T00:00:00"}, 422, "occurred_at"),
    ({"type": "note", "occurred_at": "9999-12-31T20:00:00-05:00"}, 422, "occurred_at"),
    ({"type": "note", "occurred_at": "1492-10-12T00:00:00Z"}, 422, "occurred_at"),
    (
        {"type": "meeting", "metadata": {"starts_at": "9999-12-31T22:00:00-05:00"}},
        422,
        "metadata.starts_at",
    ),
    ({"type": "note", "subject": "a\x00b"}, 422, "subject"),
    ({"type": "note", "extra": 1}, 422, "extra"),
    ({"type": "email", "metadata": {"status": "bounced"}}, 422, "metadata.status"),
    ({"type": "file", "metadata": {"action": "uploaded"}}, 422, "metadata.file_name"),
    ({"type": "note", "metadata": {"type": "call"}}, 422, "metadata.type"),
]


async def test_bad_input_is_a_problem(team: Team) -> None:
    lead = await new_lead(team)
    for body, status, field in BAD_BODIES:
        payload = {"related_to_type": "lead", "related_to_id": lead["id"], **body}
        problem = assert_problem(await team.post("/api/v1/activities", json=payload), status)
        assert field in {e["field"] for e in problem.get("errors", [])}, problem
    # Nothing was written by the refused requests.
    listed = (await team.get("/api/v1/activities")).json()["data"]
    assert listed == []


async def test_malformed_bodies(team: Team) -> None:
    assert_problem(await team.post("/api/v1/activities", content=b"{nope"), 400)
    assert_problem(await team.post("/api/v1/activities", content=b""), 400)
    assert_problem(await team.post("/api/v1/activities", json=[1, 2]), 422)


async def test_author_or_manager_changes_a_logged_activity(team: Team, mate: Team) -> None:
    lead = await new_lead(team)
    mine = await log(mate, lead, "lead", subject="Mate's note")
    # Another user may not change it; the author and the owner (manager+) may.
    ours = await log(team, lead, "lead", subject="Owner's note")
    assert_problem(await mate.patch(f"/api/v1/activities/{ours['id']}", json={"subject": "x"}), 403)
    assert_problem(await mate.delete(f"/api/v1/activities/{ours['id']}"), 403)
    r = await mate.patch(f"/api/v1/activities/{mine['id']}", json={"subject": "Edited"})
    assert r.status_code == 200, r.text
    assert r.json()["subject"] == "Edited" and r.json()["version"] == 2
    r = await team.patch(
        f"/api/v1/activities/{mine['id']}",
        json={"metadata": {"pinned": True}},
        headers={"If-Match": '"2"'},
    )
    assert r.status_code == 200 and r.json()["metadata"] == {"pinned": True}
    assert_problem(
        await team.patch(
            f"/api/v1/activities/{mine['id']}", json={"subject": "y"}, headers={"If-Match": '"1"'}
        ),
        412,
    )
    assert_problem(await team.patch(f"/api/v1/activities/{mine['id']}", json={"type": "call"}), 422)
    assert (await mate.delete(f"/api/v1/activities/{mine['id']}")).status_code == 204
    assert_problem(await team.get(f"/api/v1/activities/{mine['id']}"), 404)
    r = await mate.post(f"/api/v1/activities/{mine['id']}/restore")
    assert r.status_code == 200 and r.json()["id"] == mine["id"]
    assert (await team.delete(f"/api/v1/activities/{ours['id']}")).status_code == 204
    assert_problem(await mate.post(f"/api/v1/activities/{ours['id']}/restore"), 403)


async def test_list_filters(team: Team) -> None:
    account = await new_account(team)
    call = await log(team, account, "account", type="call", metadata={"duration": 5})
    await log(team, account, "account", type="note")
    r = await team.get("/api/v1/activities", params={"filter[type]": "call"})
    assert r.status_code == 200
    assert [a["id"] for a in r.json()["data"]] == [call["id"]]
    assert_problem(await team.get("/api/v1/activities", params={"filter[nope]": "1"}), 400)


async def test_other_team_cannot_touch_activities(team: Team, other_team: Team) -> None:
    lead = await new_lead(team)
    act = await log(team, lead, "lead")
    c = await team.post(f"/api/v1/activities/{act['id']}/comments", json={"text": "mine"})
    cmt = f"/api/v1/activities/{act['id']}/comments/{c.json()['id']}"
    account = await new_account(team)
    for method, url, kw in [
        ("PATCH", cmt, {"json": {"text": "theirs"}}),
        ("DELETE", cmt, {}),
        ("POST", f"/api/v1/activities/{act['id']}/restore", {}),
        ("GET", f"/api/v1/accounts/{account['id']}/timeline", {}),
        ("GET", f"/api/v1/activities/{act['id']}", {}),
        ("PATCH", f"/api/v1/activities/{act['id']}", {"json": {"subject": "x"}}),
        ("DELETE", f"/api/v1/activities/{act['id']}", {}),
        ("GET", f"/api/v1/activities/{act['id']}/history", {}),
        ("GET", f"/api/v1/activities/{act['id']}/comments", {}),
        ("POST", f"/api/v1/activities/{act['id']}/comments", {"json": {"text": "hi"}}),
        ("GET", f"/api/v1/leads/{lead['id']}/timeline", {}),
    ]:
        assert_problem(await other_team.request(method, url, **kw), 404)
    # Nor log an activity against the other team's record.
    r = await other_team.post(
        "/api/v1/activities",
        json={"type": "note", "related_to_type": "lead", "related_to_id": lead["id"]},
    )
    assert_problem(r, 422)
    listed = (await other_team.get("/api/v1/activities")).json()["data"]
    assert act["id"] not in {a["id"] for a in listed}
