"""Page layouts, list views and the global search, over custom and standard objects."""

from __future__ import annotations

from typing import Any

from tests.api.custom_objects.conftest import new_field, new_object, new_record, uniq
from tests.api.records.conftest import add_member, new_account, new_lead
from tests.conftest import Team, assert_problem, make_team


async def test_layouts(admin: Team, typed: str) -> None:
    body = {
        "object": typed,
        "name": "Default",
        "sections": [{"label": "Work", "fields": ["name", "hours", "due"]}, {"label": "More", "fields": ["tags"]}],
    }  # fmt: skip
    r = await admin.post("/api/v1/layouts", json=body)
    assert r.status_code == 201, r.text
    layout = r.json()
    assert layout["sections"][0]["fields"] == ["name", "hours", "due"]
    got = (await admin.get("/api/v1/layouts", params={"object": typed})).json()["data"]
    assert [x["id"] for x in got] == [layout["id"]]
    bad = {**body, "sections": [{"label": "X", "fields": ["nope"]}]}
    body422 = assert_problem(await admin.post("/api/v1/layouts", json=bad), 422)
    assert body422["errors"][0]["field"] == "sections[0].fields"
    lead_layout = {
        "object": "leads",
        "name": "Leads",
        "sections": [{"label": "A", "fields": ["email", "status"]}],
    }
    assert (await admin.post("/api/v1/layouts", json=lead_layout)).status_code == 201
    r = await admin.patch(
        f"/api/v1/layouts/{layout['id']}", json={"sections": [{"label": "W", "fields": ["hours"]}]}
    )
    assert r.status_code == 200 and r.json()["version"] == 2
    user = await add_member(admin, "user")
    assert_problem(await user.post("/api/v1/layouts", json=body), 403)
    assert (await user.get(f"/api/v1/layouts/{layout['id']}")).status_code == 200
    other = await make_team(admin.http)
    assert_problem(await other.get(f"/api/v1/layouts/{layout['id']}"), 404)
    assert (await admin.delete(f"/api/v1/layouts/{layout['id']}")).status_code == 204


async def test_list_views_run_their_filters_sort_and_columns(admin: Team) -> None:
    obj = (await new_object(admin))["api_name"]
    await new_field(admin, obj, "hours", type="integer", indexed=True)
    await new_field(admin, obj, "note", type="text")
    a = await new_record(admin, obj, hours=5, note="a")
    b = await new_record(admin, obj, hours=9, note="b")
    await new_record(admin, obj, hours=1, note="c")
    r = await admin.post(
        "/api/v1/list-views",
        json={"object": obj, "name": "Big", "columns": ["name", "hours"],
              "filters": {"hours__gt": "2"}, "sort": "-hours", "visibility": "team"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    view = r.json()
    page = (await admin.get(f"/api/v1/list-views/{view['id']}/records", params={"limit": 1})).json()
    assert page["data"] == [{"id": b["id"], "name": b["name"], "hours": 9}] and page["has_more"]
    nxt = await admin.get(
        f"/api/v1/list-views/{view['id']}/records",
        params={"limit": 1, "cursor": page["next_cursor"]},
    )
    assert [x["id"] for x in nxt.json()["data"]] == [a["id"]]
    bad = await admin.post(
        "/api/v1/list-views", json={"object": obj, "name": "Bad", "filters": {"nope": "1"}}
    )
    assert_problem(bad, 422)
    assert_problem(
        await admin.post("/api/v1/list-views", json={"object": obj, "name": "B", "sort": "zz"}),
        422,
    )
    # Standard objects too, custom fields included.
    region = uniq("region")
    await new_field(admin, "leads", region, type="text")
    lead = await new_lead(admin, custom={region: "EMEA"})
    await new_lead(admin, custom={region: "APAC"})
    r = await admin.post(
        "/api/v1/list-views",
        json={"object": "leads", "name": "EMEA", "filters": {f"custom.{region}": "EMEA"}},
    )
    assert r.status_code == 201, r.text
    got = (await admin.get(f"/api/v1/list-views/{r.json()['id']}/records")).json()["data"]
    assert [x["id"] for x in got] == [lead["id"]]


async def test_personal_views_are_their_owners(admin: Team) -> None:
    obj = (await new_object(admin))["api_name"]
    user = await add_member(admin, "user")
    mine = (await user.post("/api/v1/list-views", json={"object": obj, "name": "Mine"})).json()
    team_view = (
        await user.post(
            "/api/v1/list-views", json={"object": obj, "name": "Ours", "visibility": "team"}
        )
    ).json()
    other = await add_member(admin, "user")
    assert_problem(await other.get(f"/api/v1/list-views/{mine['id']}"), 404)
    assert_problem(await other.get(f"/api/v1/list-views/{mine['id']}/records"), 404)
    assert (await other.get(f"/api/v1/list-views/{team_view['id']}/records")).status_code == 200
    assert_problem(
        await other.patch(f"/api/v1/list-views/{team_view['id']}", json={"name": "X"}), 403
    )
    r = await admin.patch(f"/api/v1/list-views/{team_view['id']}", json={"name": "Renamed"})
    assert r.status_code == 200
    names = {v["name"] for v in (await other.get("/api/v1/list-views")).json()["data"]}
    assert "Renamed" in names and "Mine" not in names
    stranger = await make_team(admin.http)
    assert_problem(await stranger.get(f"/api/v1/list-views/{team_view['id']}"), 404)
    guest = await add_member(admin, "guest")
    assert_problem(await guest.post("/api/v1/list-views", json={"object": obj, "name": "G"}), 403)


async def test_global_search(http: Any) -> None:
    team = await make_team(http)
    obj = (await new_object(team, searchable_fields=[]))["api_name"]
    await new_field(team, obj, "code", type="text")
    await team.patch(
        f"/api/v1/metadata/objects/{obj}", json={"searchable_fields": ["name", "code"]}
    )
    exact = await new_record(team, obj, name="Zephyr", code="x1")
    by_code = await new_record(team, obj, name="Other", code="zephyr-99")
    acct = await new_account(team, name="Zephyr Holdings")
    await new_record(team, obj, name="Nothing", code="none")
    r = await team.get("/api/v1/search", params={"q": "zephyr"})
    assert r.status_code == 200, r.text
    hits = [(h["object"], h["id"]) for h in r.json()["data"]]
    assert hits[0] == (obj, exact["id"])  # the exact match first
    assert set(hits) == {(obj, exact["id"]), (obj, by_code["id"]), ("accounts", acct["id"])}
    assert_problem(await team.get("/api/v1/search"), 400)
    other = await make_team(http)
    assert (await other.get("/api/v1/search", params={"q": "zephyr"})).json()["data"] == []
    # The activity search still answers beside it.
    assert (await team.get("/api/v1/search/activities", params={"q": "zephyr"})).status_code == 200
