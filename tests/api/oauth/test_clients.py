"""Client registration (admins only, secret shown once and stored hashed), the member's
authorised apps with revoke, tenant isolation."""

from __future__ import annotations

from tests.api.auth.conftest import add_member, sql
from tests.api.oauth.conftest import REDIRECT, code_flow, register
from tests.conftest import Team, assert_problem


async def test_register_get_list_delete(team: Team, other_team: Team) -> None:
    reg = await register(team, "leads:read", "deals:*")
    assert reg["client_id"].startswith("oac_") and reg["client_secret"].startswith("ocs_")
    assert reg["redirect_uris"] == [REDIRECT] and reg["type"] == "confidential"
    assert reg["scopes"] == ["deals:*", "leads:read"]

    got = await team.get(f"/api/v1/oauth/clients/{reg['client_id']}")
    assert got.status_code == 200 and "client_secret" not in got.json()
    listed = await team.get("/api/v1/oauth/clients")
    assert [c["client_id"] for c in listed.json()["data"]] == [reg["client_id"]]
    assert reg["client_secret"] not in listed.text
    [(n,)] = sql(
        "SELECT count(*) FROM app.oauth_clients c WHERE c::text LIKE %s",
        f"%{reg['client_secret'][4:]}%",
    )
    assert n == 0

    # another team sees nothing of it
    assert_problem(await other_team.get(f"/api/v1/oauth/clients/{reg['client_id']}"), 404)
    assert_problem(await other_team.delete(f"/api/v1/oauth/clients/{reg['client_id']}"), 404)
    assert (await other_team.get("/api/v1/oauth/clients")).json()["data"] == []

    assert (await team.delete(f"/api/v1/oauth/clients/{reg['client_id']}")).status_code == 204
    assert_problem(await team.get(f"/api/v1/oauth/clients/{reg['client_id']}"), 404)


async def test_only_admins_register(team: Team) -> None:
    body = {"name": "App", "redirect_uris": [REDIRECT], "scopes": ["leads:read"]}
    for role in ("user", "manager", "guest"):
        member = await add_member(team, role)
        assert_problem(await member.post("/api/v1/oauth/clients", json=body), 403)
        assert_problem(await member.get("/api/v1/oauth/clients"), 403)
    admin = await add_member(team, "admin")
    assert (await admin.post("/api/v1/oauth/clients", json=body)).status_code == 201


async def test_registration_is_validated(team: Team) -> None:
    bad = [
        {"name": "App", "redirect_uris": ["javascript:alert(1)"], "scopes": ["leads:read"]},
        {"name": "App", "redirect_uris": [REDIRECT], "scopes": []},
        {"name": "App", "redirect_uris": [REDIRECT], "scopes": ["leads:read"], "type": "other"},
        {"name": "App", "redirect_uris": [], "scopes": ["leads:read"], "type": "public"},
        {"name": "", "redirect_uris": [REDIRECT], "scopes": ["leads:read"]},
        {"name": "App", "redirect_uris": [REDIRECT], "scopes": ["leads:read"], "extra": 1},
    ]
    for body in bad:
        r = await team.post("/api/v1/oauth/clients", json=body)
        assert r.status_code in (400, 422), (body, r.text)
        assert_problem(r, r.status_code)


async def test_authorised_apps_are_listed_and_revoked(team: Team, oauth) -> None:  # type: ignore[no-untyped-def]
    reg = await register(team, "leads:read")
    client = oauth(reg)
    token = await code_flow(team, client)
    apps = (await team.get("/api/v1/oauth/authorizations")).json()["data"]
    assert [(a["client_id"], a["name"], a["scopes"]) for a in apps] == [
        (reg["client_id"], reg["name"], ["leads:read"])
    ]
    r = await team.delete(f"/api/v1/oauth/authorizations/{reg['client_id']}")
    assert r.status_code == 204, r.text
    me = await team.http.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert me.status_code == 401
    assert (await team.get("/api/v1/oauth/authorizations")).json()["data"] == []
    assert_problem(await team.delete(f"/api/v1/oauth/authorizations/{reg['client_id']}"), 404)


async def test_consent_page_shows_client_scopes_and_team(team: Team, http) -> None:  # type: ignore[no-untyped-def]
    reg = await register(team, "leads:read")
    params = {
        "response_type": "code",
        "client_id": reg["client_id"],
        "redirect_uri": REDIRECT,
        "scope": "leads:read",
        "state": "xyz",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    r = await http.get("/api/v1/oauth/authorize", params=params)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), r.text
    assert reg["name"] in r.text and "leads:read" in r.text
    assert team.data["team"]["name"] in r.text
    # approving through the form: sign in, then redirected with a code
    form = {**params, "email": team.email, "password": team.password, "decision": "approve"}
    del form["response_type"]
    r = await http.post("/api/v1/oauth/authorize/decision", data=form)
    assert r.status_code == 303, r.text
    assert (
        r.headers["location"].startswith(REDIRECT + "?code=")
        and "state=xyz" in r.headers["location"]
    )
    # an unknown client: an error page, never a redirect
    r = await http.get("/api/v1/oauth/authorize", params={**params, "client_id": "oac_nope"})
    assert r.status_code == 400 and "location" not in r.headers
