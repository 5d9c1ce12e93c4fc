"""The login throttle: per account and per client address, 429 with Retry-After.

Every test uses its own client address (see ``client_for``) so the per-address counter of one
test never starves another, nor the shared ``http`` client at 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import httpx

from tests.api.auth.conftest import client_for, random_ip
from tests.conftest import Team, assert_problem, make_team


async def login(c: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await c.post("/api/v1/auth/login", json={"email": email, "password": password})


def assert_throttled(r: httpx.Response) -> None:
    assert_problem(r, 429)
    retry = int(r.headers["Retry-After"])
    assert 0 < retry <= 900


async def test_account_locked_after_five_failures(app: Any, team: Team) -> None:
    async with client_for(app) as c:
        for _ in range(5):
            assert_problem(await login(c, team.email, "wrong-password-1"), 401)
        assert_throttled(await login(c, team.email, "wrong-password-1"))
        # Even the right password is refused while the account is throttled ...
        assert_throttled(await login(c, team.email, team.password))
    # ... from any address: the account counter is per account.
    async with client_for(app) as c2:
        assert_throttled(await login(c2, team.email.upper(), team.password))
    # Sessions already issued keep working.
    assert (await team.get("/api/v1/me")).status_code == 200


async def test_success_resets_account_counter(app: Any, team: Team) -> None:
    async with client_for(app) as c:
        for _ in range(4):
            assert_problem(await login(c, team.email, "wrong-password-1"), 401)
        assert (await login(c, team.email, team.password)).status_code == 200
        for _ in range(4):
            assert_problem(await login(c, team.email, "wrong-password-1"), 401)
        assert (await login(c, team.email, team.password)).status_code == 200


async def test_unknown_accounts_are_throttled_too(app: Any) -> None:
    email = f"ghost-{secrets.token_hex(4)}@example.com"
    async with client_for(app) as c:
        for _ in range(5):
            assert_problem(await login(c, email, "whatever-123"), 401)
        assert_throttled(await login(c, email, "whatever-123"))


async def test_address_blocked_after_twenty_failures(app: Any, http: httpx.AsyncClient) -> None:
    victim = await make_team(http)
    ip = random_ip()
    async with client_for(app, ip) as c:
        for i in range(20):  # spread over accounts so no account limit is reached
            email = f"spray-{i}-{secrets.token_hex(3)}@example.com"
            assert_problem(await login(c, email, "wrong-password-1"), 401)
        assert_throttled(await login(c, victim.email, victim.password))
    # Another address is not affected, and the victim's account was never touched.
    async with client_for(app) as other:
        assert (await login(other, victim.email, victim.password)).status_code == 200


async def test_successful_logins_do_not_count_against_the_address(app: Any, team: Team) -> None:
    async with client_for(app) as c:
        for _ in range(25):
            r = await login(c, team.email, team.password)
            assert r.status_code == 200, r.text


async def test_successful_login_does_not_reset_the_address_counter(
    app: Any, http: httpx.AsyncClient
) -> None:
    t = await make_team(http)
    async with client_for(app) as c:
        for i in range(19):
            email = f"spray-{i}-{secrets.token_hex(3)}@example.com"
            assert_problem(await login(c, email, "wrong-password-1"), 401)
        assert (await login(c, t.email, t.password)).status_code == 200
        assert_problem(await login(c, "another@example.com", "wrong-password-1"), 401)
        assert_throttled(await login(c, t.email, t.password))


async def test_parallel_guesses_cannot_exceed_the_limit(app: Any, team: Team) -> None:
    async with client_for(app) as c:
        rs = await asyncio.gather(*[login(c, team.email, f"guess-number-{i}") for i in range(15)])
    codes = [r.status_code for r in rs]
    assert codes.count(401) <= 5, codes
    assert codes.count(429) >= 10, codes
    assert set(codes) <= {401, 429}


async def test_throttled_response_shape(app: Any, team: Team) -> None:
    async with client_for(app) as c:
        for _ in range(5):
            await login(c, team.email, "wrong-password-1")
        r = await login(c, team.email, "wrong-password-1")
    body = assert_problem(r, 429)
    assert body["title"] == "Too Many Requests"
    assert body.get("retry_after") == int(r.headers["Retry-After"])
