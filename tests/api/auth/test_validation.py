"""Bad input on the auth endpoints is always a 4xx problem document, never a 500."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from tests.api.auth.conftest import invite
from tests.conftest import Team, assert_problem


def signup_body(**over: Any) -> dict[str, Any]:
    body = {
        "team_name": "Valid Team",
        "name": "Valid Name",
        "email": f"v-{secrets.token_hex(4)}@example.com",
        "password": "correct-horse-battery",
    }
    body.update(over)
    return {k: v for k, v in body.items() if v is not ...}


def fields_of(problem: dict[str, Any]) -> set[str]:
    assert isinstance(problem.get("errors"), list) and problem["errors"], problem
    return {e["field"] for e in problem["errors"]}


JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    "raw",
    [b"{", b"{'a': 1}", b"not json", b'{"email": "a@b.co",}', b"\xff\xfe", b'{"a":1}{'],
)
async def test_malformed_json_is_400(http: httpx.AsyncClient, raw: bytes) -> None:
    for url in ("/api/v1/auth/signup", "/api/v1/auth/login"):
        assert_problem(await http.post(url, content=raw, headers=JSON), 400)


async def test_invalid_utf8_and_deep_nesting_are_4xx_on_every_auth_body(
    http: httpx.AsyncClient, team: Team
) -> None:
    """Litestar's own parsing answered 500 to both (UnicodeDecodeError, RecursionError)."""
    inv = await invite(team)
    for url, client in (
        ("/api/v1/auth/signup", http),
        ("/api/v1/auth/login", http),
        (f"/api/v1/invitations/{inv['token']}/accept", http),
        ("/api/v1/api-keys", team),
        ("/api/v1/invitations", team),
    ):
        for raw, status in ((b'{"name": "\xff\xfe"}', 400), (b"[" * 10_000 + b"]" * 10_000, 422)):
            assert_problem(await client.post(url, content=raw, headers=JSON), status)
    url = f"/api/v1/members/{team.member_id}"
    assert_problem(await team.patch(url, content=b'{"name": "\xff"}', headers=JSON), 400)


async def test_empty_body_is_4xx(http: httpx.AsyncClient) -> None:
    for url in ("/api/v1/auth/signup", "/api/v1/auth/login"):
        r = await http.post(url, content=b"", headers=JSON)
        assert 400 <= r.status_code < 500, r.text
        assert_problem(r, r.status_code)


@pytest.mark.parametrize("body", [[], "x", 1, None, True])
async def test_non_object_body_is_4xx(http: httpx.AsyncClient, body: Any) -> None:
    r = await http.post("/api/v1/auth/signup", json=body)
    assert r.status_code in (400, 422), r.text
    assert_problem(r, r.status_code)


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"email": 5}, "email"),
        ({"password": ["x"]}, "password"),
        ({"team_name": None}, "team_name"),
        ({"name": {"a": 1}}, "name"),
        ({"time_zone": 3}, "time_zone"),
        ({"email": ...}, "email"),
        ({"password": ...}, "password"),
        ({"team_name": ...}, "team_name"),
    ],
)
async def test_wrong_types_and_missing_fields_are_422_naming_the_field(
    http: httpx.AsyncClient, over: dict[str, Any], field: str
) -> None:
    p = assert_problem(await http.post("/api/v1/auth/signup", json=signup_body(**over)), 422)
    assert field in fields_of(p), p


async def test_unknown_field_is_422(http: httpx.AsyncClient) -> None:
    p = assert_problem(await http.post("/api/v1/auth/signup", json=signup_body(role="owner")), 422)
    assert "role" in fields_of(p)
    p = assert_problem(
        await http.post(
            "/api/v1/auth/login", json={"email": "a@b.co", "password": "x" * 12, "remember": 1}
        ),
        422,
    )
    assert "remember" in fields_of(p)


@pytest.mark.parametrize("password", ["", "short", "123456789"])
async def test_short_password_is_422(http: httpx.AsyncClient, password: str) -> None:
    p = assert_problem(
        await http.post("/api/v1/auth/signup", json=signup_body(password=password)), 422
    )
    assert fields_of(p) == {"password"}


async def test_overlong_values_are_422(http: httpx.AsyncClient) -> None:
    for over, field in (
        ({"password": "x" * 257}, "password"),
        ({"name": "x" * 201}, "name"),
        ({"team_name": "x" * 201}, "team_name"),
        ({"email": "a" * 320 + "@example.com"}, "email"),
        ({"time_zone": "x" * 5000}, "time_zone"),
    ):
        p = assert_problem(await http.post("/api/v1/auth/signup", json=signup_body(**over)), 422)
        assert field in fields_of(p), p


@pytest.mark.parametrize(
    "email",
    [
        "",
        "plain",
        "a@b",
        "@example.com",
        "a@@example.com",
        "a b@example.com",
        "a@example.com ",
        "a\x00b@example.com",
    ],
)
async def test_bad_email_is_422(http: httpx.AsyncClient, email: str) -> None:
    p = assert_problem(await http.post("/api/v1/auth/signup", json=signup_body(email=email)), 422)
    assert fields_of(p) == {"email"}


@pytest.mark.parametrize(
    "tz",
    [
        "Mars/Olympus",
        "",
        "utc",
        "Europe",
        "zone.tab",
        "../../etc/passwd",
        "UTC\x00",
        "x" * 300,
        "/etc/localtime",
    ],
)
async def test_bad_time_zone_is_422(http: httpx.AsyncClient, tz: str) -> None:
    p = assert_problem(await http.post("/api/v1/auth/signup", json=signup_body(time_zone=tz)), 422)
    assert fields_of(p) == {"time_zone"}


@pytest.mark.parametrize("over", [{"name": "   "}, {"team_name": "\t"}, {"name": "a\x00b"}])
async def test_blank_or_nul_names_are_422(http: httpx.AsyncClient, over: dict[str, Any]) -> None:
    p = assert_problem(await http.post("/api/v1/auth/signup", json=signup_body(**over)), 422)
    assert fields_of(p) == set(over)


async def test_nul_bytes_in_login_are_not_500(http: httpx.AsyncClient) -> None:
    r = await http.post(
        "/api/v1/auth/login", json={"email": "a\x00@example.com", "password": "x\x00" * 6}
    )
    assert r.status_code in (401, 422), r.text
    assert_problem(r, r.status_code)


async def test_body_over_one_mib_is_413(http: httpx.AsyncClient, team: Team) -> None:
    big = signup_body(name="x" * (1024 * 1024 + 10))
    assert_problem(await http.post("/api/v1/auth/signup", json=big), 413)
    assert_problem(
        await http.post(
            "/api/v1/auth/login", json={"email": "a" * (1024 * 1024 + 1), "password": "x"}
        ),
        413,
    )
    assert_problem(
        await team.post(
            "/api/v1/api-keys", json={"name": "k" * (1024 * 1024 + 1), "scopes": ["leads:read"]}
        ),
        413,
    )


async def test_body_over_one_mib_without_length_is_413(http: httpx.AsyncClient) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        yield b'{"email": "'
        for _ in range(20):
            yield b"a" * 65536
        yield b'", "password": "x"}'

    r = await http.post("/api/v1/auth/login", content=chunks(), headers=JSON)
    assert_problem(r, 413)


async def test_api_key_bad_input(team: Team) -> None:
    cases: list[tuple[Any, str | None]] = [
        ({"name": "k", "scopes": []}, "scopes"),
        ({"name": "k", "scopes": ["leads:delete"]}, "scopes[0]"),
        ({"name": "k", "scopes": "leads:read"}, "scopes"),
        ({"name": "k", "scopes": [1]}, "scopes[0]"),
        ({"name": "", "scopes": ["leads:read"]}, "name"),
        ({"scopes": ["leads:read"]}, "name"),
        ({"name": "k", "scopes": ["leads:read"], "admin": True}, "admin"),
        ({"name": "k", "scopes": ["leads:read"], "expires_at": "tomorrow"}, "expires_at"),
        (
            {"name": "k", "scopes": ["leads:read"], "expires_at": "2020-01-01T00:00:00Z"},
            "expires_at",
        ),
    ]
    # Outside 1700-01-01 .. 4000-12-31 (UTC): year 10000 in UTC was a 500 (stored, then
    # unreadable by the driver).
    for moment in ("9999-12-31T23:59:59-12:00", "4001-01-01T00:00:00Z"):
        cases.append(({"name": "k", "scopes": ["leads:read"], "expires_at": moment}, "expires_at"))
    for body, field in cases:
        p = assert_problem(await team.post("/api/v1/api-keys", json=body), 422)
        assert field in fields_of(p), (body, p)
    assert_problem(await team.post("/api/v1/api-keys", content=b"{", headers=JSON), 400)


async def test_invitation_bad_input(team: Team) -> None:
    for body, field in (
        ({"email": "nope", "role": "user"}, "email"),
        ({"email": "a@example.com", "role": "superuser"}, "role"),
        ({"email": "a@example.com", "role": "user", "x": 1}, "x"),
        ({"role": "user"}, "email"),
    ):
        p = assert_problem(await team.post("/api/v1/invitations", json=body), 422)
        assert field in fields_of(p), (body, p)
    assert_problem(await team.post("/api/v1/invitations", content=b"[", headers=JSON), 400)


async def test_accept_bad_input(http: httpx.AsyncClient, team: Team) -> None:
    inv = await invite(team)
    url = f"/api/v1/invitations/{inv['token']}/accept"
    for body, field in (
        ({"name": "N", "password": "short"}, "password"),
        ({"name": "N", "password": "long-enough-pw", "time_zone": "Nowhere/Land"}, "time_zone"),
        ({"name": "N", "password": "long-enough-pw", "email": "x@example.com"}, "email"),
        ({"password": "long-enough-pw"}, "name"),
    ):
        p = assert_problem(await http.post(url, json=body), 422)
        assert field in fields_of(p), (body, p)
    assert_problem(await http.post(url, content=b"nope", headers=JSON), 400)
    # None of that consumed the invitation.
    r = await http.post(url, json={"name": "N", "password": "long-enough-pw"})
    assert r.status_code == 201, r.text


async def test_member_update_bad_input(team: Team) -> None:
    url = f"/api/v1/members/{team.member_id}"
    for body, field in (
        ({"role": "god"}, "role"),
        ({"is_active": "yes"}, "is_active"),
        ({"time_zone": "Atlantis/Capital"}, "time_zone"),
        ({"email": "x@example.com"}, "email"),
        ({"password_hash": "x"}, "password_hash"),
        ({"name": ""}, "name"),
    ):
        p = assert_problem(await team.patch(url, json=body), 422)
        assert field in fields_of(p), (body, p)
    assert_problem(await team.patch(url, content=b"{", headers=JSON), 400)
    assert_problem(await team.patch(url, json={"name": "x"}, headers={"If-Match": "abc"}), 400)


async def test_member_search_odd_input(team: Team) -> None:
    for q in ("\\", "%", "_", "'", "a\\", "é", "x" * 200, " "):
        r = await team.get("/api/v1/members", params={"search": q})
        assert r.status_code == 200, (q, r.text)
    for q in ("a\x00", "x" * 201):
        r = await team.get("/api/v1/members", params={"search": q})
        assert r.status_code in (400, 422), r.text
        assert fields_of(assert_problem(r, r.status_code)) == {"search"}
    assert_problem(await team.get("/api/v1/members", params={"limit": "abc"}), 400)
    assert_problem(await team.get("/api/v1/members", params={"sort": "password_hash"}), 400)
    assert_problem(await team.get("/api/v1/members", params={"filter[password_hash]": "x"}), 400)
