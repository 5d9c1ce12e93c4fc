"""Invitations, the member list, roles, deactivation and tenant isolation of members."""

from __future__ import annotations

import asyncio
import secrets

import httpx

from tests.api.auth.conftest import PASSWORD, add_member, api_key, invite, sql
from tests.conftest import Team, assert_problem, verify_email
from tests.plugin import MAILBOX


async def test_invite_and_accept(http: httpx.AsyncClient, team: Team) -> None:
    email = f"Bea-{secrets.token_hex(3)}@Example.com"
    r = await team.post("/api/v1/invitations", json={"email": email, "role": "manager"})
    assert r.status_code == 201, r.text
    inv = r.json()
    assert set(inv) >= {"id", "expires_at"} and "token" not in inv
    assert inv["id"].startswith("inv_")
    # The token went to the invitee's mailbox, with who invited them to which team.
    (mail,) = MAILBOX.to(email)
    assert "invited you to" in mail["Subject"] and email in mail["To"]
    text = mail.get_body(("plain",)).get_content()
    assert "manager" in text and "/accept-invitation?token=ldi_" in text
    token = MAILBOX.take_token(email, "ldi_")
    r = await http.post(
        f"/api/v1/invitations/{token}/accept",
        json={"name": "Bea", "password": PASSWORD, "time_zone": "America/New_York"},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) >= {"member", "token"}
    m = body["member"]
    assert m["email"] == email and m["role"] == "manager" and m["name"] == "Bea"
    assert m["email_verified"] is True  # the token reached them only through that mailbox
    assert m["time_zone"] == "America/New_York"
    me = await http.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.json()["team"]["id"] == team.team_id and me.json()["member"]["id"] == m["id"]
    # The invited member can sign in with the password they chose.
    r = await http.post("/api/v1/auth/login", json={"email": email.lower(), "password": PASSWORD})
    assert r.status_code == 200, r.text
    [(hashed,)] = sql("SELECT password_hash FROM app.team_members WHERE id = %s", m["id"])
    assert hashed.startswith("$argon2id$")


async def test_invitation_token_is_stored_hashed(team: Team) -> None:
    inv = await invite(team, "user")
    secret = inv["token"][4:]
    for table in ("invitations", "events", "idempotency_keys"):
        [(n,)] = sql(f"SELECT count(*) FROM app.{table} t WHERE t::text LIKE %s", f"%{secret}%")
        assert n == 0, table
    addr = f"idem-{secrets.token_hex(3)}@example.com"
    r = await team.post(
        "/api/v1/invitations", json={"email": addr}, headers={"Idempotency-Key": "invite-1"}
    )
    assert r.status_code == 201
    secret = MAILBOX.take_token(addr, "ldi_")[4:]
    [(n,)] = sql(
        "SELECT count(*) FROM app.idempotency_keys WHERE convert_from(body, 'UTF8') LIKE %s",
        f"%{secret}%",
    )
    assert n == 0


async def test_accept_twice_is_409(http: httpx.AsyncClient, team: Team) -> None:
    inv = await invite(team)
    url = f"/api/v1/invitations/{inv['token']}/accept"
    assert (await http.post(url, json={"name": "A", "password": PASSWORD})).status_code == 201
    assert_problem(await http.post(url, json={"name": "B", "password": PASSWORD}), 409)


async def test_concurrent_accepts_create_one_member(http: httpx.AsyncClient, team: Team) -> None:
    inv = await invite(team)
    url = f"/api/v1/invitations/{inv['token']}/accept"
    rs = await asyncio.gather(
        *[http.post(url, json={"name": f"N{i}", "password": PASSWORD}) for i in range(4)]
    )
    codes = sorted(r.status_code for r in rs)
    assert codes == [201, 409, 409, 409], [r.text for r in rs]
    [(n,)] = sql("SELECT count(*) FROM app.team_members WHERE lower(email) = %s", inv["email"])
    assert n == 1


async def test_unknown_invitation_is_404(http: httpx.AsyncClient) -> None:
    for token in ("ldi_nope", "nope", "x" * 500, "%00"):
        r = await http.post(
            f"/api/v1/invitations/{token}/accept", json={"name": "A", "password": PASSWORD}
        )
        assert_problem(r, 404)


async def test_expired_invitation_is_410(http: httpx.AsyncClient, team: Team) -> None:
    inv = await invite(team)
    sql(
        "UPDATE app.invitations SET expires_at = now() - interval '1 second' WHERE id = %s",
        inv["id"],
    )
    r = await http.post(
        f"/api/v1/invitations/{inv['token']}/accept", json={"name": "A", "password": PASSWORD}
    )
    assert_problem(r, 410)


async def test_invitation_for_existing_email_is_409(team: Team) -> None:
    r = await team.post("/api/v1/invitations", json={"email": team.email.upper()})
    assert_problem(r, 409)


async def test_only_admins_invite_and_only_owners_invite_owners(team: Team) -> None:
    admin = await add_member(team, "admin")
    user = await add_member(team, "user")
    manager = await add_member(team, "manager")
    for who in (user, manager):
        assert_problem(await who.post("/api/v1/invitations", json={"email": "q@example.com"}), 403)
    assert_problem(
        await admin.post("/api/v1/invitations", json={"email": "q@example.com", "role": "owner"}),
        403,
    )
    r = await admin.post(
        "/api/v1/invitations",
        json={"email": f"q-{secrets.token_hex(3)}@example.com", "role": "admin"},
    )
    assert r.status_code == 201, r.text
    r = await team.post(
        "/api/v1/invitations",
        json={"email": f"o-{secrets.token_hex(3)}@example.com", "role": "owner"},
    )
    assert r.status_code == 201, r.text


async def test_default_invited_role_is_user(http: httpx.AsyncClient, team: Team) -> None:
    addr = f"d-{secrets.token_hex(3)}@example.com"
    r = await team.post("/api/v1/invitations", json={"email": addr})
    assert r.status_code == 201
    r = await http.post(
        f"/api/v1/invitations/{MAILBOX.take_token(addr, 'ldi_')}/accept",
        json={"name": "D", "password": PASSWORD},
    )
    assert r.json()["member"]["role"] == "user"


async def test_list_and_search_members(team: Team) -> None:
    tag = secrets.token_hex(3)
    admin = await add_member(team, "admin")
    r = await team.patch(f"/api/v1/members/{admin.member_id}", json={"name": f"Zed {tag}"})
    assert r.status_code == 200, r.text
    r = await team.get("/api/v1/members")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) >= {"data", "has_more", "next_cursor"}
    ids = {m["id"] for m in body["data"]}
    assert ids == {team.member_id, admin.member_id}
    for m in body["data"]:
        assert "password_hash" not in m and m["role"] in ("owner", "admin")

    found = (await team.get("/api/v1/members", params={"search": f"zed {tag}"})).json()["data"]
    assert [m["id"] for m in found] == [admin.member_id]
    local = team.email.split("@")[0].upper()
    found = (await team.get("/api/v1/members", params={"search": local})).json()["data"]
    assert [m["id"] for m in found] == [team.member_id]
    assert (await team.get("/api/v1/members", params={"search": "no-such-x"})).json()["data"] == []
    # A user may list members too.
    user = await add_member(team, "user")
    assert len((await user.get("/api/v1/members")).json()["data"]) == 3


async def test_search_treats_wildcards_literally(team: Team) -> None:
    m = await add_member(team, "user")
    await team.patch(f"/api/v1/members/{m.member_id}", json={"name": "50%_off\\deal"})
    for q, hit in (
        ("%", True),
        ("_", True),
        ("\\", True),
        ("0%_o", True),
        ("5_", False),
        ("%x", False),
        ("\\d", True),
        ("f\\", True),
        ("\\x", False),
    ):
        data = (await team.get("/api/v1/members", params={"search": q})).json()["data"]
        assert (m.member_id in {x["id"] for x in data}) is hit, q


async def test_get_member(team: Team) -> None:
    r = await team.get(f"/api/v1/members/{team.member_id}")
    assert r.status_code == 200
    assert r.json()["role"] == "owner"
    assert r.headers["etag"] == f'"{r.json()["version"]}"'


async def test_owner_changes_role(team: Team) -> None:
    user = await add_member(team, "user")
    r = await team.patch(f"/api/v1/members/{user.member_id}", json={"role": "manager"})
    assert r.status_code == 200, r.text
    assert r.json()["role"] == "manager"
    assert (await team.get(f"/api/v1/members/{user.member_id}")).json()["role"] == "manager"
    me = (await user.get("/api/v1/me")).json()
    assert me["member"]["role"] == "manager"
    [(changes,)] = sql(
        "SELECT changes FROM app.events WHERE object_id = %s AND action = 'updated'"
        " ORDER BY id DESC LIMIT 1",
        user.member_id,
    )
    assert "role_id" in changes


async def test_admin_changes_role_and_deactivates(team: Team) -> None:
    admin = await add_member(team, "admin")
    user = await add_member(team, "user")
    r = await admin.patch(f"/api/v1/members/{user.member_id}", json={"role": "guest"})
    assert r.status_code == 200 and r.json()["role"] == "guest", r.text
    r = await admin.patch(f"/api/v1/members/{user.member_id}", json={"is_active": False})
    assert r.status_code == 200 and r.json()["is_active"] is False, r.text


async def test_admin_cannot_touch_owners_or_make_owners(team: Team) -> None:
    admin = await add_member(team, "admin")
    user = await add_member(team, "user")
    assert_problem(
        await admin.patch(f"/api/v1/members/{team.member_id}", json={"role": "user"}), 403
    )
    assert_problem(
        await admin.patch(f"/api/v1/members/{team.member_id}", json={"is_active": False}), 403
    )
    assert_problem(
        await admin.patch(f"/api/v1/members/{user.member_id}", json={"role": "owner"}), 403
    )
    assert_problem(
        await admin.patch(f"/api/v1/members/{admin.member_id}", json={"role": "owner"}), 403
    )


async def test_users_cannot_change_roles_or_deactivate(team: Team) -> None:
    user = await add_member(team, "user")
    manager = await add_member(team, "manager")
    for who in (user, manager):
        for body in ({"role": "admin"}, {"is_active": False}):
            assert_problem(await who.patch(f"/api/v1/members/{team.member_id}", json=body), 403)
            assert_problem(await who.patch(f"/api/v1/members/{who.member_id}", json=body), 403)
    assert_problem(
        await user.patch(f"/api/v1/members/{manager.member_id}", json={"name": "x"}), 403
    )
    assert (await team.get(f"/api/v1/members/{user.member_id}")).json()["role"] == "user"


async def test_member_edits_own_profile(team: Team) -> None:
    user = await add_member(team, "user")
    r = await user.patch(
        f"/api/v1/members/{user.member_id}", json={"name": "New Name", "time_zone": "Asia/Tokyo"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "New Name" and r.json()["time_zone"] == "Asia/Tokyo"
    assert r.json()["version"] == 2
    # Names the zone database holds that are not IANA zones to choose: 422, nothing changes.
    for bad in ("localtime", "Factory", "Europe", "Mars/Olympus"):
        p = assert_problem(
            await user.patch(f"/api/v1/members/{user.member_id}", json={"time_zone": bad}), 422
        )
        assert [e["field"] for e in p["errors"]] == ["time_zone"], p
    assert (await user.get(f"/api/v1/members/{user.member_id}")).json()["version"] == 2


async def test_patch_with_stale_if_match_is_412(team: Team) -> None:
    url = f"/api/v1/members/{team.member_id}"
    etag = (await team.get(url)).headers["ETag"]
    r = await team.patch(url, json={"name": "One"}, headers={"If-Match": etag})
    assert r.status_code == 200, r.text
    assert_problem(await team.patch(url, json={"name": "Two"}, headers={"If-Match": etag}), 412)


async def test_deactivation_stops_sessions_and_keys_at_once(
    client: httpx.AsyncClient, team: Team
) -> None:
    user = await add_member(team, "user")
    key = (await api_key(user, "leads:read"))["key"]
    second = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": user.password}
    )
    assert second.status_code == 200
    r = await team.patch(f"/api/v1/members/{user.member_id}", json={"is_active": False})
    assert r.status_code == 200, r.text
    assert r.json()["is_active"] is False
    assert_problem(await user.get("/api/v1/me"), 401)
    assert_problem(await user.as_token(second.json()["token"]).get("/api/v1/me"), 401)
    assert_problem(
        await client.get("/api/v1/leads", headers={"Authorization": f"Bearer {key}"}), 401
    )
    assert_problem(
        await client.post(
            "/api/v1/auth/login", json={"email": user.email, "password": user.password}
        ),
        401,
    )
    # Reactivated: they may sign in again, but the old credentials stay dead.
    r = await team.patch(f"/api/v1/members/{user.member_id}", json={"is_active": True})
    assert r.status_code == 200 and r.json()["is_active"] is True
    assert_problem(await user.get("/api/v1/me"), 401)
    r = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": user.password}
    )
    assert r.status_code == 200, r.text


async def test_last_owner_cannot_be_demoted_or_deactivated(team: Team) -> None:
    url = f"/api/v1/members/{team.member_id}"
    assert_problem(await team.patch(url, json={"role": "admin"}), 409)
    assert_problem(await team.patch(url, json={"is_active": False}), 409)
    assert (await team.get("/api/v1/me")).json()["member"]["role"] == "owner"
    # With a second owner, the first may step down.
    second = await add_member(team, "owner")
    r = await team.patch(url, json={"role": "admin"})
    assert r.status_code == 200 and r.json()["role"] == "admin", r.text
    # Now the second one is the last owner.
    assert_problem(
        await second.patch(f"/api/v1/members/{second.member_id}", json={"role": "user"}), 409
    )


async def test_owners_stepping_down_together_keep_one(team: Team) -> None:
    owners = [team, *[await add_member(team, "owner") for _ in range(3)]]
    rs = await asyncio.gather(
        *[o.patch(f"/api/v1/members/{o.member_id}", json={"role": "admin"}) for o in owners]
    )
    assert sorted(r.status_code for r in rs) == [200, 200, 200, 409], [r.text for r in rs]
    [(left,)] = sql(
        "SELECT count(*) FROM app.team_members m JOIN app.roles r"
        " ON r.team_id = m.team_id AND r.id = m.role_id"
        " WHERE m.team_id = %s AND r.key = 'owner' AND m.is_active",
        team.team_id,
    )
    assert left == 1


async def test_other_teams_members_are_404(team: Team, other_team: Team) -> None:
    theirs = other_team.member_id
    assert_problem(await team.get(f"/api/v1/members/{theirs}"), 404)
    assert_problem(await team.patch(f"/api/v1/members/{theirs}", json={"role": "user"}), 404)
    assert_problem(await team.patch(f"/api/v1/members/{theirs}", json={"is_active": False}), 404)
    assert_problem(await team.patch(f"/api/v1/members/{theirs}", json={"name": "Pwned"}), 404)
    assert theirs not in (await team.get("/api/v1/members")).text
    found = (await team.get("/api/v1/members", params={"search": other_team.email})).json()
    assert found["data"] == []
    assert (await other_team.get("/api/v1/me")).json()["member"]["role"] == "owner"
    assert_problem(await team.get("/api/v1/members/mem_doesnotexist"), 404)


async def test_role_change_applies_to_live_sessions(team: Team) -> None:
    admin = await add_member(team, "admin")
    email = f"live-{secrets.token_hex(3)}@example.com"
    assert (await admin.post("/api/v1/invitations", json={"email": email})).status_code == 201
    r = await team.patch(f"/api/v1/members/{admin.member_id}", json={"role": "user"})
    assert r.status_code == 200, r.text
    assert (await admin.get("/api/v1/me")).json()["member"]["role"] == "user"
    assert_problem(await admin.post("/api/v1/invitations", json={"email": "n@example.com"}), 403)


async def test_accept_after_email_was_taken_is_409(http: httpx.AsyncClient, team: Team) -> None:
    inv = await invite(team)
    r = await http.post(
        "/api/v1/auth/signup",
        json={"team_name": "Own", "name": "Own", "email": inv["email"], "password": PASSWORD},
    )
    assert r.status_code == 201, r.text
    await verify_email(http, inv["email"])  # the address is now someone's login
    r = await http.post(
        f"/api/v1/invitations/{inv['token']}/accept", json={"name": "A", "password": PASSWORD}
    )
    assert_problem(r, 409)
    [(n,)] = sql("SELECT count(*) FROM app.team_members WHERE lower(email) = %s", inv["email"])
    assert n == 1


async def test_invitation_of_another_team_cannot_be_seen_but_can_be_accepted(
    http: httpx.AsyncClient, team: Team, other_team: Team
) -> None:
    # The token alone decides the team: accepting joins the inviting team, never the caller's.
    inv = await invite(other_team)
    r = await http.post(
        f"/api/v1/invitations/{inv['token']}/accept",
        json={"name": "A", "password": PASSWORD},
        headers=team.headers,
    )
    assert r.status_code == 201, r.text
    me = await http.get("/api/v1/me", headers={"Authorization": f"Bearer {r.json()['token']}"})
    assert me.json()["team"]["id"] == other_team.team_id
    assert r.json()["member"]["id"] not in (await team.get("/api/v1/members")).text
