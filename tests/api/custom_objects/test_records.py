"""Records of custom objects: typed values, lists, writes, lookups, and standard objects'
custom fields."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.api.custom_objects.conftest import new_field, new_object, new_record, uniq
from tests.api.records.conftest import add_member, new_account
from tests.conftest import Team, assert_problem

#: field → (a value as sent, the same value as read back, a smaller and a larger value)
VALUES: dict[str, tuple[Any, Any, Any, Any]] = {
    "note": ("mango", "mango", "apple", "zebra"),
    "body": ("long " * 50, "long " * 50, "a", "z"),
    "hours": (12, 12, 3, 40),
    "ratio": ("1.5", "1.500", "0.25", "10"),
    "fee": (1999.5, "1999.50", "5", "100000"),
    "share": ("12.5", "12.50", "1", "99"),
    "due": ("2026-03-29", "2026-03-29", "2025-01-01", "2030-12-31"),
    "starts": ("2026-03-29T02:30:00+02:00", "2026-03-29T00:30:00.000000+00:00",
               "2026-03-28T00:00:00Z", "2026-03-30T00:00:00Z"),
    "billable": (True, True, False, True),
    "stage": ("won", "won", "new", "won"),
    "site": ("https://example.com/x", "https://example.com/x", "a.io", "z.io"),
    "mail": ("ada@example.com", "ada@example.com", "a@a.io", "z@z.io"),
    "tel": ("+44 20 7946 0000", "+44 20 7946 0000", "+1 111", "+9 999"),
}  # fmt: skip
ORDERED = [k for k in VALUES if k not in ("billable",)]


async def test_every_type_round_trips(admin: Team, typed: str) -> None:
    body = {k: v[0] for k, v in VALUES.items()} | {"tags": ["b", "a", "b"]}
    rec = await new_record(admin, typed, **body)
    for k, v in VALUES.items():
        assert rec[k] == v[1], k
    assert rec["tags"] == ["b", "a"]
    got = (await admin.get(f"/api/v1/objects/{typed}/{rec['id']}")).json()
    assert got == rec
    assert {
        "id",
        "name",
        "owner_id",
        "created_at",
        "created_by",
        "updated_at",
        "updated_by",
    } <= set(got)
    assert got["created_by"] == admin.member_id


@pytest.mark.parametrize("field", ORDERED)
async def test_filter_and_sort_by_every_type(admin: Team, field: str) -> None:
    from tests.api.custom_objects.conftest import FIELDS

    obj = (await new_object(admin))["api_name"]
    await new_field(admin, obj, field, indexed=field in ("hours", "due", "note"), **FIELDS[field])
    _, _, low, high = VALUES[field]
    a = await new_record(admin, obj, **{field: low})
    b = await new_record(admin, obj, **{field: high})
    empty = await new_record(admin, obj)
    url = f"/api/v1/objects/{obj}"
    asc = [r["id"] for r in (await admin.get(url, params={"sort": field})).json()["data"]]
    assert asc == [a["id"], b["id"], empty["id"]], field  # empty values last
    desc = [r["id"] for r in (await admin.get(url, params={"sort": f"-{field}"})).json()["data"]]
    assert desc == [b["id"], a["id"], empty["id"]]
    eq = (await admin.get(url, params={f"filter[{field}]": _raw(b[field])})).json()["data"]
    assert [r["id"] for r in eq] == [b["id"]]
    gt = (await admin.get(url, params={f"filter[{field}__gt]": _raw(a[field])})).json()["data"]
    assert [r["id"] for r in gt] == [b["id"]]
    lt = (await admin.get(url, params={f"filter[{field}__lt]": _raw(b[field])})).json()["data"]
    assert [r["id"] for r in lt] == [a["id"]]
    within = {f"filter[{field}__in]": f"{_raw(a[field])},{_raw(b[field])}"}
    assert len((await admin.get(url, params=within)).json()["data"]) == 2
    # Keyset pages over a custom sort neither skip nor repeat.
    page = (await admin.get(url, params={"sort": field, "limit": 1})).json()
    seen = [page["data"][0]["id"]]
    while page["has_more"]:
        page = (
            await admin.get(url, params={"sort": field, "limit": 1, "cursor": page["next_cursor"]})
        ).json()
        seen += [r["id"] for r in page["data"]]
    assert seen == asc


def _raw(v: Any) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


async def test_contains_and_multi_picklist(admin: Team, typed: str) -> None:
    a = await new_record(admin, typed, note="The Blue Whale", tags=["a", "c"])
    url = f"/api/v1/objects/{typed}"
    got = (await admin.get(url, params={"filter[note__contains]": "blue wh"})).json()["data"]
    assert [r["id"] for r in got] == [a["id"]]
    got = (await admin.get(url, params={"filter[tags__contains]": "c"})).json()["data"]
    assert a["id"] in {r["id"] for r in got}
    got = await admin.get(url, params={"filter[billable]": "maybe"})
    assert_problem(got, 400)
    assert_problem(await admin.get(url, params={"sort": "nope"}), 400)


@pytest.mark.parametrize(
    ("field", "value"),
    [("hours", "3"), ("hours", 1.5), ("hours", True), ("ratio", "abc"), ("ratio", "1e40"),
     ("fee", [1]), ("due", "2026-02-30"), ("due", "1600-01-01"), ("starts", "yesterday"),
     ("billable", "yes"), ("stage", "old"), ("stage", "nope"), ("tags", ["zz"]), ("tags", "a"),
     ("mail", "not-an-email"), ("tel", "call me"), ("note", "x" * 1001), ("note", "a\u0000b"),
     ("unknown", 1), ("id", "rec_x"), ("created_at", "2026-01-01")],
)  # fmt: skip
async def test_invalid_values_are_422_naming_the_field(
    admin: Team, typed: str, field: str, value: Any
) -> None:
    r = await admin.post(f"/api/v1/objects/{typed}", json={"name": "x", field: value})
    body = assert_problem(r, 422)
    assert field in {e["field"] for e in body["errors"]}, body


async def test_inactive_picklist_value_is_kept_on_old_records(admin: Team) -> None:
    obj = (await new_object(admin))["api_name"]
    await new_field(admin, obj, "stage", type="picklist", options=[{"value": "a"}, {"value": "b"}])
    rec = await new_record(admin, obj, stage="a")
    r = await admin.patch(
        f"/api/v1/metadata/objects/{obj}/fields/stage",
        json={"options": [{"value": "a", "active": False}, {"value": "b"}]},
    )
    assert r.status_code == 200, r.text
    r = await admin.patch(f"/api/v1/objects/{obj}/{rec['id']}", json={"name": "renamed"})
    assert r.status_code == 200 and r.json()["stage"] == "a"
    assert_problem(
        await admin.post(f"/api/v1/objects/{obj}", json={"name": "n", "stage": "a"}), 422
    )


async def test_required_default_and_auto_numbers(admin: Team) -> None:
    obj = (
        await new_object(
            admin, record_name={"type": "auto_number", "format": "PRJ-{0000}", "start": 7}
        )
    )["api_name"]
    await new_field(admin, obj, "client", type="text", required=True)
    await new_field(admin, obj, "priority", type="integer", default=3)
    await new_field(admin, obj, "ref", type="auto_number", auto_number={"format": "R{00}"})
    url = f"/api/v1/objects/{obj}"
    body = assert_problem(await admin.post(url, json={}), 422)
    assert body["errors"] == [{"field": "client", "message": "This field is required."}]
    a = (await admin.post(url, json={"client": "Acme"})).json()
    b = (await admin.post(url, json={"client": "Beta", "priority": 1})).json()
    assert (a["name"], a["ref"], a["priority"]) == ("PRJ-0007", "R01", 3)
    assert (b["name"], b["ref"], b["priority"]) == ("PRJ-0008", "R02", 1)
    for field in ("ref", "name"):
        body = assert_problem(await admin.patch(f"{url}/{a['id']}", json={field: "X"}), 422)
        assert body["errors"][0]["field"] == field
    body = assert_problem(await admin.patch(f"{url}/{a['id']}", json={"client": None}), 422)
    assert body["errors"][0]["field"] == "client"


async def test_text_named_objects_need_a_name(admin: Team, typed: str) -> None:
    body = assert_problem(await admin.post(f"/api/v1/objects/{typed}", json={}), 422)
    assert body["errors"][0]["field"] == "name"


async def test_concurrent_unique_writes_one_wins(admin: Team) -> None:
    obj = (await new_object(admin))["api_name"]
    f = await new_field(admin, obj, "code", type="text", unique=True)
    assert f["index_state"] == "ready"
    url = f"/api/v1/objects/{obj}"
    results = await asyncio.gather(
        *[admin.post(url, json={"name": f"n{i}", "code": "SAME"}) for i in range(6)]
    )
    statuses = sorted(r.status_code for r in results)
    assert statuses == [201, 409, 409, 409, 409, 409], [r.text for r in results]
    conflict = next(r for r in results if r.status_code == 409)
    assert assert_problem(conflict, 409)["errors"][0]["field"] == "code"
    # A deleted record frees its value.
    winner = next(r for r in results if r.status_code == 201).json()
    assert (await admin.delete(f"{url}/{winner['id']}")).status_code == 204
    assert (await admin.post(url, json={"name": "again", "code": "SAME"})).status_code == 201


async def test_unique_over_clashing_values_is_refused(admin: Team) -> None:
    obj = (await new_object(admin))["api_name"]
    await new_field(admin, obj, "code", type="text")
    await new_record(admin, obj, code="X")
    await new_record(admin, obj, code="X")
    base = f"/api/v1/metadata/objects/{obj}/fields/code"
    body = assert_problem(await admin.patch(base, json={"unique": True}), 409)
    assert body["errors"][0]["field"] == "unique"
    got = (await admin.get(base)).json()
    assert got["unique"] is False and got["index_state"] == "none"
    await new_record(admin, obj, code="X")


async def test_writes_follow_the_core_conventions(admin: Team, typed: str) -> None:
    url = f"/api/v1/objects/{typed}"
    key = {"Idempotency-Key": uniq("k")}
    first = await admin.post(url, json={"name": "idem", "hours": 1}, headers=key)
    again = await admin.post(url, json={"name": "idem", "hours": 1}, headers=key)
    assert (
        first.status_code == again.status_code == 201 and first.json()["id"] == again.json()["id"]
    )
    rec = first.json()
    assert first.headers["ETag"] == '"1"'
    before = datetime.now(UTC)
    r = await admin.patch(f"{url}/{rec['id']}", json={"hours": 2}, headers={"If-Match": '"1"'})
    assert r.status_code == 200 and r.json()["hours"] == 2 and r.json()["version"] == 2
    stale = await admin.patch(f"{url}/{rec['id']}", json={"hours": 3}, headers={"If-Match": '"1"'})
    assert_problem(stale, 412)
    old = (await admin.get(f"{url}/{rec['id']}", params={"as_of": before.isoformat()})).json()
    assert old["hours"] == 1 and old["name"] == "idem" and old["version"] == 1
    history = (await admin.get(f"{url}/{rec['id']}/history")).json()["data"]
    assert {"field": "hours", "old": 1, "new": 2} in [
        {k: h[k] for k in ("field", "old", "new")} for h in history
    ]
    sparse = (await admin.get(f"{url}/{rec['id']}", params={"fields": "hours"})).json()
    assert sparse == {"id": rec["id"], "hours": 2}
    assert (await admin.delete(f"{url}/{rec['id']}")).status_code == 204
    assert_problem(await admin.get(f"{url}/{rec['id']}"), 404)
    r = await admin.post(f"{url}/{rec['id']}/restore")
    assert r.status_code == 200 and r.json()["hours"] == 2


async def test_batch(admin: Team, typed: str) -> None:
    url = f"/api/v1/objects/{typed}/batch"
    rec = await new_record(admin, typed, hours=1)
    r = await admin.post(
        url,
        json={"items": [{"name": "b1", "hours": 5}, {"id": rec["id"], "hours": 9}, {"hours": "x"}]},
    )
    results = r.json()["results"]
    assert [x["status"] for x in results] == [201, 200, 422]
    assert results[1]["record"]["hours"] == 9
    r = await admin.post(url, json={"items": [{"name": "b2"}, {"name": ""}], "all_or_none": True})
    assert [x["status"] for x in r.json()["results"]] == [424, 422]
    got = await admin.get(f"/api/v1/objects/{typed}", params={"filter[name]": "b2"})
    assert got.json()["data"] == []


async def test_lookups_delete_rules_and_related_lists(admin: Team) -> None:
    client = (await new_object(admin))["api_name"]
    project = (await new_object(admin))["api_name"]
    task = (await new_object(admin))["api_name"]
    await new_field(
        admin, project, "client", type="lookup",
        lookup={"object": client, "relationship_name": "projects", "on_delete": "restrict"},
    )  # fmt: skip
    await new_field(
        admin, task, "project", type="lookup",
        lookup={"object": project, "relationship_name": "tasks", "on_delete": "cascade"},
    )  # fmt: skip
    await new_field(
        admin, task, "account", type="lookup",
        lookup={"object": "accounts", "relationship_name": "work", "on_delete": "set_null"},
    )  # fmt: skip
    c = await new_record(admin, client)
    p = await new_record(admin, project, client=c["id"])
    acct = await new_account(admin)
    t = await new_record(admin, task, project=p["id"], account=acct["id"])
    body = assert_problem(
        await admin.post(f"/api/v1/objects/{project}", json={"name": "x", "client": p["id"]}), 422
    )
    assert body["errors"][0]["field"] == "client"
    rel = (await admin.get(f"/api/v1/objects/{client}/{c['id']}/related/projects")).json()
    assert [r["id"] for r in rel["data"]] == [p["id"]]
    rel = (await admin.get(f"/api/v1/objects/accounts/{acct['id']}/related/work")).json()
    assert [r["id"] for r in rel["data"]] == [t["id"]]
    assert_problem(await admin.get(f"/api/v1/objects/{client}/{c['id']}/related/nope"), 404)
    # restrict: the client cannot go while a project points at it.
    body = assert_problem(await admin.delete(f"/api/v1/objects/{client}/{c['id']}"), 409)
    assert body["errors"][0]["field"] == "client"
    # cascade: deleting the project deletes its tasks.
    assert (await admin.delete(f"/api/v1/objects/{project}/{p['id']}")).status_code == 204
    assert_problem(await admin.get(f"/api/v1/objects/{task}/{t['id']}"), 404)
    assert (await admin.delete(f"/api/v1/objects/{client}/{c['id']}")).status_code == 204


async def test_set_null_clears_the_lookup(admin: Team) -> None:
    parent = (await new_object(admin))["api_name"]
    child = (await new_object(admin))["api_name"]
    await new_field(
        admin, child, "parent", type="lookup", lookup={"object": parent, "on_delete": "set_null"}
    )
    p = await new_record(admin, parent)
    c = await new_record(admin, child, parent=p["id"])
    assert (await admin.delete(f"/api/v1/objects/{parent}/{p['id']}")).status_code == 204
    got = (await admin.get(f"/api/v1/objects/{child}/{c['id']}")).json()
    assert got["parent"] is None and got["version"] == 2


async def test_members_write_guests_read(admin: Team, typed: str) -> None:
    user = await add_member(admin, "user")
    rec = await new_record(user, typed, hours=2)
    guest = await add_member(admin, "guest")
    assert_problem(await guest.post(f"/api/v1/objects/{typed}", json={"name": "g"}), 403)
    assert_problem(await guest.patch(f"/api/v1/objects/{typed}/{rec['id']}", json={}), 403)
    assert_problem(await guest.delete(f"/api/v1/objects/{typed}/{rec['id']}"), 403)


async def test_unknown_object_is_404(admin: Team) -> None:
    assert_problem(await admin.get("/api/v1/objects/nothing_here"), 404)
    assert_problem(await admin.post("/api/v1/objects/nothing_here", json={"name": "x"}), 404)


# ------------------------------------------------------------------ standard objects


async def test_standard_objects_custom_fields(admin: Team) -> None:
    region = uniq("region")
    size = uniq("size")
    code = uniq("code")
    opts = [{"value": "EMEA"}, {"value": "APAC"}]
    await new_field(admin, "leads", region, type="picklist", options=opts, default="EMEA")
    await new_field(admin, "leads", size, type="integer", indexed=True)
    await new_field(admin, "leads", code, type="text", unique=True)
    url = "/api/v1/leads"
    a = await admin.post(url, json={"first_name": "A", "custom": {size: 50, code: uniq()}})
    assert a.status_code == 201, a.text
    assert a.json()["custom"][region] == "EMEA"
    b = await admin.post(
        url, json={"first_name": "B", "custom": {region: "APAC", size: 7, "free": "kept"}}
    )
    assert b.status_code == 201 and b.json()["custom"]["free"] == "kept"
    body = assert_problem(
        await admin.post(url, json={"first_name": "C", "custom": {size: "many"}}), 422
    )
    assert body["errors"][0]["field"] == f"custom.{size}"
    body = assert_problem(
        await admin.post(url, json={"first_name": "C", "custom": {region: "MARS"}}), 422
    )
    got = (await admin.get(url, params={f"filter[custom.{region}]": "APAC"})).json()["data"]
    assert [r["id"] for r in got] == [b.json()["id"]]
    got = (await admin.get(url, params={f"filter[custom.{size}__gt]": "10"})).json()["data"]
    assert [r["id"] for r in got] == [a.json()["id"]]
    got = (await admin.get(url, params={"sort": f"custom.{size}", "limit": 1})).json()
    assert got["data"][0]["id"] == b.json()["id"] and "custom." not in str(got["data"][0].keys())
    nxt = (
        await admin.get(
            url, params={"sort": f"custom.{size}", "limit": 1, "cursor": got["next_cursor"]}
        )
    ).json()
    assert nxt["data"][0]["id"] == a.json()["id"]
    taken = a.json()["custom"][code]
    body = assert_problem(
        await admin.post(url, json={"first_name": "C", "custom": {code: taken}}), 409
    )
    assert body["errors"][0]["field"] == code
