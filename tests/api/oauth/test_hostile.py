"""Hostile input on the OAuth protocol endpoints (which the problem-document sweep skips):
never a 500; a refused form answers RFC 6749 error JSON, a refused consent page an HTML page;
nothing is issued."""

from __future__ import annotations

import httpx
import pytest

from tests.api.auth.conftest import sql
from tests.api.oauth.conftest import REDIRECT, register
from tests.conftest import Team

FORM = {"content-type": "application/x-www-form-urlencoded"}
BODIES = [
    (b"", FORM),
    (b"\x00=\xff&grant_type=client_credentials", FORM),
    (b"grant_type=client_credentials&grant_type=client_credentials", FORM),
    (b"grant_type=authorization_code&code=" + b"A" * 100_000, FORM),
    (b"grant_type=refresh_token&refresh_token=%00", FORM),
    (b"token=%ff%fe&token_type_hint=bogus", FORM),
    (b"grant_type=authorization_code&code=x&code_verifier=" + b"~" * 200, FORM),
    (b'{"grant_type": "client_credentials"}', {"content-type": "application/json"}),
    (b"grant_type=client_credentials", {"content-type": "text/plain"}),
    (b"grant_type=client_credentials", {}),
]


@pytest.mark.parametrize("endpoint", ["token", "revoke", "introspect", "authorize/decision"])
async def test_garbage_forms(endpoint: str, team: Team, http: httpx.AsyncClient) -> None:
    reg = await register(team, "leads:read")
    before = sql("SELECT count(*) FROM app.oauth_tokens WHERE team_id = %s", team.team_id)
    for auth in (None, (reg["client_id"], reg["client_secret"]), ("oac_x", "\u2603")):
        for body, headers in BODIES:
            r = await http.post(
                f"/api/v1/oauth/{endpoint}", content=body, headers=headers, auth=auth
            )
            assert r.status_code < 500, (endpoint, body[:60], r.text)
            if r.status_code >= 400:
                ctype = r.headers["content-type"]
                if ctype.startswith("application/json"):
                    assert r.json()["error"], r.text
                else:  # the consent form's sign-in refused: a problem document
                    assert ctype.startswith("application/problem+json"), r.text
    after = sql("SELECT count(*) FROM app.oauth_tokens WHERE team_id = %s", team.team_id)
    assert before == after


async def test_garbage_consent_queries(team: Team, http: httpx.AsyncClient) -> None:
    reg = await register(team, "leads:read")
    base = {"client_id": reg["client_id"], "redirect_uri": REDIRECT, "response_type": "code"}
    for params in (
        {},
        {"client_id": "\x00"},
        {**base, "redirect_uri": "https://evil.example/cb"},
        {**base, "response_type": "token"},
        {**base, "scope": "x" * 5000},
        {**base, "code_challenge": "short", "code_challenge_method": "S256"},
        {**base, "client_id": "oac_01J0000000000000000000000"},
    ):
        r = await http.get("/api/v1/oauth/authorize", params=params)
        assert r.status_code < 500, (params, r.text)
        if r.status_code == 302:  # only to the client's registered redirect URI
            assert r.headers["location"].startswith(REDIRECT + "?error=")
        elif r.headers["content-type"].startswith("application/problem+json"):
            assert r.status_code == r.json()["status"] == 422  # a NUL refused before the page
        else:
            assert r.status_code == 400 and r.headers["content-type"].startswith("text/html")
