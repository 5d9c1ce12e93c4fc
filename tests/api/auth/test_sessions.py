"""Sign-up, sign-in, sign-out, the current member and the life of a session token."""

from __future__ import annotations

import asyncio
import secrets

import httpx

from tests.api.auth.conftest import sql
from tests.conftest import Team, assert_problem, make_team
from tests.plugin import MAILBOX


async def login(http: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await http.post("/api/v1/auth/login", json={"email": email, "password": password})


async def test_signup_returns_team_member_and_working_token(http: httpx.AsyncClient) -> None:
    tag = secrets.token_hex(4)
    email = f"ada-{tag}@example.com"
    r = await http.post(
        "/api/v1/auth/signup",
        json={
            "team_name": "Analytical Engines",
            "name": "Ada",
            "email": email,
            "password": "correct-horse-battery",
        },
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) >= {"team", "member", "token"}
    assert body["team"]["name"] == "Analytical Engines"
    assert body["team"]["id"].startswith("team_")
    member = body["member"]
    assert member["email"] == email and member["name"] == "Ada"
    assert member["role"] == "owner" and member["is_active"] is True
    assert member["time_zone"] == "UTC"
    assert "password_hash" not in member and "password" not in member
    assert "team_id" not in member and "role_id" not in member

    me = await http.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200, me.text
    assert me.json()["member"]["id"] == member["id"]
    assert me.json()["team"]["id"] == body["team"]["id"]
    assert me.json()["auth"] == "session"


async def test_signup_with_time_zone(http: httpx.AsyncClient) -> None:
    r = await http.post(
        "/api/v1/auth/signup",
        json={
            "team_name": "Tz",
            "name": "Tz",
            "email": f"tz-{secrets.token_hex(4)}@example.com",
            "password": "correct-horse-battery",
            "time_zone": "Europe/Lisbon",
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["member"]["time_zone"] == "Europe/Lisbon"


async def test_password_is_stored_as_argon2id(team: Team) -> None:
    [(hashed,)] = sql("SELECT password_hash FROM app.team_members WHERE id = %s", team.member_id)
    assert hashed.startswith("$argon2id$")
    assert team.password not in hashed


async def test_signup_with_taken_email_is_409_any_case(http: httpx.AsyncClient, team: Team) -> None:
    r = await http.post(
        "/api/v1/auth/signup",
        json={
            "team_name": "Again",
            "name": "Again",
            "email": team.email.upper(),
            "password": "correct-horse-battery",
        },
    )
    assert_problem(r, 409)


async def test_login_returns_token_expiry_and_member(client: httpx.AsyncClient, team: Team) -> None:
    r = await login(client, team.email, team.password)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) >= {"token", "expires_at", "member"}
    assert body["member"]["id"] == team.member_id
    assert body["member"]["last_login_at"] is not None
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200 and me.json()["member"]["id"] == team.member_id


async def test_login_email_is_case_insensitive(client: httpx.AsyncClient, team: Team) -> None:
    r = await login(client, team.email.upper(), team.password)
    assert r.status_code == 200, r.text


async def test_login_failures_are_indistinguishable(client: httpx.AsyncClient, team: Team) -> None:
    wrong_pw = assert_problem(await login(client, team.email, "wrong-password-123"), 401)
    no_user = assert_problem(await login(client, "nobody-xyz@example.com", "whatever-123"), 401)
    assert wrong_pw["detail"] == no_user["detail"]


async def test_every_login_issues_a_fresh_token(client: httpx.AsyncClient, team: Team) -> None:
    a = (await login(client, team.email, team.password)).json()["token"]
    b = (await login(client, team.email, team.password)).json()["token"]
    assert a != b and a != team.token
    for token in (a, b, team.token):
        r = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text


async def test_tokens_are_opaque_and_stored_hashed(team: Team) -> None:
    token = team.token
    assert token.count(".") == 0 and len(token) >= 32  # not a JWT, enough entropy
    [(n,)] = sql("SELECT count(*) FROM app.sessions s WHERE s::text LIKE %s", f"%{token[4:]}%")
    assert n == 0
    [(n,)] = sql("SELECT count(*) FROM app.events e WHERE e::text LIKE %s", f"%{token[4:]}%")
    assert n == 0
    [(sessions,)] = sql(
        "SELECT count(*) FROM app.sessions WHERE member_id = %s AND revoked_at IS NULL",
        team.member_id,
    )
    assert sessions == 1


async def test_logout_revokes_only_that_token(client: httpx.AsyncClient, team: Team) -> None:
    other = (await login(client, team.email, team.password)).json()["token"]
    r = await team.post("/api/v1/auth/logout")
    assert r.status_code == 204, r.text
    assert_problem(await team.get("/api/v1/me"), 401)
    assert_problem(await team.post("/api/v1/auth/logout"), 401)
    r = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {other}"})
    assert r.status_code == 200


async def test_missing_or_invalid_credentials_are_401(http: httpx.AsyncClient, team: Team) -> None:
    for headers in (
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"Authorization": f"Basic {team.token}"},
        {"Authorization": "Bearer lds_not-a-real-token"},
        {"Authorization": "Bearer ldk_not-a-real-key"},
        {"Authorization": "Bearer something-else"},
        {"Authorization": f"Bearer {team.token}x"},
        {"Authorization": "Bearer " + "x" * 5000},
    ):
        for method, url in (
            ("GET", "/api/v1/me"),
            ("GET", "/api/v1/members"),
            ("GET", "/api/v1/leads"),
            ("POST", "/api/v1/auth/logout"),
        ):
            r = await http.request(method, url, headers=headers)
            body = assert_problem(r, 401)
            assert "WWW-Authenticate" in r.headers, (headers, body)


async def test_bearer_scheme_is_case_insensitive(http: httpx.AsyncClient, team: Team) -> None:
    r = await http.get("/api/v1/me", headers={"Authorization": f"bearer {team.token}"})
    assert r.status_code == 200


async def test_idle_timeout(team: Team) -> None:
    sql(
        "UPDATE app.sessions SET last_used_at = now() - interval '1 day' - interval '1 minute'"
        " WHERE member_id = %s",
        team.member_id,
    )
    assert_problem(await team.get("/api/v1/me"), 401)


async def test_recent_use_keeps_session_alive(team: Team) -> None:
    sql(
        "UPDATE app.sessions SET last_used_at = now() - interval '23 hours' WHERE member_id = %s",
        team.member_id,
    )
    assert (await team.get("/api/v1/me")).status_code == 200
    [(last_used,)] = sql(
        "SELECT now() - last_used_at < interval '1 minute' FROM app.sessions WHERE member_id = %s",
        team.member_id,
    )
    assert last_used  # using the token moved the idle deadline


async def test_absolute_timeout(team: Team) -> None:
    sql(
        "UPDATE app.sessions SET expires_at = now() - interval '1 second' WHERE member_id = %s",
        team.member_id,
    )
    assert_problem(await team.get("/api/v1/me"), 401)


async def test_absolute_timeout_is_two_weeks_after_login(team: Team) -> None:
    [(ok,)] = sql(
        "SELECT expires_at - created_at BETWEEN interval '13 days 23 hours' AND interval '14 days 1"
        " hour' FROM app.sessions WHERE member_id = %s",
        team.member_id,
    )
    assert ok


async def test_logged_in_event_is_recorded(client: httpx.AsyncClient) -> None:
    t = await make_team(client)
    assert (await login(client, t.email, t.password)).status_code == 200
    [(n,)] = sql(
        "SELECT count(*) FROM app.events WHERE team_id = %s AND action = 'logged_in'", t.team_id
    )
    assert n == 1


async def test_concurrent_verifications_of_one_email_make_one_login(
    http: httpx.AsyncClient,
) -> None:
    """Unverified sign-ups do not hold an address; of several verified at once, one wins."""
    email = f"race-{secrets.token_hex(4)}@example.com"
    body = {"team_name": "Race", "name": "Race", "email": email, "password": "correct-horse-1"}
    rs = await asyncio.gather(*[http.post("/api/v1/auth/signup", json=body) for _ in range(3)])
    assert [r.status_code for r in rs] == [201, 201, 201], [r.text for r in rs]
    tokens = [MAILBOX.take_token(email, "ldv_") for _ in rs]
    rs = await asyncio.gather(
        *[http.post("/api/v1/auth/verify-email", json={"token": t}) for t in tokens]
    )
    assert sorted(r.status_code for r in rs) == [200, 409, 409], [r.text for r in rs]
    for r in rs:
        if r.status_code == 409:
            assert_problem(r, 409)
    [(n,)] = sql(
        "SELECT count(*) FROM app.team_members WHERE email = %s AND email_verified_at IS NOT NULL",
        email,
    )
    assert n == 1


async def test_openapi_documents_auth(http: httpx.AsyncClient) -> None:
    r = await http.get("/api/v1/schema/openapi.json")
    assert r.status_code == 200, r.text
    paths = r.json()["paths"]
    for path in (
        "/api/v1/auth/signup",
        "/api/v1/auth/login",
        "/api/v1/auth/logout",
        "/api/v1/auth/verify-email",
        "/api/v1/auth/verify-email/resend",
        "/api/v1/me",
        "/api/v1/members",
        "/api/v1/api-keys",
        "/api/v1/invitations",
        "/api/v1/invitations/{token}/accept",
    ):
        assert path in paths, path
    # The invitation's answer holds no token any more (it is mailed to the invitee).
    invitation = r.json()["components"]["schemas"]["InvitationOut"]["properties"]
    assert "token" not in invitation
    assert "email_verified" in r.json()["components"]["schemas"]["MemberOut"]["properties"]
