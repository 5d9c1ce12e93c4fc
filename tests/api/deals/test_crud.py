"""Deal CRUD through the common machinery: contacts with roles, list filters/sort/cursor,
If-Match, Idempotency-Key, events, soft delete, as_of."""

from __future__ import annotations

from tests.api.deals.conftest import Sql, move, new_contact, new_deal, new_lead
from tests.conftest import Team, assert_problem


async def test_contacts_roles_and_events(team: Team, sql: Sql) -> None:
    c1, c2 = await new_contact(team), await new_contact(team)
    lead = await new_lead(team)
    d = await new_deal(
        team,
        lead_id=lead["id"],
        contacts=[{"contact_id": c1["id"], "role": "champion"}, {"contact_id": c2["id"]}],
        custom={"budget": "approved"},
    )
    assert sorted((c["contact_id"], c["role"]) for c in d["contacts"]) == sorted(
        [(c1["id"], "champion"), (c2["id"], None)]
    )
    r = await team.patch(
        f"/api/v1/deals/{d['id']}", json={"contacts": [{"contact_id": c2["id"], "role": "buyer"}]}
    )
    assert r.status_code == 200, r.text
    assert r.json()["contacts"] == [{"contact_id": c2["id"], "role": "buyer"}]
    assert (await team.get(f"/api/v1/deals/{d['id']}")).json() == r.json()
    evts = await sql.events(d["id"])
    assert evts[0]["action"] == "created" and len(evts[0]["changes"]["contacts"][1]) == 2
    assert evts[1]["changes"]["contacts"][1] == [{"contact_id": c2["id"], "role": "buyer"}]
    p = assert_problem(
        await team.patch(
            f"/api/v1/deals/{d['id']}",
            json={"contacts": [{"contact_id": c1["id"]}, {"contact_id": c1["id"]}]},
        ),
        422,
    )
    assert p["errors"][0]["field"] == "contacts[1].contact_id"


async def test_list_filter_sort_cursor(team: Team) -> None:
    made = [await new_deal(team, value=v, currency="GBP") for v in (300, 100, 200)]
    await move(team, made[0]["id"], "contact_made")
    r = await team.get("/api/v1/deals?filter[currency]=GBP&sort=value&limit=2")
    body = r.json()
    assert [d["value"] for d in body["data"]] == ["100.00", "200.00"] and body["has_more"]
    r2 = await team.get(
        f"/api/v1/deals?filter[currency]=GBP&sort=value&limit=2&cursor={body['next_cursor']}"
    )
    assert [d["value"] for d in r2.json()["data"]] == ["300.00"]
    r = await team.get("/api/v1/deals?filter[stage]=contact_made&fields=name,stage")
    assert r.json()["data"] == [
        {"id": made[0]["id"], "name": made[0]["name"], "stage": "contact_made"}
    ]
    r = await team.get("/api/v1/deals?filter[value__gte]=200&filter[currency]=GBP")
    assert len(r.json()["data"]) == 2


async def test_date_and_position_filters_sorts_and_cursors(team: Team) -> None:
    """Date and double precision fields filter, sort and page like the others (their filter
    values and cursor values reached SQL as text: a 500 for any value)."""
    dates = ["2026-05-01", None, "2026-03-01", "2026-04-01"]
    made = [await new_deal(team, expected_close_date=d, currency="NZD") for d in dates]
    base = {"filter[currency]": "NZD"}
    r = await team.get(
        "/api/v1/deals", params={**base, "filter[expected_close_date]": "2026-03-01"}
    )
    assert r.status_code == 200, r.text
    assert [d["id"] for d in r.json()["data"]] == [made[2]["id"]]
    r = await team.get(
        "/api/v1/deals", params={**base, "filter[expected_close_date__gte]": "2026-04-01"}
    )
    assert {d["id"] for d in r.json()["data"]} == {made[0]["id"], made[3]["id"]}
    r = await team.get(
        "/api/v1/deals", params={**base, "filter[actual_close_date__isnull]": "true"}
    )
    assert len(r.json()["data"]) == 4
    positions = sorted(d["position"] for d in made)
    r = await team.get("/api/v1/deals", params={**base, "filter[position__gte]": positions[2]})
    assert r.status_code == 200 and len(r.json()["data"]) == 2, r.text
    for sort, want in (
        ("expected_close_date", [made[2], made[3], made[0], made[1]]),
        ("-position", sorted(made, key=lambda d: -d["position"])),
    ):
        seen: list[str] = []
        cursor = None
        for _ in range(5):
            q = {**base, "sort": sort, "limit": "1", **({"cursor": cursor} if cursor else {})}
            page = (await team.get("/api/v1/deals", params=q)).json()
            seen += [d["id"] for d in page["data"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == [d["id"] for d in want], sort
    for field, value in (
        ("expected_close_date", "2026-02-30"),
        ("expected_close_date__lt", "10000-01-01"),
        ("actual_close_date", "2026-03-01T00:00:00Z"),
        ("position", "NaN"),
        ("position__gt", "Infinity"),
        ("position", "0x10"),
    ):
        p = assert_problem(await team.get("/api/v1/deals", params={f"filter[{field}]": value}), 400)
        assert p["errors"][0]["field"] == f"filter[{field.split('__')[0]}]", p


async def test_if_match_and_idempotency(team: Team, sql: Sql) -> None:
    d = await new_deal(team)
    r = await team.patch(
        f"/api/v1/deals/{d['id']}", json={"next_step": "call"}, headers={"If-Match": '"1"'}
    )
    assert r.status_code == 200 and r.headers["ETag"] == '"2"'
    assert_problem(
        await team.patch(
            f"/api/v1/deals/{d['id']}", json={"next_step": "x"}, headers={"If-Match": '"1"'}
        ),
        412,
    )
    assert_problem(await move(team, d["id"], "contact_made", headers={"If-Match": '"1"'}), 412)
    r = await move(team, d["id"], "contact_made", headers={"If-Match": '"2"'})
    assert r.status_code == 200 and r.json()["version"] == 3
    key = {"Idempotency-Key": "deal-create-1"}
    a = await team.post("/api/v1/deals", json={"name": "Once"}, headers=key)
    b = await team.post("/api/v1/deals", json={"name": "Once"}, headers=key)
    assert a.status_code == b.status_code == 201 and a.json()["id"] == b.json()["id"]
    assert (
        len(
            await sql.all(
                "SELECT 1 FROM app.deals WHERE team_id = %s AND name = 'Once'", team.team_id
            )
        )
        == 1
    )


async def test_delete_restore_history_as_of(team: Team) -> None:
    d = await new_deal(team, value=10)
    moved = (await move(team, d["id"], "contact_made")).json()
    r = await team.get(f"/api/v1/deals/{d['id']}?as_of={d['updated_at']}")
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "qualified" and r.json()["value"] == "10.00"
    hist = (await team.get(f"/api/v1/deals/{d['id']}/history")).json()["data"]
    assert any(h["field"] == "stage" and h["new"] == "contact_made" for h in hist)
    assert (await team.delete(f"/api/v1/deals/{d['id']}")).status_code == 204
    assert_problem(await team.get(f"/api/v1/deals/{d['id']}"), 404)
    assert_problem(await move(team, d["id"], "qualified"), 404)
    r = await team.post(f"/api/v1/deals/{d['id']}/restore")
    assert r.status_code == 200 and r.json()["stage"] == moved["stage"]


async def test_move_with_idempotency_key_happens_once(team: Team, sql: Sql) -> None:
    d = await new_deal(team)
    key = {"Idempotency-Key": f"move-{d['id']}"}
    a = await move(team, d["id"], "contact_made", headers=key)
    b = await move(team, d["id"], "contact_made", headers=key)
    assert a.status_code == b.status_code == 200 and a.json() == b.json()
    hist = (await team.get(f"/api/v1/deals/{d['id']}/stage-history")).json()["data"]
    assert len(hist) == 2
    # The same key with another body is refused, not replayed.
    r = await move(team, d["id"], "demo_scheduled", headers=key)
    assert 400 <= r.status_code < 500
