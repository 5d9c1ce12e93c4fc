"""Issue 22 (high): SSRF through notification webhooks. A guest saved loopback and private URLs
as Slack/Teams webhooks, watched a deal, and read the internal replies back in their delivery
log. The outbound guard refuses such URLs when saved (422 naming the field) and again when
sending, and a delivery never shows the remote body."""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Iterator

import pytest

from api.common import outbound
from tests.api.notifications.conftest import Services, add_member, wait_for_notification
from tests.api.notifications.test_delivery import assign_lead, owner, prefs, settled
from tests.conftest import Team, assert_problem

pytestmark = pytest.mark.usefixtures("notification_worker")
__all__ = ["owner"]  # the fixture, shared with test_delivery

INTERNAL = [
    "http://127.0.0.1:28999/x",
    "http://[::1]:28998/y",
    "https://169.254.169.254/latest/meta-data/",
    "https://10.0.0.1/hook",
    "https://127.1/hook",
    "https://2130706433/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://0.0.0.0/hook",
    "https://[fe80::1]/hook",
    "https://100.64.0.1/hook",
    "https://localhost/hook",
]


@pytest.fixture
def guarded(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The guard as in production (the suite lifts it for its loopback stand-ins)."""
    from leadly.settings import get_settings

    monkeypatch.setenv("LEADLY_ALLOW_PRIVATE_TARGETS", "false")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.mark.parametrize("url", INTERNAL)
async def test_internal_webhook_urls_are_refused_when_saved(
    owner: Team, guarded: None, url: str
) -> None:
    guest = await add_member(owner, "guest")
    r = await guest.request(
        "PUT",
        "/api/v1/notification-preferences",
        json={"slack_webhook_url": url, "teams_webhook_url": url},
    )
    body = assert_problem(r, 422)
    assert {e["field"] for e in body["errors"]} == {"slack_webhook_url", "teams_webhook_url"}
    assert all("not allowed" in e["message"] for e in body["errors"])
    saved = (await guest.get("/api/v1/notification-preferences")).json()
    assert saved["slack_webhook_url"] is None and saved["teams_webhook_url"] is None


async def test_webhooks_must_be_on_their_providers_hosts(owner: Team, guarded: None) -> None:
    member = await add_member(owner)
    r = await member.request(
        "PUT",
        "/api/v1/notification-preferences",
        json={
            "slack_webhook_url": "https://hooks.slack.com.attacker.example/services/x",
            "teams_webhook_url": "https://example.com/webhookb2/x",
        },
    )
    body = assert_problem(r, 422)
    messages = {e["field"]: e["message"] for e in body["errors"]}
    assert "hooks.slack.com" in messages["slack_webhook_url"]
    assert "webhook.office.com" in messages["teams_webhook_url"]


async def test_internal_push_endpoints_are_refused(owner: Team, guarded: None) -> None:
    from tests.api.notifications.test_delivery import push_keys

    member = await add_member(owner)
    r = await member.post(
        "/api/v1/push-subscriptions",
        json={"endpoint": "https://169.254.169.254/push/x", "keys": push_keys()},
    )
    body = assert_problem(r, 422)
    assert [e["field"] for e in body["errors"]] == ["endpoint"]


async def test_the_guard_runs_again_when_sending_and_never_echoes_the_body(
    owner: Team, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A URL saved while it passed (here: the setting was on; in the wild: DNS that changed)
    is checked again at send time: nothing reaches the internal host."""
    from leadly.settings import get_settings

    member = await add_member(owner)
    tok = secrets.token_hex(4)
    await prefs(
        member,
        types={"lead_assigned": {"webhook": True}},
        slack_webhook_url=f"{services.http.base}/internal/{tok}",
    )
    monkeypatch.setenv("LEADLY_ALLOW_PRIVATE_TARGETS", "false")
    get_settings.cache_clear()
    try:
        lead_id = await assign_lead(owner, member, "Guarded")
        n = await wait_for_notification(member, lambda n: n["related_to_id"] == lead_id)
        (row,) = [d for d in await settled(member, n["id"], count=1) if d["channel"] == "slack"]
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert row["status"] == "failed" and row["attempts"] == 1  # refused: not retried
    assert row["last_error"] == "Slack: the URL is not allowed (only https:// URLs are allowed)."
    assert services.http.at(f"/internal/{tok}") == []


async def test_a_failed_delivery_shows_the_status_not_the_reply(
    owner: Team, services: Services
) -> None:
    member = await add_member(owner)
    tok = secrets.token_hex(4)
    await prefs(
        member,
        types={"lead_assigned": {"webhook": True}},
        teams_webhook_url=f"{services.http.base}/redirect/{tok}",
    )
    lead_id = await assign_lead(owner, member, "Redirected")
    n = await wait_for_notification(member, lambda n: n["related_to_id"] == lead_id)
    (row,) = [d for d in await settled(member, n["id"], count=1) if d["channel"] == "teams"]
    assert row["last_error"].startswith("Teams answered HTTP 3")
    assert "redirect not followed" in row["last_error"]
    assert len(services.http.at(f"/redirect/{tok}")) >= 1
    assert services.http.at("/internal-target") == []  # the Location was never followed


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "0.0.0.0",
        "100.64.0.1",
        "224.0.0.1",
        "240.0.0.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "2002:7f00:1::",
        "64:ff9b::7f00:1",
    ],
)
def test_special_addresses_are_refused(address: str) -> None:
    assert outbound.address_refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:4700:4700::1111", "8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert outbound.address_refusal(ipaddress.ip_address(address)) is None
