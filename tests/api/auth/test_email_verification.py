"""Issue 22, "verify an email before it becomes a login": an admin squatted ``ceo@bigcorp`` by
inviting the address and accepting the invitation himself (the token came back in the
invitation's response), and a stranger's unverified sign-up took an address from its owner.
Each attack first, then the link's rules: expiry, one use, wrong tokens, the resend throttle,
and teams kept apart."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import httpx

from tests.api.auth.conftest import PASSWORD, add_member, client_for, invite, sql
from tests.conftest import Team, assert_problem, make_team, verify_email
from tests.plugin import MAILBOX, clock_moved

VERIFY = "/api/v1/auth/verify-email"
RESEND = "/api/v1/auth/verify-email/resend"


def _address(who: str = "ceo") -> str:
    return f"{who}-{secrets.token_hex(4)}@bigcorp.example"


async def _signup(http: httpx.AsyncClient, email: str, password: str = PASSWORD) -> Team:
    r = await http.post(
        "/api/v1/auth/signup",
        json={"team_name": "T", "name": "Someone", "email": email, "password": password},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    return Team(
        http, body["token"], body["team"]["id"], body["member"]["id"], email, password, body
    )


async def _login(http: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await http.post("/api/v1/auth/login", json={"email": email, "password": password})


# --------------------------------------------------------------------------- the attacks


async def test_an_admin_cannot_squat_an_address_by_inviting_it(app: Any, team: Team) -> None:
    admin = await add_member(team, "admin")
    ceo = _address()
    # The attack: invite the address, take the token from the answer, accept it oneself.
    r = await admin.post("/api/v1/invitations", json={"email": ceo, "role": "user"})
    assert r.status_code == 201, r.text
    assert "token" not in r.json() and "ldi_" not in r.text
    # Nothing the admin can read holds the token: only the invitee's mailbox does.
    timeline = (await admin.get("/api/v1/members")).text + (await admin.get("/api/v1/me")).text
    token = MAILBOX.take_token(ceo, "ldi_")
    assert token not in timeline
    [(n,)] = sql("SELECT count(*) FROM app.events e WHERE e::text LIKE %s", f"%{token[4:]}%")
    assert n == 0
    # Without the mail, no invitation can be accepted: a guessed token is unknown.
    r = await admin.http.post(
        f"/api/v1/invitations/ldi_{secrets.token_urlsafe(32)}/accept",
        json={"name": "Not the CEO", "password": PASSWORD},
    )
    assert_problem(r, 404)
    # The address is not a login: the real CEO signs up, verifies and signs in as themself.
    async with client_for(app) as c:
        real = await _signup(c, ceo)
        await verify_email(c, ceo)
        r = await _login(c, ceo)
    assert r.status_code == 200, r.text
    assert r.json()["member"]["id"] == real.member_id
    # Accepting the invitation later (the CEO's own choice) cannot make a second login.
    r = await admin.http.post(
        f"/api/v1/invitations/{token}/accept", json={"name": "CEO", "password": PASSWORD}
    )
    assert_problem(r, 409)


async def test_an_unverified_signup_cannot_sign_in_nor_block_the_owner(app: Any) -> None:
    ceo = _address()
    async with client_for(app) as attacker:
        squatter = await _signup(attacker, ceo)
        # The person at the keyboard has a session, and their profile says unverified.
        me = (await squatter.get("/api/v1/me")).json()["member"]
        assert me["email_verified"] is False and me["email"] == ceo
        # A password never opens an unverified address: the same answer as a wrong password.
        unverified = assert_problem(await _login(attacker, ceo), 401)
        unknown = assert_problem(await _login(attacker, _address("nobody")), 401)
        assert {k: unverified[k] for k in ("title", "detail")} == {
            k: unknown[k] for k in ("title", "detail")
        }
    squatter_link = MAILBOX.take_token(ceo, "ldv_")  # mailed to the CEO, not the squatter
    async with client_for(app) as c:
        owner = await _signup(c, ceo, "the-ceos-own-passphrase")  # not a 409
        await verify_email(c, ceo)
        r = await _login(c, ceo, "the-ceos-own-passphrase")
        assert r.status_code == 200 and r.json()["member"]["id"] == owner.member_id
        assert_problem(await _login(c, ceo), 401)  # the squatter's password opens nothing
        # The squatter's link, followed later, cannot make a second login for the address.
        body = assert_problem(await c.post(VERIFY, json={"token": squatter_link}), 409)
        assert "already verified" in body["detail"]
        r = await c.post("/api/v1/auth/signup", json={
            "team_name": "T", "name": "N", "email": ceo.upper(), "password": PASSWORD,
        })  # fmt: skip
        assert_problem(r, 409)  # a verified address is taken
    [(verified,)] = sql(
        "SELECT email_verified_at IS NOT NULL FROM app.team_members WHERE id = %s",
        squatter.member_id,
    )
    assert verified is False


# --------------------------------------------------------------------------- the link


async def test_signup_mails_a_link_that_verifies_once(http: httpx.AsyncClient) -> None:
    email = _address("owner")
    owner = await _signup(http, email)
    assert owner.data["member"]["email_verified"] is False
    (mail,) = MAILBOX.to(email)
    assert email in mail["To"] and "Confirm" in mail["Subject"]
    assert "/verify-email?token=ldv_" in mail.get_body(("plain",)).get_content()
    token = MAILBOX.take_token(email, "ldv_")
    # Only the hash is kept.
    for table in ("email_verifications", "events", "team_members"):
        [(n,)] = sql(f"SELECT count(*) FROM app.{table} t WHERE t::text LIKE %s", f"%{token[4:]}%")
        assert n == 0, table
    r = await http.post(VERIFY, json={"token": token})
    assert r.status_code == 200, r.text
    assert r.json()["member"]["id"] == owner.member_id
    assert r.json()["member"]["email_verified"] is True
    assert (await owner.get("/api/v1/me")).json()["member"]["email_verified"] is True
    assert (await _login(http, email)).status_code == 200
    # One use.
    body = assert_problem(await http.post(VERIFY, json={"token": token}), 410)
    assert "already used" in body["detail"]
    [(n,)] = sql(
        "SELECT count(*) FROM app.events WHERE team_id = %s AND object_id = %s "
        "AND action = 'email_verified'",
        owner.team_id,
        owner.member_id,
    )
    assert n == 1


async def test_an_expired_link_is_410(http: httpx.AsyncClient) -> None:
    from leadly.settings import get_settings

    email = _address("late")
    await _signup(http, email)
    token = MAILBOX.take_token(email, "ldv_")
    ttl = timedelta(hours=get_settings().email_verification_ttl_hours)
    with clock_moved(ttl + timedelta(seconds=1)):
        body = assert_problem(await http.post(VERIFY, json={"token": token}), 410)
    assert "expired" in body["detail"]
    assert_problem(await _login(http, email), 401)
    with clock_moved(ttl - timedelta(minutes=1)):  # just before: it still works
        assert (await http.post(VERIFY, json={"token": token})).status_code == 200


async def test_wrong_tokens(http: httpx.AsyncClient, team: Team) -> None:
    for token in (f"ldv_{secrets.token_urlsafe(32)}", "nope", "ldi_x", team.token):
        assert_problem(await http.post(VERIFY, json={"token": token}), 404)
    for body in ({}, {"token": ""}, {"token": "x" * 201}, {"token": 5}, {"token": "a", "b": 1}):
        assert_problem(await http.post(VERIFY, json=body), 422)
    assert_problem(
        await http.post(VERIFY, content=b"[", headers={"content-type": "application/json"}), 400
    )
    # An invitation's token is not a verification link, nor the reverse.
    inv = await invite(team)
    assert_problem(await http.post(VERIFY, json={"token": inv["token"]}), 404)


async def test_resend_replaces_the_link_and_is_throttled(
    http: httpx.AsyncClient, settings_env: Any
) -> None:
    settings_env(verification_resend_max_per_hour="2")
    email = _address("resend")
    owner = await _signup(http, email)
    first = MAILBOX.take_token(email, "ldv_")
    assert_problem(await http.post(RESEND), 401)  # signed-in members only
    r = await owner.post(RESEND)
    assert r.status_code == 202, r.text
    assert r.json()["email"] == email
    second = MAILBOX.take_token(email, "ldv_")
    assert (await owner.post(RESEND)).status_code == 202
    third = MAILBOX.take_token(email, "ldv_")
    r = await owner.post(RESEND)
    body = assert_problem(r, 429)
    assert int(body["retry_after"]) > 0 and int(r.headers["Retry-After"]) > 0
    assert MAILBOX.to(email) == []  # the throttled request sent nothing
    # The newest link works; the ones it replaced do not.
    for old in (first, second):
        body = assert_problem(await http.post(VERIFY, json={"token": old}), 410)
        assert "newer" in body["detail"]
    assert (await http.post(VERIFY, json={"token": third})).status_code == 200
    # A verified member has nothing to resend.
    assert_problem(await owner.post(RESEND), 409)


async def test_the_mail_server_failing(http: httpx.AsyncClient, team: Team) -> None:
    # A sign-up still succeeds (the person at the keyboard is signed in), and asks again later.
    email = _address("smtp")
    MAILBOX.fail_next = 1
    owner = await _signup(http, email)
    assert MAILBOX.to(email) == []
    assert (await owner.post(RESEND)).status_code == 202
    await verify_email(http, email)
    # An invitation nobody received does not exist: 503, and inviting again works.
    addr = _address("invitee")
    MAILBOX.fail_next = 1
    assert_problem(await team.post("/api/v1/invitations", json={"email": addr}), 503)
    [(n,)] = sql("SELECT count(*) FROM app.invitations WHERE email = %s", addr)
    assert n == 0
    assert (await team.post("/api/v1/invitations", json={"email": addr})).status_code == 201
    # A resend the mail server refuses leaves the previous link working.
    email = _address("keep")
    owner = await _signup(http, email)
    MAILBOX.fail_next = 1
    assert_problem(await owner.post(RESEND), 503)
    await verify_email(http, email)


async def test_teams_are_kept_apart(http: httpx.AsyncClient, team: Team) -> None:
    other = await _signup(http, _address("other"))
    other_link = MAILBOX.take_token(other.email, "ldv_")
    # Posting another team's link with one's own session verifies the link's member only.
    r = await team.post(VERIFY, json={"token": other_link})
    assert r.status_code == 200 and r.json()["member"]["id"] == other.member_id
    assert (await team.get(f"/api/v1/members/{other.member_id}")).status_code == 404
    # A resend goes to the caller's own address, never another member's.
    third = await _signup(http, _address("third"))
    MAILBOX.take_token(third.email, "ldv_")
    assert (await third.post(RESEND)).status_code == 202
    assert MAILBOX.to(other.email) == [] and len(MAILBOX.to(third.email)) == 1
    # The links' rows are the team's own (row-level security).
    [(teams,)] = sql(
        "SELECT array_agg(DISTINCT team_id) FROM app.email_verifications WHERE member_id = %s",
        third.member_id,
    )
    assert teams == [third.team_id]


async def test_members_show_whether_their_email_is_verified(http: httpx.AsyncClient) -> None:
    owner = await make_team(http)  # the suite's teams: owner verified through the mail
    assert owner.data["member"]["email_verified"] is True
    user = await add_member(owner, "user")  # accepted an invitation: verified
    listed = (await owner.get("/api/v1/members")).json()["data"]
    assert {m["id"]: m["email_verified"] for m in listed} == {
        owner.member_id: True,
        user.member_id: True,
    }
    assert "email_verified_at" not in listed[0]
