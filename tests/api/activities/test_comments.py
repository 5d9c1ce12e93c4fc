"""Comment threads, replies, edits and tombstones; @mentions and their read state."""

from __future__ import annotations

from tests.api.activities.conftest import log, new_lead, sql
from tests.conftest import Team, assert_problem


async def test_thread_with_replies_and_tombstones(team: Team, mate: Team) -> None:
    lead = await new_lead(team)
    act = await log(team, lead, "lead", subject="Discovery call notes")
    url = f"/api/v1/activities/{act['id']}/comments"
    first = (await team.post(url, json={"text": "First <i>thoughts</i><script>x</script>"})).json()
    assert first["id"].startswith("cmt_") and first["text"] == "First <i>thoughts</i>"
    reply = await mate.post(url, json={"text": "A reply", "parent_comment_id": first["id"]})
    assert reply.status_code == 201, reply.text
    reply = reply.json()
    nested = await team.post(url, json={"text": "Deeper", "parent_comment_id": reply["id"]})
    assert nested.status_code == 201
    second = (await team.post(url, json={"text": "Second thread"})).json()

    # Only the author edits or deletes.
    assert_problem(await team.patch(f"{url}/{reply['id']}", json={"text": "hijack"}), 403)
    assert_problem(await team.delete(f"{url}/{reply['id']}"), 403)
    r = await mate.patch(f"{url}/{reply['id']}", json={"text": "A better reply"})
    assert r.status_code == 200 and r.json()["edited_at"] and r.json()["version"] == 2
    assert (await team.delete(f"{url}/{first['id']}")).status_code == 204
    assert_problem(await team.delete(f"{url}/{first['id']}"), 404)
    assert_problem(await team.patch(f"{url}/{first['id']}", json={"text": "back"}), 404)

    page = (await team.get(url)).json()
    assert [c["id"] for c in page["data"]] == [first["id"], second["id"]]
    tomb = page["data"][0]
    assert tomb["deleted"] is True and tomb["text"] is None and tomb["deleted_at"]
    [kept] = tomb["replies"]
    assert kept["text"] == "A better reply" and kept["author_id"] == mate.member_id
    assert [c["text"] for c in kept["replies"]] == ["Deeper"]
    # Pagination over threads.
    p1 = (await team.get(url, params={"limit": 1})).json()
    assert p1["has_more"] and len(p1["data"]) == 1
    p2 = (await team.get(url, params={"limit": 1, "cursor": p1["next_cursor"]})).json()
    assert [c["id"] for c in p2["data"]] == [second["id"]] and not p2["has_more"]
    # The tombstone's text is gone from the table, its history stays in the event log.
    [row] = await sql(
        "SELECT text FROM app.activity_comments WHERE id = :i", team=team.team_id, i=first["id"]
    )
    assert row["text"] == ""
    actions = [
        e["action"]
        for e in await sql(
            "SELECT action FROM app.events WHERE object_type = 'activity_comment' "
            "AND object_id = :i ORDER BY id",
            team=team.team_id,
            i=first["id"],
        )
    ]
    assert actions == ["created", "deleted"]


async def test_reply_must_be_to_a_comment_of_the_same_activity(team: Team) -> None:
    lead = await new_lead(team)
    a = await log(team, lead, "lead")
    b = await log(team, lead, "lead")
    on_b = (await team.post(f"/api/v1/activities/{b['id']}/comments", json={"text": "b"})).json()
    for parent in (on_b["id"], "cmt_01JD5Z0000000000000000000A", "nonsense"):
        r = await team.post(
            f"/api/v1/activities/{a['id']}/comments",
            json={"text": "reply", "parent_comment_id": parent},
        )
        body = assert_problem(r, 422)
        assert body["errors"][0]["field"] == "parent_comment_id"
    for bad in ({"text": ""}, {"text": "<script>only</script>"}, {}, {"text": 5}, {"txt": "a"}):
        assert_problem(await team.post(f"/api/v1/activities/{a['id']}/comments", json=bad), 422)
    assert_problem(
        await team.post(
            "/api/v1/activities/act_01JD5Z0000000000000000000A/comments", json={"text": "x"}
        ),
        404,
    )
    # No half-written comment: nothing was stored by the refused requests.
    rows = await sql(
        "SELECT count(*) AS n FROM app.activity_comments WHERE activity_id = :a",
        team=team.team_id,
        a=a["id"],
    )
    assert rows[0]["n"] == 0


async def test_mentions_and_read_state(team: Team, mate: Team, other_team: Team) -> None:
    lead = await new_lead(team)
    act = await log(
        team,
        lead,
        "lead",
        subject="Pricing",
        description=f"Loop in @[Mate]({mate.member_id}) please",
    )
    url = f"/api/v1/activities/{act['id']}/comments"
    c = await team.post(
        url, json={"text": f"@[Mate]({mate.member_id}) and again @[M]({mate.member_id})"}
    )
    assert c.status_code == 201, c.text
    assert c.json()["mentions"] == [mate.member_id]
    # Unknown and other-team members are refused, and nothing is written.
    for who in ("mem_01JD5Z0000000000000000000A", other_team.member_id, "bogus"):
        r = await team.post(url, json={"text": f"hey @[X]({who})"})
        assert assert_problem(r, 422)["errors"][0]["field"] == "text"
        r = await team.post(
            "/api/v1/activities",
            json={
                "type": "note",
                "related_to_type": "lead",
                "related_to_id": lead["id"],
                "description": f"@[X]({who})",
            },
        )
        assert assert_problem(r, 422)["errors"][0]["field"] == "description"

    mine = (await mate.get("/api/v1/mentions", params={"unread": "true"})).json()["data"]
    assert len(mine) == 2
    assert {m["comment_id"] for m in mine} == {None, c.json()["id"]}
    assert all(m["activity_id"] == act["id"] and m["read_at"] is None for m in mine)
    assert all(m["related_to_type"] == "lead" and m["related_to_id"] == lead["id"] for m in mine)
    assert (await team.get("/api/v1/mentions")).json()["data"] == []
    # Each mention is its own event, carrying what the notifications consumer needs.
    evs = await sql(
        "SELECT object_id, changes FROM app.events WHERE object_type = 'mention' "
        "AND action = 'created' AND changes->'activity_id'->>1 = :a ORDER BY id",
        team=team.team_id,
        a=act["id"],
    )
    assert len(evs) == 2
    for e in evs:
        ch = e["changes"]
        assert ch["member_id"][1] == mate.member_id and ch["related_to_id"][1] == lead["id"]
        assert ch["related_to_type"][1] == "lead" and "comment_id" in ch

    one = mine[0]["id"]
    assert_problem(await team.post(f"/api/v1/mentions/{one}/read"), 404)  # not the owner's
    assert_problem(await other_team.post(f"/api/v1/mentions/{one}/read"), 404)
    assert_problem(await other_team.get(f"/api/v1/mentions/{one}"), 404)
    r = await mate.post(f"/api/v1/mentions/{one}/read")
    assert r.status_code == 200 and r.json()["read_at"]
    again = await mate.post(f"/api/v1/mentions/{one}/read")
    assert again.json()["read_at"] == r.json()["read_at"]
    unread = (await mate.get("/api/v1/mentions", params={"unread": "true"})).json()["data"]
    assert [m["id"] for m in unread] == [mine[1]["id"]]
    assert (await mate.post("/api/v1/mentions/read", json={})).json() == {"updated": 1}
    assert (await mate.get("/api/v1/mentions", params={"unread": "1"})).json()["data"] == []
    assert (await mate.post(f"/api/v1/mentions/{one}/unread")).json()["read_at"] is None
    assert_problem(await mate.get("/api/v1/mentions", params={"unread": "maybe"}), 400)
    # Editing a comment mentions only the newly named members.
    r = await team.patch(
        f"{url}/{c.json()['id']}",
        json={"text": f"@[Mate]({mate.member_id}) @[Me]({team.member_id})"},
    )
    assert r.status_code == 200 and r.json()["mentions"] == [mate.member_id, team.member_id]
    assert len((await mate.get("/api/v1/mentions")).json()["data"]) == 2


async def test_add_comment_is_importable_with_all_the_rules(team: Team, mate: Team) -> None:
    from api.activities.comments import add_comment
    from leadly.actor import Actor
    from leadly.problem import Problem
    from warehouse.db import api_engine, tenant_tx

    lead = await new_lead(team)
    act = await log(team, lead, "lead")
    actor = Actor(team_id=team.team_id, member_id=team.member_id, role="owner")
    async with tenant_tx(api_engine(), team.team_id, team.member_id) as conn:
        out = await add_comment(conn, actor, act["id"], f"ok @[M]({mate.member_id})")
        reply = await add_comment(conn, actor, act["id"], "reply", parent_comment_id=out["id"])
    assert out["mentions"] == [mate.member_id] and reply["parent_comment_id"] == out["id"]
    async with tenant_tx(api_engine(), team.team_id, team.member_id) as conn:
        for args in ((act["id"], "x", "cmt_01JD5Z0000000000000000000A"), (act["id"], "  ")):
            try:
                await add_comment(conn, actor, *args)
            except Problem as p:
                assert p.status == 422
            else:
                raise AssertionError("expected a 422")
    guest = Actor(team_id=team.team_id, member_id=team.member_id, role="guest")
    async with tenant_tx(api_engine(), team.team_id, team.member_id) as conn:
        try:
            await add_comment(conn, guest, act["id"], "no")
        except Problem as p:
            assert p.status == 403
        else:
            raise AssertionError("expected a 403")
