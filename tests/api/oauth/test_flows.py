"""The OAuth 2.0 flows as a client drives them, with authlib's own client: PKCE, the code
exchange, refresh rotation and reuse, revocation, introspection, client credentials, and the
RFC 6749 errors of a wrong secret, redirect URI, verifier, code or scope."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

import httpx
import pytest
from authlib.integrations.base_client import OAuthError

from leadly import clock
from tests.api.auth.conftest import add_member, sql
from tests.api.oauth.conftest import (
    INTROSPECT_URL,
    REDIRECT,
    REVOKE_URL,
    TOKEN_URL,
    approve,
    code_flow,
    register,
)
from tests.conftest import Team, assert_problem


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_metadata_names_every_endpoint(http: httpx.AsyncClient) -> None:
    r = await http.get("/.well-known/oauth-authorization-server")
    assert r.status_code == 200, r.text
    m = r.json()
    base = m["issuer"]
    for name, path in [
        ("authorization_endpoint", "authorize"),
        ("token_endpoint", "token"),
        ("revocation_endpoint", "revoke"),
        ("introspection_endpoint", "introspect"),
    ]:
        assert m[name] == f"{base}/api/v1/oauth/{path}"
    assert set(m["grant_types_supported"]) == {
        "authorization_code",
        "client_credentials",
        "refresh_token",
    }
    assert m["code_challenge_methods_supported"] == ["S256"]


async def test_code_flow_with_pkce_acts_as_the_member(team: Team, oauth) -> None:  # type: ignore[no-untyped-def]
    reg = await register(team, "leads:read", "leads:write")
    client = oauth(reg)
    token = await code_flow(team, client, "leads:read")
    assert token["token_type"].lower() == "bearer" and token["scope"] == "leads:read"
    assert token["access_token"].startswith("ldo_") and token["refresh_token"]

    me = await team.http.get("/api/v1/me", headers=bearer(token["access_token"]))
    assert me.status_code == 200, me.text
    assert me.json()["member"]["id"] == team.member_id and me.json()["auth"] == "oauth_client"
    assert me.json()["scopes"] == ["leads:read"]
    # authlib's client sends the token on its own requests
    assert (await client.get("/api/v1/leads")).status_code == 200
    # within its scopes only
    r = await team.http.post(
        "/api/v1/leads", json={"first_name": "X"}, headers=bearer(token["access_token"])
    )
    assert_problem(r, 403)

    # stored hashed: neither the token nor the refresh token appears in the database
    for secret in (token["access_token"], token["refresh_token"]):
        [(n,)] = sql(
            "SELECT count(*) FROM app.oauth_tokens t WHERE t::text LIKE %s", f"%{secret[4:]}%"
        )
        assert n == 0


async def test_refresh_rotates_and_a_reuse_revokes_the_family(team: Team, oauth) -> None:  # type: ignore[no-untyped-def]
    client = oauth(await register(team, "leads:read"))
    first = await code_flow(team, client)
    second = await client.refresh_token(TOKEN_URL, refresh_token=first["refresh_token"])
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    # the rotated-out access token ended with its refresh token; the new one works
    old = await team.http.get("/api/v1/me", headers=bearer(first["access_token"]))
    assert old.status_code == 401
    assert (await team.http.get("/api/v1/me", headers=bearer(second["access_token"]))).is_success

    with pytest.raises(OAuthError) as e:  # the first refresh token again: a reuse
        await client.refresh_token(TOKEN_URL, refresh_token=first["refresh_token"])
    assert e.value.error == "invalid_grant"
    # ... which revoked the whole family: the legitimate holder's tokens too
    r = await team.http.get("/api/v1/me", headers=bearer(second["access_token"]))
    assert r.status_code == 401
    with pytest.raises(OAuthError):
        await client.refresh_token(TOKEN_URL, refresh_token=second["refresh_token"])


async def test_revocation_and_introspection(team: Team, oauth) -> None:  # type: ignore[no-untyped-def]
    reg = await register(team, "leads:read")
    client = oauth(reg)
    token = await code_flow(team, client)
    r = await client.introspect_token(INTROSPECT_URL, token=token["access_token"])
    info = r.json()
    assert r.status_code == 200 and info["active"] is True, info
    assert info["client_id"] == reg["client_id"] and info["sub"] == team.member_id
    assert info["scope"] == "leads:read" and info["team_id"] == team.team_id

    # another client of the team may not look at it
    other = oauth(await register(team, "leads:read"))
    r = await other.introspect_token(INTROSPECT_URL, token=token["access_token"])
    assert r.json() == {"active": False}

    r = await client.revoke_token(REVOKE_URL, token=token["access_token"])
    assert r.status_code == 200
    assert (
        await team.http.get("/api/v1/me", headers=bearer(token["access_token"]))
    ).status_code == 401
    info = (await client.introspect_token(INTROSPECT_URL, token=token["access_token"])).json()
    assert info == {"active": False}
    # revoking the refresh token ends the family
    await client.revoke_token(
        REVOKE_URL, token=token["refresh_token"], token_type_hint="refresh_token"
    )
    with pytest.raises(OAuthError):
        await client.refresh_token(TOKEN_URL, refresh_token=token["refresh_token"])
    # an unknown token: 200 all the same (RFC 7009 §2.2)
    assert (await client.revoke_token(REVOKE_URL, token="ldo_nothing")).status_code == 200


async def test_client_credentials_act_as_the_registering_admin(team: Team, oauth) -> None:  # type: ignore[no-untyped-def]
    client = oauth(await register(team, "leads:read", "deals:read"))
    token = await client.fetch_token(TOKEN_URL, grant_type="client_credentials", scope="deals:read")
    assert "refresh_token" not in token and token["scope"] == "deals:read"
    me = (await team.http.get("/api/v1/me", headers=bearer(token["access_token"]))).json()
    assert me["member"]["id"] == team.member_id and me["scopes"] == ["deals:read"]
    # all of its scopes when none is asked
    token = await client.fetch_token(TOKEN_URL, grant_type="client_credentials")
    assert set(token["scope"].split()) == {"leads:read", "deals:read"}
    with pytest.raises(OAuthError) as e:  # beyond its registration: refused
        await client.fetch_token(TOKEN_URL, grant_type="client_credentials", scope="members:write")
    assert e.value.error == "invalid_scope"


async def test_public_client_uses_pkce_without_a_secret(team: Team, oauth) -> None:  # type: ignore[no-untyped-def]
    reg = await register(team, "leads:read", type_="public")
    assert "client_secret" not in reg
    client = oauth(reg)
    token = await code_flow(team, client)
    assert (await team.http.get("/api/v1/me", headers=bearer(token["access_token"]))).is_success
    with pytest.raises(OAuthError) as e:  # public clients have no client credentials grant
        await client.fetch_token(TOKEN_URL, grant_type="client_credentials")
    assert e.value.error == "invalid_client"  # it has no credentials to authenticate with


async def _token_error(http: httpx.AsyncClient, data: dict, auth=None) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    r = await http.post("/api/v1/oauth/token", data=data, auth=auth)
    assert r.headers["content-type"].startswith("application/json"), r.headers
    assert r.headers["cache-control"] == "no-store"
    return r.status_code, r.json()


async def test_errors_follow_rfc_6749(team: Team, oauth, http: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    reg = await register(team, "leads:read")
    client = oauth(reg)
    auth = (reg["client_id"], reg["client_secret"])

    status, body = await _token_error(
        http, {"grant_type": "client_credentials"}, (reg["client_id"], "wrong-secret")
    )
    assert status == 401 and body["error"] == "invalid_client"

    back, verifier = await approve(team, client)
    code = back["code"][0]
    status, body = await _token_error(  # wrong verifier
        http,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": "x" * 64,
        },
        auth,
    )
    assert status == 400 and body["error"] == "invalid_grant"
    status, body = await _token_error(  # wrong redirect URI
        http,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "https://app.example.com/other",
            "code_verifier": verifier,
        },
        auth,
    )
    assert status == 400 and body["error"] == "invalid_grant"
    status, body = await _token_error(  # no verifier at all
        http, {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}, auth
    )
    assert status == 400 and body["error"] == "invalid_request"
    # the right one still works once, and only once
    ok = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    r = await http.post("/api/v1/oauth/token", data=ok, auth=auth)
    assert r.status_code == 200, r.text
    status, body = await _token_error(http, ok, auth)
    assert status == 400 and body["error"] == "invalid_grant"

    status, body = await _token_error(http, {"grant_type": "password"}, auth)
    assert status == 400 and body["error"] == "unsupported_grant_type"
    r = await http.post("/api/v1/oauth/token", json={"grant_type": "client_credentials"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


async def test_expired_code_is_refused(team: Team, oauth, http: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    reg = await register(team, "leads:read")
    back, verifier = await approve(team, oauth(reg))
    clock.advance(timedelta(minutes=11))
    try:
        status, body = await _token_error(
            http,
            {
                "grant_type": "authorization_code",
                "code": back["code"][0],
                "redirect_uri": REDIRECT,
                "code_verifier": verifier,
            },
            (reg["client_id"], reg["client_secret"]),
        )
    finally:
        clock.advance(-timedelta(minutes=11))
    assert status == 400 and body["error"] == "invalid_grant"


async def test_authorize_refuses_plain_escalation_and_strangers(
    team: Team, other_team: Team
) -> None:
    reg = await register(team, "leads:read")
    verifier = "v" * 50
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    body = {
        "client_id": reg["client_id"],
        "redirect_uri": REDIRECT,
        "scope": "leads:read",
        "state": "s1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }

    # plain PKCE (or none): refused, told to the client through its redirect URI
    r = await team.post(
        "/api/v1/oauth/authorize",
        json={**body, "code_challenge_method": "plain", "code_challenge": verifier},
    )
    assert r.status_code == 200 and "error=invalid_request" in r.json()["redirect_to"]
    r = await team.post("/api/v1/oauth/authorize", json={**body, "code_challenge": ""})
    assert r.status_code == 200 and "error=invalid_request" in r.json()["redirect_to"]
    # a redirect URI the client did not register: never redirected to
    p = assert_problem(
        await team.post(
            "/api/v1/oauth/authorize", json={**body, "redirect_uri": "https://evil.example.com/cb"}
        ),
        400,
    )
    assert p["error"] == "invalid_request"
    # a scope the client was not registered for: an error sent back to the client
    r = await team.post("/api/v1/oauth/authorize", json={**body, "scope": "members:write"})
    assert r.status_code == 200 and "error=invalid_scope" in r.json()["redirect_to"]
    # denial
    r = await team.post("/api/v1/oauth/authorize", json={**body, "approve": False})
    assert r.status_code == 200, r.text
    assert (
        "error=access_denied" in r.json()["redirect_to"] and "state=s1" in r.json()["redirect_to"]
    )
    # another team's client is unknown here
    assert_problem(await other_team.post("/api/v1/oauth/authorize", json=body), 404)
    # an API key cannot approve apps
    key = (await team.post("/api/v1/api-keys", json={"name": "k", "scopes": ["*"]})).json()["key"]
    r = await team.http.post("/api/v1/oauth/authorize", json=body, headers=bearer(key))
    assert_problem(r, 403)


async def test_demoted_or_deactivated_member_loses_access_at_once(team: Team, oauth) -> None:  # type: ignore[no-untyped-def]
    admin = await add_member(team, "admin")
    client = oauth(await register(team, "members:read", "members:write"))
    token = await code_flow(admin, client, "members:read members:write")
    h = bearer(token["access_token"])
    user = await add_member(team, "user")
    r = await team.http.post(
        "/api/v1/invitations", json={"email": "x-oauth@example.com"}, headers=h
    )
    assert r.status_code == 201, r.text  # an admin's token invites ...

    assert (
        await team.patch(f"/api/v1/members/{admin.member_id}", json={"role": "user"})
    ).is_success
    r = await team.http.post(
        "/api/v1/invitations", json={"email": "y-oauth@example.com"}, headers=h
    )
    assert_problem(r, 403)  # ... a user's does not: the token follows the member's role
    del user

    assert (
        await team.patch(f"/api/v1/members/{admin.member_id}", json={"is_active": False})
    ).is_success
    assert (await team.http.get("/api/v1/me", headers=h)).status_code == 401
    with pytest.raises(OAuthError):
        await client.refresh_token(TOKEN_URL, refresh_token=token["refresh_token"])
