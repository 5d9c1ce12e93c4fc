"""OAuth test helpers: clients registered through the API, authlib's own OAuth client talking
to the ASGI app, and the approval step a signed-in member takes."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.integrations.httpx_client._compat import httpx2

from tests.conftest import Team

REDIRECT = "https://app.example.com/callback"
TOKEN_URL = "https://leadly.test/api/v1/oauth/token"
REVOKE_URL = "https://leadly.test/api/v1/oauth/revoke"
INTROSPECT_URL = "https://leadly.test/api/v1/oauth/introspect"


async def register(
    team: Team,
    *scopes: str,
    type_: str = "confidential",
    redirect_uris: list[str] | None = None,
) -> dict[str, Any]:
    r = await team.post(
        "/api/v1/oauth/clients",
        json={
            "name": f"App {secrets.token_hex(2)}",
            "redirect_uris": [REDIRECT] if redirect_uris is None else redirect_uris,
            "scopes": list(scopes) or ["leads:read"],
            "type": type_,
        },
    )
    assert r.status_code == 201, r.text
    return r.json()


def oauth_client(app: Any, registered: dict[str, Any], **kw: Any) -> AsyncOAuth2Client:
    """authlib's httpx client for ``registered``, over the ASGI app (no network hop)."""
    return AsyncOAuth2Client(
        client_id=registered["client_id"],
        client_secret=registered.get("client_secret"),
        token_endpoint_auth_method=kw.pop(
            "auth_method", "client_secret_basic" if registered.get("client_secret") else "none"
        ),
        redirect_uri=REDIRECT,
        code_challenge_method="S256",
        # authlib's client is built on httpx2 (when installed): its own ASGI transport
        transport=httpx2.ASGITransport(app=app, client=("127.0.0.2", 4000)),
        base_url="https://leadly.test",
        **kw,
    )


@pytest.fixture
async def oauth(app: Any) -> AsyncIterator[Any]:
    clients: list[AsyncOAuth2Client] = []

    def make(registered: dict[str, Any], **kw: Any) -> AsyncOAuth2Client:
        c = oauth_client(app, registered, **kw)
        clients.append(c)
        return c

    yield make
    for c in clients:
        await c.aclose()


async def approve(
    member: Team,
    client: AsyncOAuth2Client,
    scope: str = "leads:read",
    *,
    verifier: str | None = None,
    approve: bool = True,
) -> tuple[dict[str, list[str]], str]:
    """The authorization step: authlib builds the URL (PKCE S256), the member approves through
    the JSON endpoint. Answers the redirect's query and the verifier."""
    verifier = verifier or generate_token(64)
    url, state = client.create_authorization_url(
        "https://leadly.test/api/v1/oauth/authorize", code_verifier=verifier, scope=scope
    )
    q = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
    r = await member.post(
        "/api/v1/oauth/authorize",
        json={
            "client_id": q["client_id"],
            "redirect_uri": q["redirect_uri"],
            "scope": q.get("scope", ""),
            "state": q["state"],
            "code_challenge": q["code_challenge"],
            "code_challenge_method": q["code_challenge_method"],
            "approve": approve,
        },
    )
    assert r.status_code == 200, r.text
    to = r.json()["redirect_to"]
    assert to.startswith(REDIRECT + "?")
    back = parse_qs(urlparse(to).query)
    assert back["state"] == [state]
    return back, verifier


async def code_flow(member: Team, client: AsyncOAuth2Client, scope: str = "leads:read") -> dict:
    back, verifier = await approve(member, client, scope)
    return await client.fetch_token(TOKEN_URL, code=back["code"][0], code_verifier=verifier)
