"""The metadata API: objects, fields of every type, limits, names, roles, events."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.custom_objects.conftest import FIELDS, new_field, new_object, uniq
from tests.api.records.conftest import add_member
from tests.conftest import Team, assert_problem, make_team


async def test_object_round_trip_and_history(admin: Team) -> None:
    name = uniq("proj")
    obj = await new_object(admin, name, description="Client work")
    assert obj["api_name"] == name and obj["record_name"] == {"type": "text"}
    r = await admin.get(f"/api/v1/metadata/objects/{name}")
    assert r.status_code == 200 and r.json()["description"] == "Client work"
    r = await admin.patch(
        f"/api/v1/metadata/objects/{name}",
        json={"label": "Engagement"},
        headers={"If-Match": '"1"'},
    )
    assert r.status_code == 200 and r.json()["label"] == "Engagement" and r.json()["version"] == 2
    r = await admin.patch(
        f"/api/v1/metadata/objects/{name}", json={"label": "Stale"}, headers={"If-Match": '"1"'}
    )
    assert_problem(r, 412)
    r = await admin.get(f"/api/v1/metadata/objects/{name}/history")
    changes = {(e["action"], e["field"]) for e in r.json()["data"]}
    assert ("updated", "label") in changes and ("created", "api_name") in changes
    listed = (await admin.get("/api/v1/metadata/objects")).json()["data"]
    assert name in {o["api_name"] for o in listed}
    r = await admin.delete(f"/api/v1/metadata/objects/{name}")
    assert r.status_code == 204
    assert_problem(await admin.get(f"/api/v1/metadata/objects/{name}"), 404)


async def test_every_field_type_is_described(admin: Team, typed: str) -> None:
    r = await admin.get(f"/api/v1/metadata/objects/{typed}/fields")
    got = {f["api_name"]: f for f in r.json()["data"]}
    assert set(got) == set(FIELDS)
    assert got["stage"]["options"][2] == {"value": "old", "label": None, "active": False}
    assert got["ratio"]["precision"] == 10 and got["ratio"]["scale"] == 3
    assert all(f["object"] == typed for f in got.values())


@pytest.mark.parametrize(
    "name",
    ["select", "Name", "drop table x", "a;--", "x__y", "_x", "x_", "1x", "name", "owner_id",
     "a" * 41, "é", "robert'); drop table app.leads;--"],
)  # fmt: skip
async def test_hostile_field_names(admin: Team, typed: str, name: str) -> None:
    r = await admin.post(
        f"/api/v1/metadata/objects/{typed}/fields",
        json={"api_name": name, "label": "X", "type": "text"},
    )
    body = assert_problem(r, 422)
    assert body["errors"][0]["field"] == "api_name"


@pytest.mark.parametrize("name", ["leads", "lead", "table", "user", "x-y", "contacts"])
async def test_hostile_object_names(admin: Team, name: str) -> None:
    r = await admin.post(
        "/api/v1/metadata/objects", json={"api_name": name, "label": "X", "plural_label": "Xs"}
    )
    assert_problem(r, 422)


async def test_duplicate_names_conflict(admin: Team, typed: str) -> None:
    r = await admin.post(
        "/api/v1/metadata/objects", json={"api_name": typed, "label": "X", "plural_label": "Xs"}
    )
    assert_problem(r, 409)
    r = await admin.post(
        f"/api/v1/metadata/objects/{typed}/fields",
        json={"api_name": "note", "label": "X", "type": "text"},
    )
    assert_problem(r, 409)


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"type": "picklist"}, "options"),
        ({"type": "text", "options": [{"value": "a"}]}, "options"),
        ({"type": "picklist", "options": [{"value": "a"}, {"value": "a"}]}, "options"),
        ({"type": "lookup"}, "lookup"),
        ({"type": "text", "precision": 4}, "precision"),
        ({"type": "decimal", "precision": 4, "scale": 6}, "scale"),
        ({"type": "boolean", "unique": True}, "unique"),
        ({"type": "integer", "default": "seven"}, "default"),
        ({"type": "auto_number"}, "auto_number"),
        ({"type": "lookup", "lookup": {"object": "nope_nope"}}, None),
    ],
)
async def test_bad_field_settings(
    admin: Team, typed: str, spec: dict[str, Any], field: str | None
) -> None:
    r = await admin.post(
        f"/api/v1/metadata/objects/{typed}/fields",
        json={"api_name": uniq("f"), "label": "X", **spec},
    )
    body = assert_problem(r, 404 if field is None else 422)
    if field:
        assert field in {e["field"] for e in body["errors"]}, body


async def test_picklist_of_ten_thousand_values_is_refused(admin: Team, typed: str) -> None:
    options = [{"value": f"v{i}"} for i in range(10_000)]
    r = await admin.post(
        f"/api/v1/metadata/objects/{typed}/fields",
        json={"api_name": "huge", "label": "Huge", "type": "picklist", "options": options},
    )
    body = assert_problem(r, 422)
    assert body["errors"][0]["field"].startswith("options")


async def test_safe_type_conversions(admin: Team) -> None:
    obj = (await new_object(admin))["api_name"]
    await new_field(admin, obj, "size", type="integer", indexed=True)
    await new_field(admin, obj, "code", type="text")
    await new_field(admin, obj, "kind", type="picklist", options=[{"value": "x"}, {"value": "y"}])
    r = await admin.post(f"/api/v1/objects/{obj}", json={"name": "a", "size": 3, "kind": "x"})
    rec = r.json()
    base = f"/api/v1/metadata/objects/{obj}/fields"
    r = await admin.patch(f"{base}/size", json={"type": "decimal", "scale": 1})
    assert r.status_code == 200 and r.json()["type"] == "decimal", r.text
    assert r.json()["index_state"] == "ready"
    r = await admin.patch(f"{base}/kind", json={"type": "multi_picklist"})
    assert r.status_code == 200
    got = (await admin.get(f"/api/v1/objects/{obj}/{rec['id']}")).json()
    assert got["size"] == "3.0" and got["kind"] == ["x"]
    r = await admin.get(f"/api/v1/objects/{obj}", params={"sort": "-size", "filter[size__gt]": "2"})
    assert [x["id"] for x in r.json()["data"]] == [rec["id"]]
    for field, to in (("code", "integer"), ("size", "text"), ("kind", "picklist")):
        body = assert_problem(await admin.patch(f"{base}/{field}", json={"type": to}), 422)
        assert body["errors"] == [{"field": "type", "message": body["errors"][0]["message"]}]


async def test_delete_hides_and_restore_brings_back(admin: Team) -> None:
    obj = (await new_object(admin))["api_name"]
    await new_field(admin, obj, "hours", type="integer")
    rec = (await admin.post(f"/api/v1/objects/{obj}", json={"name": "a", "hours": 4})).json()
    base = f"/api/v1/metadata/objects/{obj}/fields"
    assert (await admin.delete(f"{base}/hours")).status_code == 204
    got = (await admin.get(f"/api/v1/objects/{obj}/{rec['id']}")).json()
    assert "hours" not in got
    body = assert_problem(
        await admin.patch(f"/api/v1/objects/{obj}/{rec['id']}", json={"hours": 5}), 422
    )
    assert body["errors"][0]["field"] == "hours"
    deleted = (await admin.get(base, params={"deleted": "true"})).json()["data"]
    assert [f["api_name"] for f in deleted] == ["hours"] and deleted[0]["deleted_at"]
    assert_problem(
        await admin.post(base, json={"api_name": "hours", "label": "H", "type": "text"}), 409
    )
    r = await admin.post(f"{base}/hours/restore")
    assert r.status_code == 200, r.text
    got = (await admin.get(f"/api/v1/objects/{obj}/{rec['id']}")).json()
    assert got["hours"] == 4
    actions = [e["action"] for e in (await admin.get(f"{base}/hours/history")).json()["data"]]
    assert {"created", "deleted", "restored"} <= set(actions)


async def test_field_limit_names_the_limit(admin: Team, monkeypatch: pytest.MonkeyPatch) -> None:
    from api.custom import metadata

    obj = (await new_object(admin))["api_name"]
    await new_field(admin, obj, "one", type="text")
    monkeypatch.setattr(metadata, "MAX_FIELDS", 1)
    body = assert_problem(
        await admin.post(
            f"/api/v1/metadata/objects/{obj}/fields",
            json={"api_name": "two", "label": "Two", "type": "text"},
        ),
        422,
    )
    assert "1 custom fields" in body["detail"] and "Limit" in body["errors"][0]["message"]
    monkeypatch.setattr(metadata, "MAX_OBJECTS", 0)
    body = assert_problem(
        await admin.post(
            "/api/v1/metadata/objects", json={"api_name": "zz", "label": "Z", "plural_label": "Zs"}
        ),
        422,
    )
    assert "0 custom objects" in body["detail"]


async def test_only_admins_change_metadata(admin: Team, typed: str) -> None:
    for role in ("user", "guest"):
        member = await add_member(admin, role)
        r = await member.post(
            "/api/v1/metadata/objects", json={"api_name": "x1", "label": "X", "plural_label": "Xs"}
        )
        assert_problem(r, 403)
        r = await member.post(
            f"/api/v1/metadata/objects/{typed}/fields",
            json={"api_name": "x1", "label": "X", "type": "text"},
        )
        assert_problem(r, 403)
        assert_problem(await member.delete(f"/api/v1/metadata/objects/{typed}/fields/note"), 403)
        assert_problem(await member.delete(f"/api/v1/metadata/objects/{typed}"), 403)
    adm = await add_member(admin, "admin")
    await new_field(adm, typed, uniq("by_admin"), type="text")


async def test_metadata_and_records_are_tenant_scoped(admin: Team, typed: str, http: Any) -> None:
    other = await make_team(http)
    rec = (await admin.post(f"/api/v1/objects/{typed}", json={"name": "mine"})).json()
    assert_problem(await other.get(f"/api/v1/metadata/objects/{typed}"), 404)
    assert_problem(await other.get(f"/api/v1/metadata/objects/{typed}/fields"), 404)
    assert_problem(await other.get(f"/api/v1/objects/{typed}/{rec['id']}"), 404)
    assert_problem(await other.patch(f"/api/v1/objects/{typed}/{rec['id']}", json={}), 404)
    # The same api name in another team is another object: its records are not ours.
    await new_object(other, typed)
    r = await other.get(f"/api/v1/objects/{typed}")
    assert r.json()["data"] == []
    assert_problem(await other.get(f"/api/v1/objects/{typed}/{rec['id']}"), 404)
    assert_problem(await other.delete(f"/api/v1/objects/{typed}/{rec['id']}"), 404)


async def test_standard_objects_take_fields(admin: Team) -> None:
    name = uniq("region")
    f = await new_field(admin, "leads", name, type="picklist", options=[{"value": "EMEA"}])
    assert f["object"] == "leads"
    assert_problem(
        await admin.post(
            "/api/v1/metadata/objects/leads/fields",
            json={"api_name": "email", "label": "E", "type": "text"},
        ),
        422,
    )
