"""Errors are RFC 9457 problem documents: never a 500, never a partial write."""

from __future__ import annotations

import pytest

from tests.api.records.conftest import SPECS, Spec, Sql, new_account, new_lead
from tests.conftest import Team, assert_problem

JSON = {"content-type": "application/json"}


async def test_malformed_and_missing_bodies(team: Team, spec: Spec) -> None:
    rec = (await team.post(f"/api/v1/{spec.plural}", json=await spec.payload(team))).json()
    for method, url in (
        ("POST", f"/api/v1/{spec.plural}"),
        ("PATCH", f"/api/v1/{spec.plural}/{rec['id']}"),
        ("POST", f"/api/v1/{spec.plural}/batch"),
    ):
        # Invalid UTF-8 inside a string was a 500 (msgspec raises UnicodeDecodeError as is).
        for raw in (b"{bad", b'{"a": 1', b"\xff\xfe", b"[1, 2,]", b"nul", b'{"a": "\xff\xfe"}'):
            r = await team.request(method, url, content=raw, headers=JSON)
            assert assert_problem(r, 400)["detail"], (method, url, raw)
        assert_problem(await team.request(method, url, content=b"", headers=JSON), 400)
        for raw in (b"[]", b"1", b'"x"', b"null"):
            assert_problem(await team.request(method, url, content=raw, headers=JSON), 422)
        # A body labelled as something else than JSON is not read as JSON.
        for media in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
            r = await team.request(
                method, url, content=b'{"a": 1}', headers={"content-type": media}
            )
            assert assert_problem(r, 415)["errors"][0]["field"] == "Content-Type"
        for media in ("application/json; charset=utf-8", "application/merge-patch+json"):
            r = await team.request(method, url, content=b"[]", headers={"content-type": media})
            assert_problem(r, 422)  # read as JSON (and refused for its shape)


async def test_validation_names_every_bad_field(team: Team, sql: Sql) -> None:
    before = await sql.snapshot(team.team_id)
    r = await team.post(
        "/api/v1/leads",
        json={
            "first_name": 5,
            "rating": 7,
            "website_score": 101,
            "email": "not-an-email",
            "status": "hot",
            "reviews_count": -1,
            "owner_id": "x",
            "bogus": True,
            "custom": [],
        },
    )
    p = assert_problem(r, 422)
    assert {e["field"] for e in p["errors"]} == {
        "first_name",
        "rating",
        "website_score",
        "email",
        "status",
        "reviews_count",
        "owner_id",
        "bogus",
        "custom",
    }
    assert all(e["message"] for e in p["errors"])
    assert p["title"] and p["type"].startswith("https://")
    assert await sql.snapshot(team.team_id) == before


@pytest.mark.parametrize(
    ("plural", "body", "field"),
    [
        ("leads", {"first_name": "a", "rating": 7}, "rating"),
        ("leads", {"first_name": "a", "rating": -0.1}, "rating"),
        ("leads", {"first_name": "a", "rating": "4"}, "rating"),  # no string coercion
        ("leads", {"first_name": "a", "website_score": 101}, "website_score"),
        ("leads", {"first_name": "a", "website_score": 50.5}, "website_score"),
        ("leads", {"first_name": "a", "reviews_count": "10"}, "reviews_count"),
        ("leads", {"first_name": "a", "status": None}, "status"),
        ("leads", {"first_name": "x" * 1001}, "first_name"),
        ("leads", {"first_name": "a\u0000b"}, "first_name"),
        ("leads", {"first_name": "a", "custom": {"k": [1, {"x": "\u0000"}]}}, None),
        ("leads", {"first_name": "a", "phone": "call me"}, "phone"),
        ("contacts", {"first_name": "a", "email": "a@b"}, "email"),
        ("contacts", {"first_name": "a", "account_id": 12}, "account_id"),
        ("accounts", {"domain": "x.com"}, "name"),
        ("accounts", {"name": None}, "name"),
        ("accounts", {"name": "a", "website": "not a url"}, "website"),
        ("call-logs", {"duration": -1}, "duration"),
        ("call-logs", {"duration": "60"}, "duration"),
        ("call-logs", {"direction": "sideways"}, "direction"),
        ("call-logs", {"started_at": "last tuesday"}, "started_at"),
        ("call-logs", {"started_at": 1700000000}, "started_at"),
        # Outside 1700-01-01 .. 4000-12-31, or beyond year 9999 once in UTC.
        ("call-logs", {"started_at": "9999-12-31T20:00:00-05:00"}, "started_at"),
        ("call-logs", {"started_at": "0001-01-01T05:00:00+06:00"}, "started_at"),
        ("call-logs", {"started_at": "1699-12-31T23:59:59Z"}, "started_at"),
        ("call-logs", {"started_at": "4001-01-01T00:00:00Z"}, "started_at"),
    ],
)
async def test_bad_values_are_422(team: Team, plural: str, body: dict, field: str | None) -> None:
    if plural == "call-logs":
        body = {"lead_id": (await new_lead(team))["id"], **body}
    p = assert_problem(await team.post(f"/api/v1/{plural}", json=body), 422)
    if field:
        assert field in {e["field"] for e in p["errors"]}, p


async def test_patch_validation(team: Team) -> None:
    lead = await new_lead(team)
    url = f"/api/v1/leads/{lead['id']}"
    p = assert_problem(await team.patch(url, json={"rating": 7, "website_score": -1}), 422)
    assert {e["field"] for e in p["errors"]} == {"rating", "website_score"}
    call = (await team.post("/api/v1/call-logs", json={"lead_id": lead["id"]})).json()
    p = assert_problem(
        await team.patch(f"/api/v1/call-logs/{call['id']}", json={"duration": -1}), 422
    )
    assert p["errors"][0]["field"] == "duration"
    assert (await team.get(url)).json()["version"] == 1


async def test_references_to_another_team_are_422(team: Team, other_team: Team, sql: Sql) -> None:
    theirs_account = await new_account(other_team)
    theirs_lead = await new_lead(other_team)
    mine = await new_lead(team)
    my_account = await new_account(team)
    my_contact = (await team.post("/api/v1/contacts", json={"first_name": "c"})).json()
    before = await sql.snapshot(team.team_id)
    cases = [
        (
            "POST",
            "/api/v1/leads",
            {"first_name": "a", "owner_id": other_team.member_id},
            "owner_id",
        ),
        ("POST", "/api/v1/accounts", {"name": "a", "owner_id": other_team.member_id}, "owner_id"),
        (
            "POST",
            "/api/v1/contacts",
            {"first_name": "a", "account_id": theirs_account["id"]},
            "account_id",
        ),
        (
            "POST",
            "/api/v1/contacts",
            {"first_name": "a", "owner_id": other_team.member_id},
            "owner_id",
        ),
        ("POST", "/api/v1/call-logs", {"lead_id": theirs_lead["id"]}, "lead_id"),
        (
            "POST",
            "/api/v1/call-logs",
            {"lead_id": mine["id"], "member_id": other_team.member_id},
            "member_id",
        ),
        ("PATCH", f"/api/v1/leads/{mine['id']}", {"owner_id": other_team.member_id}, "owner_id"),
        (
            "PATCH",
            f"/api/v1/accounts/{my_account['id']}",
            {"owner_id": other_team.member_id},
            "owner_id",
        ),
        (
            "PATCH",
            f"/api/v1/contacts/{my_contact['id']}",
            {"account_id": theirs_account["id"]},
            "account_id",
        ),
    ]
    for method, url, body, field in cases:
        p = assert_problem(await team.request(method, url, json=body), 422)
        assert [e["field"] for e in p["errors"]] == [field], (url, body, p)
    # Two bad references at once: both named.
    p = assert_problem(
        await team.post(
            "/api/v1/contacts",
            json={
                "first_name": "a",
                "account_id": theirs_account["id"],
                "owner_id": other_team.member_id,
            },
        ),
        422,
    )
    assert {e["field"] for e in p["errors"]} == {"account_id", "owner_id"}
    # A deleted account cannot be referenced either.
    await team.delete(f"/api/v1/accounts/{my_account['id']}")
    p = assert_problem(
        await team.post(
            "/api/v1/contacts", json={"first_name": "a", "account_id": my_account["id"]}
        ),
        422,
    )
    assert p["errors"][0]["field"] == "account_id"
    after = await sql.snapshot(team.team_id)
    assert after == {**before, "events": before["events"] + 1}  # only the account delete


async def test_bad_ids_are_404(team: Team, spec: Spec) -> None:
    for rid in (
        f"{spec.prefix}_01ARZ3NDEKTSV4RRFFQ69G5FAV",
        "nope",
        "lead_%00",
        "%20",
        "x" * 300,
        "acct_01ARZ3NDEKTSV4RRFFQ69G5FAV",
    ):
        url = f"/api/v1/{spec.plural}/{rid}"
        assert_problem(await team.get(url), 404)
        assert_problem(await team.patch(url, json={}), 404)
        assert_problem(await team.delete(url), 404)
        assert_problem(await team.get(f"{url}/history"), 404)
        assert_problem(await team.post(f"{url}/restore"), 404)
        assert_problem(await team.get(url, params={"as_of": "2030-01-01T00:00:00Z"}), 404)
    assert_problem(await team.post("/api/v1/leads/lead_%00/convert"), 404)


async def test_large_body_is_413(team: Team, sql: Sql) -> None:
    before = await sql.snapshot(team.team_id)
    big = {"first_name": "a", "custom": {"blob": "x" * (1024 * 1024)}}
    for url in ("/api/v1/leads", "/api/v1/leads/batch"):
        body = big if url.endswith("leads") else {"items": [big]}
        assert_problem(await team.post(url, json=body), 413)
    lead = await new_lead(team)
    assert_problem(await team.patch(f"/api/v1/leads/{lead['id']}", json=big), 413)
    assert (await sql.snapshot(team.team_id))["leads"] == before["leads"] + 1


async def test_bad_headers_and_params(team: Team) -> None:
    lead = await new_lead(team)
    url = f"/api/v1/leads/{lead['id']}"
    for bad in ("abc", '"x"', 'W/"1.5"', '"1", "2"', ""):
        p = assert_problem(
            await team.patch(url, json={"title": "t"}, headers={"If-Match": bad}), 400
        )
        assert p["errors"][0]["field"] == "If-Match"
    assert_problem(await team.delete(url, headers={"If-Match": "nope"}), 400)
    assert_problem(await team.get(url, params={"expand": "all"}), 400)
    assert_problem(await team.get(url, params={"as_of": "tomorrow"}), 400)
    assert (await team.get(url)).json()["version"] == 1


async def test_auth_and_routing_problems(team: Team, http) -> None:  # type: ignore[no-untyped-def]
    for spec in SPECS:
        assert_problem(await http.get(f"/api/v1/{spec.plural}"), 401)
        assert_problem(await http.post(f"/api/v1/{spec.plural}", json={}), 401)
    assert_problem(await team.get("/api/v1/leads/x/y/z"), 404)
    assert_problem(await team.request("PUT", "/api/v1/leads"), 405)


async def test_hostile_json_values(team: Team, sql: Sql) -> None:
    before = await sql.snapshot(team.team_id)
    deep = b'{"first_name": "a", "custom": {"x": ' + b"[" * 40 + b"]" * 40 + b"}}"
    p = assert_problem(await team.post("/api/v1/leads", content=deep, headers=JSON), 422)
    assert p["errors"][0]["field"] == "custom"
    deeper = b'{"first_name": "a", "custom": {"x": ' + b"[" * 5000 + b"]" * 5000 + b"}}"
    assert_problem(await team.post("/api/v1/leads", content=deeper, headers=JSON), 422)
    for body in (
        {"first_name": "a", "custom": {"x": "a\u0000"}},
        {"first_name": "a", "custom": {"k\u0000": 1}},
    ):
        p = assert_problem(await team.post("/api/v1/leads", json=body), 422)
        assert p["errors"][0]["field"] == "custom"
    for raw in (b'{"first_name": "\\ud800"}', b'{"first_name": "a", "custom": {"x": 1e400}}'):
        assert_problem(await team.post("/api/v1/leads", content=raw, headers=JSON), 400)
    # In a batch, a NUL fails only its own item.
    r = await team.post(
        "/api/v1/leads/batch",
        json={"items": [{"first_name": "ok"}, {"first_name": "x", "custom": {"x": "\u0000"}}]},
    )
    assert [x["status"] for x in r.json()["results"]] == [201, 422]
    after = await sql.snapshot(team.team_id)
    assert after["leads"] == before["leads"] + 1
