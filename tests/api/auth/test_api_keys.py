"""API keys: shown once, stored hashed, scoped, revocable, confined to their team."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx

from tests.api.auth.conftest import add_member, api_key, sql
from tests.conftest import Team, assert_problem


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_create_shows_key_once(team: Team) -> None:
    r = await team.post("/api/v1/api-keys", json={"name": "Zapier", "scopes": ["leads:read"]})
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) >= {"id", "name", "scopes", "prefix", "key"}
    assert body["name"] == "Zapier" and body["scopes"] == ["leads:read"]
    assert body["key"].startswith(body["prefix"]) and len(body["key"]) > len(body["prefix"]) + 20
    assert body["id"].startswith("key_")

    listed = await team.get("/api/v1/api-keys")
    assert listed.status_code == 200, listed.text
    [item] = [k for k in listed.json()["data"] if k["id"] == body["id"]]
    assert "key" not in item and item["prefix"] == body["prefix"]
    assert body["key"] not in listed.text


async def test_key_is_stored_hashed(team: Team) -> None:
    key = (await api_key(team, "leads:read"))["key"]
    secret = key[12:]  # the part after the displayed prefix
    for table in ("api_keys", "events", "sessions", "idempotency_keys"):
        [(n,)] = sql(f"SELECT count(*) FROM app.{table} t WHERE t::text LIKE %s", f"%{secret}%")
        assert n == 0, table


async def test_idempotent_create_does_not_store_the_key(team: Team) -> None:
    headers = {"Idempotency-Key": "create-key-1"}
    body = {"name": "retry", "scopes": ["leads:read"]}
    r = await team.post("/api/v1/api-keys", json=body, headers=headers)
    assert r.status_code == 201, r.text
    secret = r.json()["key"][12:]
    [(n,)] = sql(
        "SELECT count(*) FROM app.idempotency_keys t WHERE t::text LIKE %s"
        " OR convert_from(body, 'UTF8') LIKE %s",
        f"%{secret}%",
        f"%{secret}%",
    )
    assert n == 0


async def test_key_authenticates_like_a_session(team: Team) -> None:
    key = (await api_key(team, "leads:read"))["key"]
    r = await team.http.get("/api/v1/me", headers=bearer(key))
    assert r.status_code == 200, r.text
    me = r.json()
    assert me["auth"] == "api_key" and me["scopes"] == ["leads:read"]
    assert me["member"]["id"] == team.member_id


async def test_scopes_are_enforced(team: Team) -> None:
    key = (await api_key(team, "leads:read"))["key"]
    h = bearer(key)
    assert (await team.http.get("/api/v1/leads", headers=h)).status_code == 200
    p = assert_problem(
        await team.http.post("/api/v1/leads", json={"first_name": "No"}, headers=h), 403
    )
    assert "leads:write" in p["detail"]
    assert_problem(await team.http.get("/api/v1/contacts", headers=h), 403)
    assert_problem(await team.http.get("/api/v1/accounts", headers=h), 403)


async def test_write_scope_implies_read(team: Team) -> None:
    key = (await api_key(team, "leads:write"))["key"]
    h = bearer(key)
    r = await team.http.post("/api/v1/leads", json={"first_name": "Yes"}, headers=h)
    assert r.status_code == 201, r.text
    assert (await team.http.get("/api/v1/leads", headers=h)).status_code == 200
    assert_problem(await team.http.get("/api/v1/contacts", headers=h), 403)


async def test_wildcard_scopes(team: Team) -> None:
    h = bearer((await api_key(team, "*"))["key"])
    assert (await team.http.get("/api/v1/contacts", headers=h)).status_code == 200
    h = bearer((await api_key(team, "contacts:*"))["key"])
    assert (await team.http.get("/api/v1/contacts", headers=h)).status_code == 200
    assert_problem(await team.http.get("/api/v1/leads", headers=h), 403)


async def test_member_and_key_endpoints_need_their_scopes(team: Team) -> None:
    h = bearer((await api_key(team, "leads:read"))["key"])
    assert_problem(await team.http.get("/api/v1/members", headers=h), 403)
    assert_problem(await team.http.get(f"/api/v1/members/{team.member_id}", headers=h), 403)
    assert_problem(
        await team.http.patch(f"/api/v1/members/{team.member_id}", json={"name": "X"}, headers=h),
        403,
    )
    assert_problem(
        await team.http.post("/api/v1/invitations", json={"email": "x@example.com"}, headers=h),
        403,
    )
    assert_problem(await team.http.get("/api/v1/api-keys", headers=h), 403)
    h = bearer((await api_key(team, "members:read"))["key"])
    assert (await team.http.get("/api/v1/members", headers=h)).status_code == 200


async def test_a_key_cannot_mint_keys_or_log_out(team: Team) -> None:
    h = bearer((await api_key(team, "*"))["key"])
    r = await team.http.post("/api/v1/api-keys", json={"name": "child", "scopes": ["*"]}, headers=h)
    assert_problem(r, 403)
    r = await team.http.post("/api/v1/auth/logout", headers=h)
    assert 400 <= r.status_code < 500
    assert (await team.http.get("/api/v1/me", headers=h)).status_code == 200


async def test_revoke(team: Team) -> None:
    k = await api_key(team, "leads:read")
    h = bearer(k["key"])
    assert (await team.http.get("/api/v1/leads", headers=h)).status_code == 200
    r = await team.delete(f"/api/v1/api-keys/{k['id']}")
    assert r.status_code == 204, r.text
    assert_problem(await team.http.get("/api/v1/leads", headers=h), 401)
    listed = (await team.get("/api/v1/api-keys")).json()["data"]
    [item] = [x for x in listed if x["id"] == k["id"]]
    assert item["revoked_at"] is not None
    assert_problem(await team.delete(f"/api/v1/api-keys/{k['id']}"), 404)
    assert_problem(await team.delete("/api/v1/api-keys/key_nope"), 404)


async def test_expired_key_is_401(team: Team) -> None:
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    r = await team.post(
        "/api/v1/api-keys", json={"name": "short", "scopes": ["leads:read"], "expires_at": soon}
    )
    assert r.status_code == 201, r.text
    k = r.json()
    assert (await team.http.get("/api/v1/leads", headers=bearer(k["key"]))).status_code == 200
    sql("UPDATE app.api_keys SET expires_at = now() - interval '1 second' WHERE id = %s", k["id"])
    assert_problem(await team.http.get("/api/v1/leads", headers=bearer(k["key"])), 401)


async def test_key_use_is_recorded(team: Team) -> None:
    k = await api_key(team, "leads:read")
    await team.http.get("/api/v1/leads", headers=bearer(k["key"]))
    [item] = [x for x in (await team.get("/api/v1/api-keys")).json()["data"] if x["id"] == k["id"]]
    assert item["last_used_at"] is not None


async def test_keys_of_other_teams_are_404(team: Team, other_team: Team) -> None:
    k = await api_key(other_team, "leads:read")
    assert_problem(await team.delete(f"/api/v1/api-keys/{k['id']}"), 404)
    assert k["id"] not in (await team.get("/api/v1/api-keys")).text
    h = bearer(k["key"])
    assert (await team.http.get("/api/v1/leads", headers=h)).status_code == 200  # still works


async def test_users_see_and_revoke_only_their_own_keys(team: Team) -> None:
    user = await add_member(team, "user")
    mine = await api_key(user, "leads:read")
    owners = await api_key(team, "leads:read")
    ids = {k["id"] for k in (await user.get("/api/v1/api-keys")).json()["data"]}
    assert ids == {mine["id"]}
    assert_problem(await user.delete(f"/api/v1/api-keys/{owners['id']}"), 404)
    # An admin/owner sees and may revoke every key of the team.
    ids = {k["id"] for k in (await team.get("/api/v1/api-keys")).json()["data"]}
    assert {mine["id"], owners["id"]} <= ids
    assert (await team.delete(f"/api/v1/api-keys/{mine['id']}")).status_code == 204
    assert (await user.delete(f"/api/v1/api-keys/{mine['id']}")).status_code == 404


async def test_guest_cannot_create_keys(team: Team) -> None:
    guest = await add_member(team, "guest")
    assert_problem(
        await guest.post("/api/v1/api-keys", json={"name": "g", "scopes": ["leads:read"]}), 403
    )


async def test_key_acts_with_its_members_role(team: Team) -> None:
    user = await add_member(team, "user")
    h = bearer((await api_key(user, "*"))["key"])
    # A user's key with "*" still cannot do what the user cannot ...
    r = await team.http.post("/api/v1/invitations", json={"email": "z@example.com"}, headers=h)
    assert_problem(r, 403)
    # ... and follows the member's role as it changes.
    r = await team.patch(f"/api/v1/members/{user.member_id}", json={"role": "admin"})
    assert r.status_code == 200, r.text
    r = await team.http.post(
        "/api/v1/invitations", json={"email": f"z-{user.member_id[-6:]}@example.com"}, headers=h
    )
    assert r.status_code == 201, r.text


async def test_concurrent_use_of_a_key(team: Team) -> None:
    h = bearer((await api_key(team, "leads:read"))["key"])
    rs = await asyncio.gather(*[team.http.get("/api/v1/leads", headers=h) for _ in range(8)])
    assert [r.status_code for r in rs] == [200] * 8


async def test_request_without_team_header_games(http: httpx.AsyncClient, team: Team) -> None:
    # Nothing the client sends besides the credential picks the team.
    other = await api_key(team, "leads:read")
    r = await http.get("/api/v1/me", headers={**bearer(other["key"]), "X-Team-Id": "team_other"})
    assert r.json()["team"]["id"] == team.team_id
