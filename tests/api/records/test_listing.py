"""Lists: limit, cursor pagination, filters with operators, sort, sparse fields."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

import msgspec

from tests.api.records.conftest import SPECS, Spec, create, email, new_lead, uniq
from tests.conftest import Team, assert_problem


async def batch_create(team: Team, plural: str, items: list[dict[str, Any]]) -> list[dict]:
    r = await team.post(f"/api/v1/{plural}/batch", json={"items": items})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert all(x["status"] == 201 for x in results), results
    return [x["record"] for x in results]


async def page_all(team: Team, plural: str, limit: int, **params: str) -> list[dict]:
    """Walk every page; check the envelope on each."""
    rows: list[dict] = []
    cursor = None
    for _ in range(500):
        q = {**params, "limit": str(limit)}
        if cursor:
            q["cursor"] = cursor
        r = await team.get(f"/api/v1/{plural}", params=q)
        assert r.status_code == 200, r.text
        page = r.json()
        assert set(page) == {"data", "next_cursor", "has_more"}
        assert len(page["data"]) <= limit
        rows += page["data"]
        assert page["has_more"] == (page["next_cursor"] is not None)
        if not page["has_more"]:
            return rows
        cursor = page["next_cursor"]
    raise AssertionError("pagination does not end")


RATINGS = [None, 3, None, 4.5, 3, 3, None, 1, 5, 5, 0, None, 4.5]


def expected_by_rating(rows: list[dict], desc: bool) -> list[str]:
    """NULLs last in both directions; ties broken by id in the sort's direction."""
    by_id = sorted(rows, key=lambda r: r["id"], reverse=desc)
    sign = -1 if desc else 1
    return [
        r["id"]
        for r in sorted(by_id, key=lambda r: (r["rating"] is None, sign * (r["rating"] or 0)))
    ]


async def test_sort_and_paginate_nullable_field_with_ties(team: Team) -> None:
    rows = await batch_create(
        team, "leads", [{"first_name": f"L{i}", "rating": x} for i, x in enumerate(RATINGS)]
    )
    for desc in (False, True):
        sort = ("-" if desc else "") + "rating"
        want = expected_by_rating(rows, desc)
        for limit in (1, 2, 3, 5, 13, 50):
            got = [r["id"] for r in await page_all(team, "leads", limit, sort=sort)]
            assert got == want, (sort, limit)
    # Two keys, mixed directions, both with NULLs: each row exactly once, same order as one page.
    for sort in ("rating,-first_name", "-rating,last_name", "last_name,rating", "-title"):
        one_page = [r["id"] for r in await page_all(team, "leads", 1000, sort=sort)]
        assert sorted(one_page) == sorted(r["id"] for r in rows)
        for limit in (1, 4):
            assert [r["id"] for r in await page_all(team, "leads", limit, sort=sort)] == one_page


def _filter_value(v: Any) -> str:
    if isinstance(v, dict | list):
        return json.dumps(v)
    if isinstance(v, bool):
        return str(v).lower()
    return str(v)


async def test_every_field_can_be_filtered_and_sorted(team: Team, spec: Spec) -> None:
    records = []
    for _ in range(3):
        body = await spec.payload(team)
        if spec.plural == "call-logs":
            body["ai_suggestions"] = {"tips": [uniq()]}
        body["custom"] = {"tier": uniq("t")}
        r = await team.post(f"/api/v1/{spec.plural}", json=body)
        assert r.status_code == 201, r.text
        records.append(r.json())
    target = records[1]
    for field, value in target.items():
        if value is None:
            params = {f"filter[{field}__isnull]": "true"}
        else:
            params = {f"filter[{field}]": _filter_value(value)}
        r = await team.get(f"/api/v1/{spec.plural}", params={**params, "limit": "1000"})
        assert r.status_code == 200, (field, r.text)
        ids = [x["id"] for x in r.json()["data"]]
        assert target["id"] in ids, (field, value)
        for desc in ("", "-"):
            r = await team.get(f"/api/v1/{spec.plural}", params={"sort": desc + field})
            assert r.status_code == 200, (field, r.text)
            got = [x["id"] for x in await page_all(team, spec.plural, 2, sort=desc + field)]
            assert got == [x["id"] for x in r.json()["data"]], field
            assert sorted(got) == sorted(x["id"] for x in r.json()["data"])
        r = await team.get(f"/api/v1/{spec.plural}", params={"fields": field})
        assert r.status_code == 200 and all(set(x) <= {"id", field} for x in r.json()["data"])


async def test_filter_operators(team: Team) -> None:
    a = await new_lead(
        team,
        first_name="Alice",
        rating=1,
        source="web",
        status="new",
        company_name="Acme_Corp 100%",
        custom={"tier": "gold", "tags": ["a", "b"]},
    )
    b = await new_lead(
        team,
        first_name="Bob",
        rating=3,
        source="referral",
        status="contacted",
        company_name="Bobs",
        custom={"tier": "silver", "tags": ["b"]},
    )
    c = await new_lead(
        team,
        first_name="Carol",
        rating=None,
        source=None,
        status="qualified",
        company_name="Carol AG",
        custom={},
    )

    async def ids(**params: str) -> set[str]:
        r = await team.get("/api/v1/leads", params=params)
        assert r.status_code == 200, r.text
        return {x["id"] for x in r.json()["data"]}

    A, B, C = a["id"], b["id"], c["id"]
    assert await ids(**{"filter[status]": "new"}) == {A}
    assert await ids(**{"filter[status__in]": "new,qualified"}) == {A, C}
    assert await ids(**{"filter[status__ne]": "new"}) == {B, C}
    assert await ids(**{"filter[rating__gt]": "1"}) == {B}
    assert await ids(**{"filter[rating__gte]": "1"}) == {A, B}
    assert await ids(**{"filter[rating__lt]": "10"}) == {A, B}
    assert await ids(**{"filter[rating__lte]": "1.0"}) == {A}
    assert await ids(**{"filter[rating__isnull]": "true"}) == {C}
    assert await ids(**{"filter[rating__isnull]": "false"}) == {A, B}
    assert await ids(**{"filter[source__isnull]": "true"}) == {C}
    # __contains on text: case-insensitive substring, wildcards taken literally.
    assert await ids(**{"filter[first_name__contains]": "o"}) == {B, C}
    assert await ids(**{"filter[company_name__contains]": "_corp 100%"}) == {A}
    assert await ids(**{"filter[company_name__contains]": "%"}) == {A}
    # email equality is case-insensitive.
    assert await ids(**{"filter[email]": a["email"].upper()}) == {A}
    # Custom fields by key, and membership in a list inside JSON.
    assert await ids(**{"filter[custom.tier]": "gold"}) == {A}
    assert await ids(**{"filter[custom__contains]": '{"tags": ["b"]}'}) == {A, B}
    assert await ids(**{"filter[custom__contains]": "tier"}) == {A, B}
    assert await ids(**{"filter[custom]": "{}"}) == {C}
    # Timestamps: created_at ranges (a "+" left unescaped in the URL arrives as a space).
    assert await ids(**{"filter[created_at__gt]": a["created_at"]}) == {B, C}
    assert await ids(**{"filter[created_at__lte]": b["created_at"]}) == {A, B}
    raw = a["created_at"].replace("Z", "+00:00")
    r = await team.get(f"/api/v1/leads?filter[created_at__gt]={raw}")
    assert r.status_code == 200 and {x["id"] for x in r.json()["data"]} == {B, C}
    # Several filters AND together.
    assert await ids(**{"filter[rating__gte]": "1", "filter[source]": "referral"}) == {B}


async def test_limits_and_defaults(team: Team) -> None:
    await batch_create(team, "leads", [{"first_name": f"N{i}"} for i in range(55)])
    page = (await team.get("/api/v1/leads")).json()
    assert len(page["data"]) == 50 and page["has_more"] and page["next_cursor"]
    # Default order: newest first.
    created = [x["created_at"] for x in page["data"]]
    assert created == sorted(created, reverse=True)
    rest = (await team.get("/api/v1/leads", params={"cursor": page["next_cursor"]})).json()
    assert len(rest["data"]) == 5 and rest["has_more"] is False and rest["next_cursor"] is None
    assert len((await team.get("/api/v1/leads", params={"limit": "1000"})).json()["data"]) == 55
    for bad in ("0", "1001", "-1", "ten"):
        p = assert_problem(await team.get("/api/v1/leads", params={"limit": bad}), 400)
        assert p["errors"][0]["field"] == "limit"


async def test_sparse_fields(team: Team) -> None:
    lead = await new_lead(team, rating=2)
    r = await team.get("/api/v1/leads", params={"fields": "email,rating"})
    assert r.json()["data"] == [{"id": lead["id"], "email": lead["email"], "rating": 2}]
    assert_problem(await team.get("/api/v1/leads", params={"fields": "email,team_id"}), 400)


async def test_bad_list_parameters_are_400(team: Team) -> None:
    await new_lead(team)
    good = (await team.get("/api/v1/leads", params={"limit": "1", "sort": "rating"})).json()
    await new_lead(team)
    good = (await team.get("/api/v1/leads", params={"limit": "1", "sort": "rating"})).json()
    assert good["next_cursor"]
    forged = base64.urlsafe_b64encode(msgspec.json.encode(["zz", [1, 2]])).decode()
    wrong_types = json.loads(base64.urlsafe_b64decode(good["next_cursor"] + "=="))
    wrong_types[1] = [{"x": 1}, ["y"]]
    wrong_types_cursor = base64.urlsafe_b64encode(json.dumps(wrong_types).encode()).decode()
    cases: list[dict[str, str]] = [
        {"filter[nope]": "1"},
        {"filter[team_id]": "x"},
        {"filter[deleted_at__isnull]": "true"},
        {"filter[status__like]": "x"},
        {"filter[rating]": "high"},
        {"filter[rating]": "NaN"},
        {"filter[rating__lt]": "1e999999999"},
        {"filter[reviews_count]": "99999999999999999999"},
        {"filter[created_at__gt]": "yesterday"},
        {"filter[rating__contains]": "4"},
        {"filter[custom]": "{not json"},
        {"filter[first_name]": "a\x00b"},
        {"sort": "nope"},
        {"sort": "-team_id"},
        {"sort": "rating,rating"},
        {"sort": "-"},
        {"cursor": "garbage"},
        {"cursor": "%%%"},
        {"cursor": forged},
        {"cursor": good["next_cursor"]},  # belongs to sort=rating, not the default sort
        {"cursor": good["next_cursor"], "sort": "rating", "limit": "1", "x": "1"},
        {"cursor": wrong_types_cursor, "sort": "rating"},
        {"page": "2"},
    ]
    for params in cases:
        assert_problem(await team.get("/api/v1/leads", params=params), 400)
    assert_problem(await team.get(f"/api/v1/leads?filter[first_name]={quote(chr(0))}"), 400)


async def test_lists_are_per_team(team: Team, other_team: Team) -> None:
    mine = await new_lead(team, email=email("m"))
    theirs = await new_lead(other_team, email=mine["email"])  # same email in another team: fine
    for who, own, foreign in ((team, mine, theirs), (other_team, theirs, mine)):
        data = (await who.get("/api/v1/leads")).json()["data"]
        assert [x["id"] for x in data] == [own["id"]]
        r = await who.get("/api/v1/leads", params={"filter[id]": foreign["id"]})
        assert r.json()["data"] == []
        r = await who.get("/api/v1/leads", params={"filter[email]": mine["email"]})
        assert [x["id"] for x in r.json()["data"]] == [own["id"]]
    for spec in SPECS:
        r = await other_team.get(f"/api/v1/{spec.plural}", params={"limit": "1000"})
        assert r.status_code == 200
        assert all(x["id"] != mine["id"] for x in r.json()["data"])


async def test_json_fields_filter_and_sort_with_nulls(team: Team) -> None:
    lead = await new_lead(team)
    calls = []
    for tips in (None, {"tips": ["a"]}, None, {"tips": ["b"]}, {"score": 1}):
        body = {"lead_id": lead["id"], **({"ai_suggestions": tips} if tips else {})}
        calls.append(await create(team, "call-logs", body))
    # Stored as SQL NULL or JSON null: both count as no value.
    nulls = {c["id"] for c in calls if c["ai_suggestions"] is None}
    r = await team.get("/api/v1/call-logs", params={"filter[ai_suggestions__isnull]": "true"})
    assert {x["id"] for x in r.json()["data"]} == nulls
    r = await team.get(
        "/api/v1/call-logs", params={"filter[ai_suggestions__contains]": '{"tips": ["b"]}'}
    )
    assert [x["id"] for x in r.json()["data"]] == [calls[3]["id"]]
    r = await team.get("/api/v1/call-logs", params={"filter[ai_suggestions__contains]": "score"})
    assert [x["id"] for x in r.json()["data"]] == [calls[4]["id"]]
    for sort in ("ai_suggestions", "-ai_suggestions"):
        whole = [x["id"] for x in await page_all(team, "call-logs", 1000, sort=sort)]
        assert sorted(whole) == sorted(c["id"] for c in calls)
        assert [x["id"] for x in await page_all(team, "call-logs", 1, sort=sort)] == whole
        # NULLs last in both directions
        assert set(whole[-len(nulls) :]) == nulls, (sort, whole)
    assert_problem(
        await team.get("/api/v1/call-logs", params={"filter[ai_suggestions__in]": "x"}), 400
    )
