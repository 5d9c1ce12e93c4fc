"""POST /leads/{id}/convert: contact + account (matched by domain), 409 twice, link contacts."""

from __future__ import annotations

from tests.api.records.conftest import Sql, add_member, new_account, new_contact, new_lead, uniq
from tests.conftest import Team, assert_problem


async def test_convert_creates_contact_and_account(team: Team, sql: Sql) -> None:
    domain = f"{uniq('conv')}.com"
    lead = await new_lead(
        team,
        first_name="Ann",
        last_name="Lee",
        email=f"ann@{domain}",
        phone="+44 20 7946 0000",
        title="VP",
        company_name="Conv Ltd",
        industry="Retail",
        custom={"k": "v"},
    )
    r = await team.post(f"/api/v1/leads/{lead['id']}/convert")
    assert r.status_code == 201, r.text
    out = r.json()
    contact, account, converted = out["contact"], out["account"], out["lead"]
    assert out["linked_contact"] is False
    assert converted["status"] == "converted" and converted["converted_at"]
    assert converted["converted_contact_id"] == contact["id"]
    assert converted["converted_account_id"] == account["id"]
    assert account["name"] == "Conv Ltd" and account["domain"] == domain
    assert account["industry"] == "Retail"
    for f in ("first_name", "last_name", "email", "phone", "title", "custom"):
        assert contact[f] == lead[f], f
    assert contact["lead_id"] == lead["id"] and contact["account_id"] == account["id"]
    assert (await team.get(f"/api/v1/contacts/{contact['id']}")).json() == contact
    assert (await team.get(f"/api/v1/leads/{lead['id']}")).json() == converted
    # Converting twice is a conflict naming what it became, and writes nothing.
    before = await sql.snapshot(team.team_id)
    p = assert_problem(await team.post(f"/api/v1/leads/{lead['id']}/convert"), 409)
    assert p["contact_id"] == contact["id"] and p["account_id"] == account["id"]
    assert await sql.snapshot(team.team_id) == before
    # A converted lead keeps its status.
    assert_problem(await team.patch(f"/api/v1/leads/{lead['id']}", json={"status": "new"}), 422)


async def test_convert_matches_account_by_domain(team: Team) -> None:
    domain = f"{uniq('match')}.io"
    account = await new_account(team, domain=domain.upper())
    by_site = await new_lead(team, website=f"https://www.{domain}/about", company_name="Other")
    by_mail = await new_lead(team, email=f"x@{domain}", company_name="Whatever")
    for lead in (by_site, by_mail):
        out = (await team.post(f"/api/v1/leads/{lead['id']}/convert")).json()
        assert out["account"]["id"] == account["id"]
        assert out["contact"]["account_id"] == account["id"]
    accounts = (await team.get("/api/v1/accounts")).json()["data"]
    assert [a["id"] for a in accounts] == [account["id"]]


async def test_convert_free_mail_does_not_match_and_options(team: Team) -> None:
    gmail_account = await new_account(team, domain="gmail.com")
    lead = await new_lead(team, email=f"{uniq()}@gmail.com", company_name=None)
    out = (await team.post(f"/api/v1/leads/{lead['id']}/convert")).json()
    assert out["account"] is None and out["contact"]["account_id"] is None
    # An explicit account; create_account=false with no match gives no account.
    target = await new_account(team)
    lead = await new_lead(team, company_name="Elsewhere")
    r = await team.post(f"/api/v1/leads/{lead['id']}/convert", json={"account_id": target["id"]})
    assert r.json()["account"]["id"] == target["id"]
    lead = await new_lead(team, company_name="No Account Please")
    r = await team.post(f"/api/v1/leads/{lead['id']}/convert", json={"create_account": False})
    assert r.status_code == 201 and r.json()["account"] is None
    # owner_id for the new records.
    member = await add_member(team, "user")
    lead = await new_lead(team, company_name=uniq("Owned "))
    r = await team.post(f"/api/v1/leads/{lead['id']}/convert", json={"owner_id": member.member_id})
    out = r.json()
    assert out["contact"]["owner_id"] == member.member_id
    assert out["account"]["owner_id"] == member.member_id
    assert gmail_account["id"] != out["account"]["id"]


async def test_convert_links_existing_contact(team: Team, sql: Sql) -> None:
    account = await new_account(team)
    contact = await new_contact(team, first_name="Known", account_id=account["id"])
    lead = await new_lead(team, email=None, first_name="Lead", company_name="Some Co")
    # Give the lead the contact's email (leads and contacts are deduplicated separately).
    r = await team.patch(f"/api/v1/leads/{lead['id']}", json={"email": contact["email"].upper()})
    assert r.status_code == 200
    before = await sql.snapshot(team.team_id)
    r = await team.post(f"/api/v1/leads/{lead['id']}/convert")
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["linked_contact"] is True
    assert out["contact"]["id"] == contact["id"]
    assert out["contact"]["first_name"] == "Known"  # the contact's own data is kept
    assert out["contact"]["lead_id"] == lead["id"]
    assert out["account"]["id"] == account["id"]  # the contact's account, not a new one
    assert out["lead"]["converted_contact_id"] == contact["id"]
    after = await sql.snapshot(team.team_id)
    assert after["contacts"] == before["contacts"] and after["accounts"] == before["accounts"]
    assert after["events"] == before["events"] + 2  # lead converted + contact linked
    # A contact without an account gets the matched/created one.
    bare = await new_contact(team)
    lead2 = await new_lead(team, email=None, first_name="L2", company_name=uniq("Fresh "))
    await team.patch(f"/api/v1/leads/{lead2['id']}", json={"email": bare["email"]})
    out = (await team.post(f"/api/v1/leads/{lead2['id']}/convert")).json()
    assert out["contact"]["id"] == bare["id"]
    assert out["contact"]["account_id"] == out["account"]["id"] is not None


async def test_convert_errors(team: Team, other_team: Team, sql: Sql) -> None:
    lead = await new_lead(team, company_name="Err Co")
    foreign_lead = await new_lead(other_team)
    foreign_account = await new_account(other_team)
    url = f"/api/v1/leads/{lead['id']}/convert"
    deleted = await new_account(team)
    await team.delete(f"/api/v1/accounts/{deleted['id']}")
    before = await sql.snapshot(team.team_id)
    assert_problem(await team.post(f"/api/v1/leads/{foreign_lead['id']}/convert"), 404)
    assert_problem(await other_team.post(url), 404)
    p = assert_problem(await team.post(url, json={"account_id": foreign_account["id"]}), 422)
    assert p["errors"][0]["field"] == "account_id"
    p = assert_problem(await team.post(url, json={"owner_id": other_team.member_id}), 422)
    assert p["errors"][0]["field"] == "owner_id"
    p = assert_problem(await team.post(url, json={"create_account": "yes"}), 422)
    assert p["errors"][0]["field"] == "create_account"
    assert_problem(await team.post(url, json={"nope": 1}), 422)
    assert_problem(
        await team.post(url, content=b"{", headers={"content-type": "application/json"}), 400
    )
    p = assert_problem(await team.post(url, json={"account_id": deleted["id"]}), 422)
    assert p["errors"][0]["field"] == "account_id"
    assert await sql.snapshot(team.team_id) == before
    assert (await team.get(f"/api/v1/leads/{lead['id']}")).json()["status"] == "new"
