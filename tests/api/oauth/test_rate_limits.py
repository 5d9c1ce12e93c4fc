"""Rate limits per API key, OAuth client, signed-in member and address, with their headers;
the count shared by two API instances through Redis; the request log of keys and clients.

No clock: small limits, and requests counted. The burst window is an hour long here, so two
quick requests and two slow ones count the same."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.api.auth.conftest import add_member, api_key
from tests.api.oauth.conftest import code_flow, register
from tests.conftest import Team, assert_problem, make_team
from warehouse.dbt import patched_environ

SMALL = {
    "LEADLY_RATE_LIMIT_ANONYMOUS_PER_HOUR": "3",
    "LEADLY_RATE_LIMIT_SESSION_PER_HOUR": "4",
    "LEADLY_RATE_LIMIT_OAUTH_CLIENT_PER_HOUR": "3",
    "LEADLY_RATE_LIMIT_BURST_PER_SECOND": "1000",
    "LEADLY_RATE_LIMIT_BURST_WINDOW_SECONDS": "3600",
}


def _limited_app(extra: dict[str, str] | None = None) -> Any:
    """An API instance built with small limits (the shared test app keeps its own)."""
    from api.app import create_app
    from leadly.settings import get_settings

    get_settings.cache_clear()
    try:
        with patched_environ({**SMALL, **(extra or {})}):
            return create_app()
    finally:
        get_settings.cache_clear()


@pytest.fixture(scope="module")
def limited(database_url: str) -> Iterator[Any]:
    yield _limited_app()


def client_of(app: Any, ip: str | None = None) -> httpx.AsyncClient:
    ip = ip or f"192.0.2.{secrets.randbelow(250) + 1}"
    transport = httpx.ASGITransport(app=app, client=(ip, 1234))
    return httpx.AsyncClient(transport=transport, base_url="http://leadly.test")


@pytest.fixture
async def lim(limited: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(limited) as c:
        yield c


def counts(r: httpx.Response) -> tuple[int, int, int]:
    h = r.headers
    return int(h["ratelimit-limit"]), int(h["ratelimit-remaining"]), int(h["ratelimit-reset"])


def assert_429(r: httpx.Response) -> None:
    assert_problem(r, 429)
    assert int(r.headers["retry-after"]) >= 1
    _, remaining, reset = counts(r)
    assert remaining == 0 and reset >= 1


async def test_every_answer_carries_integer_headers(team: Team, http: httpx.AsyncClient) -> None:
    for r in (
        await team.get("/api/v1/me"),
        await team.get("/api/v1/leads/lead_01J00000000000000000000000"),  # a 404 too
        await http.get("/api/v1/health"),
    ):
        limit, remaining, reset = counts(r)
        assert limit > 0 and 0 <= remaining < limit and 1 <= reset <= 3600


async def test_api_key_limit_is_its_own(team: Team) -> None:
    r = await team.post(
        "/api/v1/api-keys", json={"name": "k", "scopes": ["leads:read"], "rate_limit_per_hour": 3}
    )
    assert r.status_code == 201 and r.json()["rate_limit_per_hour"] == 3, r.text
    key = team.as_token(r.json()["key"])
    seen = [counts(await key.get("/api/v1/leads"))[:2] for _ in range(3)]
    assert seen == [(3, 2), (3, 1), (3, 0)]
    assert_429(await key.get("/api/v1/leads"))
    assert (await team.get("/api/v1/leads")).status_code == 200  # the member's session: apart
    default = await api_key(team, "leads:read")
    assert default["rate_limit_per_hour"] == 1000
    r = await team.post(
        "/api/v1/api-keys", json={"name": "k", "scopes": ["leads:read"], "rate_limit_per_hour": 0}
    )
    assert_problem(r, 422)


async def test_session_limit_is_per_member(http: httpx.AsyncClient, limited: Any) -> None:
    owner = await make_team(http)
    colleague = await add_member(owner, "user")
    async with client_of(limited) as c:
        me, them = owner.__class__(c, owner.token, "", "", "", ""), colleague
        them = colleague.__class__(c, colleague.token, "", "", "", "")
        got = [counts(await me.get("/api/v1/me"))[:2] for _ in range(4)]
        assert got == [(4, 3), (4, 2), (4, 1), (4, 0)]
        assert_429(await me.get("/api/v1/me"))
        assert (await them.get("/api/v1/me")).status_code == 200  # another member: own count


async def test_unauthenticated_requests_count_per_address(limited: Any) -> None:
    async with client_of(limited) as a, client_of(limited) as b:
        for _ in range(3):
            assert (await a.get("/api/v1/health")).status_code == 200
        r = await a.get("/api/v1/health")
        assert_429(r)
        assert (await b.get("/api/v1/health")).status_code == 200


async def test_oauth_client_limit(team: Team, oauth, limited: Any) -> None:  # type: ignore[no-untyped-def]
    client = oauth(await register(team, "leads:read"))
    token = await code_flow(team, client)
    other = await code_flow(team, client)  # a second token of the same client: same count
    async with client_of(limited) as c:
        for t in (token, other, token):
            r = await c.get("/api/v1/me", headers={"Authorization": f"Bearer {t['access_token']}"})
            assert r.status_code == 200, r.text
        r = await c.get("/api/v1/me", headers={"Authorization": f"Bearer {other['access_token']}"})
        assert_429(r)


async def test_burst_limit(http: httpx.AsyncClient) -> None:
    app = _limited_app({"LEADLY_RATE_LIMIT_BURST_PER_SECOND": "2"})
    owner = await make_team(http)
    async with client_of(app) as c:
        h = {"Authorization": f"Bearer {owner.token}"}
        assert (await c.get("/api/v1/me", headers=h)).status_code == 200
        assert (await c.get("/api/v1/me", headers=h)).status_code == 200
        r = await c.get("/api/v1/me", headers=h)
        assert_429(r)
        assert counts(r)[0] == 2  # the burst window is the one reported


@pytest.mark.skipif(
    not os.environ.get("LEADLY_TEST_REDIS_URL"), reason="shared counts need Redis (single node)"
)
async def test_two_api_instances_share_the_count(http: httpx.AsyncClient) -> None:
    one, two = _limited_app(), _limited_app()
    owner = await make_team(http)
    h = {"Authorization": f"Bearer {owner.token}"}
    async with client_of(one) as a, client_of(two) as b:
        remaining = [counts(await c.get("/api/v1/me", headers=h))[1] for c in (a, b, a, b)]
        assert remaining == [3, 2, 1, 0]
        assert_429(await a.get("/api/v1/me", headers=h))
        assert_429(await b.get("/api/v1/me", headers=h))


async def test_request_log_per_key_and_client(team: Team, other_team: Team, oauth) -> None:  # type: ignore[no-untyped-def]
    key = await api_key(team, "leads:read")
    k = team.as_token(key["key"])
    assert (await k.get("/api/v1/leads")).status_code == 200
    assert (await k.get("/api/v1/leads/lead_01J00000000000000000000000")).status_code == 404
    assert (await k.post("/api/v1/leads", json={"first_name": "x"})).status_code == 403
    r = await team.get(f"/api/v1/api-keys/{key['id']}/requests", params={"limit": 2})
    assert r.status_code == 200, r.text
    page = r.json()
    assert [(x["method"], x["endpoint"], x["status"]) for x in page["data"]] == [
        ("POST", "/api/v1/leads", 403),
        ("GET", "/api/v1/leads/{record_id}", 404),
    ]
    assert all(x["duration_ms"] >= 0 and x["member_id"] == team.member_id for x in page["data"])
    assert page["has_more"] is True
    rest = await team.get(
        f"/api/v1/api-keys/{key['id']}/requests", params={"cursor": page["next_cursor"]}
    )
    assert [x["status"] for x in rest.json()["data"]] == [200] and not rest.json()["has_more"]

    reg = await register(team, "leads:read")
    token = await code_flow(team, oauth(reg))
    await team.http.get("/api/v1/me", headers={"Authorization": f"Bearer {token['access_token']}"})
    r = await team.get(f"/api/v1/oauth/clients/{reg['client_id']}/requests")
    assert [(x["endpoint"], x["status"]) for x in r.json()["data"]] == [("/api/v1/me", 200)]

    # admins only; another team's key is unknown
    user = await add_member(team, "user")
    assert_problem(await user.get(f"/api/v1/api-keys/{key['id']}/requests"), 403)
    assert_problem(await other_team.get(f"/api/v1/api-keys/{key['id']}/requests"), 404)
    assert_problem(await other_team.get(f"/api/v1/oauth/clients/{reg['client_id']}/requests"), 404)
    # sessions are not logged
    r = await team.get(f"/api/v1/api-keys/{key['id']}/requests")
    assert len(r.json()["data"]) == 3


async def test_refused_credentials_count_per_address(limited: Any) -> None:
    """An answer given before the caller is known (a bad token, an unknown path) carries the
    headers too and counts against the address: guessing tokens runs into the limit."""
    async with client_of(limited) as c:
        bad = {"Authorization": "Bearer ldk_guess"}
        r = await c.get("/api/v1/me", headers=bad)
        assert r.status_code == 401 and counts(r)[:2] == (3, 2)
        r = await c.get("/api/v1/no-such-path")
        assert r.status_code == 404 and counts(r)[:2] == (3, 1)
        r = await c.get("/api/v1/me", headers=bad)
        assert r.status_code == 401 and counts(r)[:2] == (3, 0)
        assert_429(await c.get("/api/v1/me", headers=bad))
        assert_429(await c.get("/api/v1/health"))  # the same address's count
