"""Webhook endpoints: the secret shown once, admins only, another team's ids are 404, URLs the
outbound guard refuses are 422 when saved."""

from __future__ import annotations

import pytest

from tests.api.notifications.conftest import add_member
from tests.api.webhooks.conftest import Receiver, make_webhook
from tests.conftest import Team, assert_problem


async def test_create_read_update_delete(team: Team, receiver: Receiver) -> None:
    made = await make_webhook(team, receiver, "/crud", ["deal.*", "lead.created"])
    assert made["secret"].startswith("whsec_")
    assert made["events"] == ["deal.*", "lead.created"] and made["enabled"] is True
    r = await team.get(f"/api/v1/webhooks/{made['id']}")
    assert r.status_code == 200 and "secret" not in r.json()
    listed = (await team.get("/api/v1/webhooks")).json()
    assert [w["id"] for w in listed["data"]] == [made["id"]]
    assert "secret" not in listed["data"][0] and listed["has_more"] is False
    r = await team.patch(
        f"/api/v1/webhooks/{made['id']}", json={"enabled": False, "description": "paused"}
    )
    assert r.status_code == 200 and r.json()["enabled"] is False, r.text
    r = await team.post(f"/api/v1/webhooks/{made['id']}/rotate-secret")
    assert r.status_code == 200 and r.json()["secret"].startswith("whsec_"), r.text
    assert r.json()["secret"] != made["secret"]
    r = await team.delete(f"/api/v1/webhooks/{made['id']}")
    assert r.status_code == 204
    assert_problem(await team.get(f"/api/v1/webhooks/{made['id']}"), 404)


@pytest.mark.parametrize(
    "body",
    [
        {"url": "https://hooks.example.com/x", "events": []},
        {"url": "https://hooks.example.com/x", "events": ["deal"]},
        {"url": "https://hooks.example.com/x", "events": ["Deal.*"]},
        {"url": "https://hooks.example.com/x", "events": ["*"], "secret": "mine"},
        {"url": "ftp://hooks.example.com/x", "events": ["*"]},
        {"events": ["*"]},
    ],
)
async def test_invalid_bodies_are_422(team: Team, body: dict) -> None:
    assert_problem(await team.post("/api/v1/webhooks", json=body), 422)


async def test_admins_only(team: Team, receiver: Receiver) -> None:
    made = await make_webhook(team, receiver, "/roles")
    admin = await add_member(team, "admin")
    r = await admin.get(f"/api/v1/webhooks/{made['id']}/deliveries")
    assert r.status_code == 200, r.text
    for role in ("user", "manager", "guest"):
        member = await add_member(team, role)
        assert_problem(await member.get("/api/v1/webhooks"), 403)
        assert_problem(
            await member.post(
                "/api/v1/webhooks", json={"url": receiver.base + "/x", "events": ["*"]}
            ),
            403,
        )
        assert_problem(await member.post(f"/api/v1/webhooks/{made['id']}/rotate-secret"), 403)
        assert_problem(await member.get("/api/v1/events"), 403)


async def test_another_teams_ids_are_404(team: Team, other_team: Team, receiver: Receiver) -> None:
    made = await make_webhook(team, receiver, "/isolation")
    wid = made["id"]
    for method, url, body in [
        ("GET", f"/api/v1/webhooks/{wid}", None),
        ("PATCH", f"/api/v1/webhooks/{wid}", {"enabled": False}),
        ("DELETE", f"/api/v1/webhooks/{wid}", None),
        ("POST", f"/api/v1/webhooks/{wid}/rotate-secret", None),
        ("GET", f"/api/v1/webhooks/{wid}/deliveries", None),
        ("POST", f"/api/v1/webhooks/{wid}/replay", {"since": "2026-01-01T00:00:00Z"}),
        ("GET", "/api/v1/webhook-deliveries/whd_01JD5Z0000000000000000000A", None),
        ("POST", "/api/v1/webhook-deliveries/whd_01JD5Z0000000000000000000A/retry", None),
    ]:
        r = await other_team.request(method, url, json=body)
        assert_problem(r, 404)
    assert (await other_team.get("/api/v1/webhooks")).json()["data"] == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "https://127.0.0.1/hook",
        "https://[::1]/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.1.2.3/hook",
        "https://[::ffff:192.168.0.1]/hook",
        "https://localhost/hook",
    ],
)
async def test_internal_urls_are_refused_when_saved(team: Team, guarded: None, url: str) -> None:
    body = assert_problem(
        await team.post("/api/v1/webhooks", json={"url": url, "events": ["*"]}), 422
    )
    assert body["errors"][0]["field"] == "url"
