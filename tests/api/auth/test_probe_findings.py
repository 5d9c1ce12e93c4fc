"""Issue 22, the auth findings of the black-box probe, each reproduced as the attacker tried it:
login throttle bypasses (a case-folding mismatch, the dashboards' shared address), sign-up as an
unthrottled email oracle, invitations revealing other teams' members, weak passwords, a
throttle that kept every key forever."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from api.auth.throttle import MemoryCounter
from leadly import forwarded
from tests.api.auth.conftest import PASSWORD, add_member, client_for, invite
from tests.conftest import Team, assert_problem, verify_email


async def _signup(client: Any, email: str, password: str = "correct-horse-battery") -> Any:
    return await client.post(
        "/api/v1/auth/signup",
        json={"team_name": "T", "name": "Owner", "email": email, "password": password},
    )


async def test_a_folded_spelling_of_an_email_does_not_get_a_fresh_throttle_counter(
    app: Any,
) -> None:
    tag = secrets.token_hex(4)
    email = f"aadmin-{tag}@example.com"
    async with client_for(app) as c:
        assert (await _signup(c, email)).status_code == 201
    # Exhaust the account's counter with wrong passwords, each from a new address.
    for _ in range(5):
        async with client_for(app) as c:
            r = await c.post(
                "/api/v1/auth/login", json={"email": email, "password": "wrong-pw-123"}
            )
            assert r.status_code == 401
    for spelling in (email.upper(), f"AADMIN-{tag}@EXAMPLE.COM", f" {email} "):
        async with client_for(app) as c:
            r = await c.post(
                "/api/v1/auth/login", json={"email": spelling, "password": "correct-horse-battery"}
            )
        assert_problem(r, 429)
    # U+0130 (İ): PostgreSQL's lower() made it the account's "i", Python's did not, so the
    # attacker's guesses went to a fresh counter. Now one normalisation decides both: it is
    # another address, which no account holds, and never a way into this one.
    async with client_for(app) as c:
        r = await c.post(
            "/api/v1/auth/login",
            json={"email": f"aadmİn-{tag}@example.com", "password": "correct-horse-battery"},
        )
    assert r.status_code in (401, 429), r.text


async def test_emails_that_fold_alike_are_one_login(app: Any) -> None:
    tag = secrets.token_hex(4)
    async with client_for(app) as c:
        assert (await _signup(c, f"Straße-{tag}@Example.com")).status_code == 201
        await verify_email(c, f"Straße-{tag}@Example.com")  # a verified login from now on
        r = await _signup(c, f"strasse-{tag}@example.com")
        assert_problem(r, 409)
        r = await c.post(
            "/api/v1/auth/login",
            json={"email": f"STRASSE-{tag}@EXAMPLE.COM", "password": "correct-horse-battery"},
        )
        assert r.status_code == 200, r.text


async def test_signups_from_one_address_are_throttled(app: Any, settings_env: Any) -> None:
    settings_env(signup_max_per_ip="3")
    taken = f"taken-{secrets.token_hex(4)}@example.com"
    async with client_for(app) as c:
        assert (await _signup(c, taken)).status_code == 201
        await verify_email(c, taken)
        assert (await _signup(c, taken)).status_code == 409
        assert (await _signup(c, f"x-{secrets.token_hex(4)}@example.com")).status_code == 201
        body = assert_problem(await _signup(c, taken), 429)
        assert int(body["retry_after"]) > 0
    async with client_for(app) as other:  # another address is not held back
        assert (await _signup(other, f"y-{secrets.token_hex(4)}@example.com")).status_code == 201


async def test_invitations_do_not_reveal_other_teams_members(team: Team, other_team: Team) -> None:
    # The other team's owner: inviting that address is not refused (nothing is learnt) ...
    inv = await invite(team, "user", email=other_team.email.upper())
    # ... and accepting it cannot take over or duplicate that login.
    r = await team.http.post(
        f"/api/v1/invitations/{inv['token']}/accept",
        json={"name": "Squatter", "password": PASSWORD},
    )
    assert_problem(r, 409)
    r = await team.http.post(
        "/api/v1/auth/login", json={"email": other_team.email, "password": other_team.password}
    )
    assert r.status_code == 200 and r.json()["member"]["id"] == other_team.member_id
    # This team's own member: a 409, as before.
    member = await add_member(team)
    r = await team.post("/api/v1/invitations", json={"email": member.email.title(), "role": "user"})
    assert_problem(r, 409)


@pytest.mark.parametrize(
    "password", [" " * 10, "\t" * 12, "aaaaaaaaaa", "ababababab", "1234567890", "QwertyUiop"]
)
async def test_weak_passwords_are_refused_naming_the_field(app: Any, password: str) -> None:
    async with client_for(app) as c:
        r = await _signup(c, f"weak-{secrets.token_hex(4)}@example.com", password)
    body = assert_problem(r, 422)
    assert [e["field"] for e in body["errors"]] == ["password"]


async def test_an_invited_member_cannot_choose_a_common_password(team: Team) -> None:
    inv = await invite(team)
    r = await team.http.post(
        f"/api/v1/invitations/{inv['token']}/accept",
        json={"name": "New", "password": "password123"},
    )
    body = assert_problem(r, 422)
    assert body["errors"][0]["field"] == "password"
    r = await team.http.post(
        f"/api/v1/invitations/{inv['token']}/accept", json={"name": "New", "password": PASSWORD}
    )
    assert r.status_code == 201, r.text


async def test_the_dashboards_vouch_for_the_end_users_address(app: Any, settings_env: Any) -> None:
    """Every dashboard sign-in comes from the Streamlit server: 20 failures there locked every
    dashboard user out. A signed end-user address counts instead; a forged one is ignored."""
    settings_env(login_max_attempts_per_ip="3", login_max_attempts_per_account="1000")
    from leadly.settings import get_settings

    secret = get_settings().secret_key
    dashboards = "10.99.0.1"
    email = f"nobody-{secrets.token_hex(4)}@example.com"

    async def attempt(header: str | None) -> int:
        async with client_for(app, dashboards) as c:
            headers = {forwarded.HEADER: header} if header else {}
            r = await c.post(
                "/api/v1/auth/login",
                json={"email": email, "password": "wrong-pw-123"},
                headers=headers,
            )
            return r.status_code

    for _ in range(3):
        assert await attempt(forwarded.sign("198.51.100.7", secret)) == 401
    assert await attempt(forwarded.sign("198.51.100.7", secret)) == 429
    # Another browser behind the same dashboards is not locked out.
    assert await attempt(forwarded.sign("198.51.100.8", secret)) == 401
    # Forged, stale or unsigned headers count against the dashboards' own address.
    forged = forwarded.sign("198.51.100.9", "not-the-secret")
    stale = forwarded.sign("198.51.100.10", secret, now=0)
    assert [await attempt(h) for h in (forged, stale, None)] == [401, 401, 401]
    assert await attempt("junk") == 429


async def test_the_in_memory_throttle_forgets_ended_windows() -> None:
    now = [1000.0]
    c = MemoryCounter(clock=lambda: now[0], sweep_every=10)
    for i in range(50):
        await c.hit(f"login:ip:{i}", 60)
    assert len(c) == 50
    now[0] += 61
    for i in range(10):
        await c.hit(f"login:ip:new-{i}", 60)
    assert len(c) == 10  # the 50 ended windows went at the sweep
    assert await c.peek("login:ip:new-1", 60) == (1, 60)
