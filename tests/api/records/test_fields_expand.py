"""Sparse fieldsets (``fields=name,email,custom.region``: the record's own shape, ``custom``
nested) and ``expand=owner`` / ``expand=account`` (one level, beside the ``_id``) on every read
and list of the shared record machinery."""

from __future__ import annotations

from typing import Any

from tests.conftest import Team, assert_problem


async def _contact(team: Team) -> tuple[dict[str, Any], dict[str, Any]]:
    acct = await team.post(
        "/api/v1/accounts", json={"name": "Acme", "domain": "acme.com", "owner_id": team.member_id}
    )
    assert acct.status_code == 201, acct.text
    r = await team.post(
        "/api/v1/contacts",
        json={
            "first_name": "Ada",
            "email": f"ada-{team.team_id[-6:].lower()}@acme.com",
            "account_id": acct.json()["id"],
            "owner_id": team.member_id,
            "custom": {"region": "EU", "tier": "gold"},
        },
    )
    assert r.status_code == 201, r.text
    return acct.json(), r.json()


async def test_fields_keep_the_records_shape(team: Team) -> None:
    _acct, contact = await _contact(team)
    r = await team.get(
        f"/api/v1/contacts/{contact['id']}", params={"fields": "first_name,email,custom.region"}
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "id": contact["id"],
        "first_name": "Ada",
        "email": contact["email"],
        "custom": {"region": "EU"},
    }
    r = await team.get("/api/v1/contacts", params={"fields": "custom.tier,custom.nope"})
    assert r.json()["data"] == [{"id": contact["id"], "custom": {"tier": "gold"}}]
    for bad in ("nope", "custom.", "first_name,secret"):
        assert_problem(await team.get("/api/v1/contacts", params={"fields": bad}), 400)
        assert_problem(
            await team.get(f"/api/v1/contacts/{contact['id']}", params={"fields": bad}), 400
        )


async def test_expand_owner_and_account(team: Team) -> None:
    acct, contact = await _contact(team)
    r = await team.get(f"/api/v1/contacts/{contact['id']}", params={"expand": "owner,account"})
    assert r.status_code == 200, r.text
    body = r.json()
    owner = {"id": team.member_id, "name": body["owner"]["name"], "email": team.email}
    assert body["owner"] == owner and body["owner_id"] == team.member_id
    assert body["owner"]["name"]
    assert body["account"] == {"id": acct["id"], "name": "Acme", "domain": "acme.com"}
    assert body["first_name"] == "Ada"  # the rest of the record is there
    r = await team.get(
        "/api/v1/contacts", params={"expand": "account", "fields": "first_name,account_id"}
    )
    assert r.json()["data"] == [
        {
            "id": contact["id"],
            "first_name": "Ada",
            "account_id": acct["id"],
            "account": {"id": acct["id"], "name": "Acme", "domain": "acme.com"},
        }
    ]
    r = await team.get("/api/v1/accounts", params={"expand": "owner"})
    assert r.json()["data"][0]["owner"]["id"] == team.member_id
    # Nothing to expand: null beside the empty id.
    lead = (await team.post("/api/v1/leads", json={"first_name": "Lin"})).json()
    r = await team.get(f"/api/v1/leads/{lead['id']}", params={"expand": "owner"})
    assert r.json()["owner"] is None or r.json()["owner"]["id"] == r.json()["owner_id"]
    assert_problem(await team.get("/api/v1/leads", params={"expand": "account"}), 400)
    assert_problem(await team.get("/api/v1/contacts", params={"expand": "team"}), 400)
