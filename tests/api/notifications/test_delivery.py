"""External delivery through the outbox: SMTP (aiosmtpd), Twilio, Slack, Teams and Web Push
(loopback receivers), the preference matrix, do-not-disturb across time zones, digests,
retries with backoff, failure logging, and never twice per notification and channel."""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.api.notifications.conftest import (
    API_PUBLIC_URL,
    FAIL_PHONE,
    TWILIO_SID,
    Services,
    add_member,
    append_event,
    caught_up,
    clock_moved,
    deliveries_of,
    notifications_of,
    wait_for_notification,
)
from tests.conftest import Team, assert_problem, make_team
from tests.plugin import eventually

pytestmark = pytest.mark.usefixtures("notification_worker")

ALL_TYPES = (
    "task_assigned",
    "mention",
    "deal_stage_changed",
    "task_overdue",
    "task_reminder",
    "meeting_reminder",
    "lead_assigned",
    "member_activity",
    "system",
)


async def prefs(member: Team, **body: Any) -> dict[str, Any]:
    r = await member.request("PUT", "/api/v1/notification-preferences", json=body)
    assert r.status_code == 200, r.text
    return r.json()


async def assign_lead(owner: Team, member: Team, name: str = "Ada") -> str:
    r = await owner.post(
        "/api/v1/leads",
        json={"first_name": name, "last_name": "Lovelace", "owner_id": member.member_id},
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def settled(member: Team, notification_id: str, count: int | None = None) -> list[dict]:
    """The notification's deliveries once none is pending/sending any more."""

    async def check() -> list[dict] | None:
        rows = [d for d in await deliveries_of(member) if d["notification_id"] == notification_id]
        if count is not None and len(rows) < count:
            return None
        if rows and all(d["status"] not in ("pending", "sending") for d in rows):
            return rows
        return None

    try:
        return await eventually(check, what="deliveries to settle")
    except AssertionError:
        rows = [d for d in await deliveries_of(member) if d["notification_id"] == notification_id]
        raise AssertionError(f"not settled: {rows}") from None


def push_keys() -> dict[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    raw = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    b64 = lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")  # noqa: E731
    return {"p256dh": b64(raw), "auth": b64(secrets.token_bytes(16))}


@pytest.fixture(scope="module")
async def owner(http: Any, notification_worker: Any) -> Team:
    return await make_team(http)


async def test_default_preferences(owner: Team) -> None:
    r = await owner.get("/api/v1/notification-preferences")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body["types"]) == set(ALL_TYPES)
    for t in ALL_TYPES:
        assert body["types"][t] == {
            "in_app": True,
            "email": False,
            "sms": False,
            "push": False,
            "webhook": False,
        }
    assert body["dnd"] is None and body["digest"] == "immediate"
    assert body["time_zone"] == "UTC" and body["time_zone_source"] == "member"


async def test_preferences_bad_input(owner: Team) -> None:
    url = "/api/v1/notification-preferences"
    for body, field in (
        ({"types": {"nope": {"email": True}}}, "types.nope"),
        ({"types": {"mention": {"fax": True}}}, "types.mention.fax"),
        ({"types": {"mention": {"email": "yes"}}}, None),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"time_zone": "Europe"}, "time_zone"),  # a folder of the zone database
        ({"time_zone": "localtime"}, "time_zone"),  # this host's zone, not an IANA name
        ({"phone": "555-1234"}, "phone"),
        ({"dnd": {"start": "25:00", "end": "07:00"}}, None),
        ({"dnd": {"start": "22:00"}}, None),
        ({"digest": "weekly"}, "digest"),
        ({"digest_hour": 24}, "digest_hour"),
        ({"slack_webhook_url": "not a url"}, "slack_webhook_url"),
        ({"colour": "red"}, "colour"),
    ):
        problem = assert_problem(await owner.request("PUT", url, json=body), 422)
        if field:
            assert field in [e["field"] for e in problem["errors"]], problem
    assert_problem(await owner.request("PUT", url, content=b"[1"), 400)
    r = await owner.request(
        "PUT", url, content=b'{"digest": "daily"}', headers={"content-type": "text/plain"}
    )
    assert_problem(r, 415)
    # Nothing was stored.
    assert (await owner.get(url)).json()["digest"] == "immediate"


async def test_preferences_round_trip(owner: Team) -> None:
    member = await add_member(owner)
    body = await prefs(
        member,
        types={"mention": {"email": True, "in_app": False}},
        time_zone="Europe/Paris",
        dnd={"start": "22:00", "end": "07:30"},
        digest="daily",
        digest_hour=9,
        phone="+33612345678",
    )
    assert body["types"]["mention"] == {
        "in_app": False,
        "email": True,
        "sms": False,
        "push": False,
        "webhook": False,
    }
    assert body["types"]["task_assigned"]["in_app"] is True
    assert body["time_zone"] == "Europe/Paris" and body["time_zone_source"] == "preferences"
    assert body["dnd"] == {"start": "22:00", "end": "07:30"} and body["digest_hour"] == 9
    body = await prefs(member, dnd=None, time_zone=None)
    assert body["dnd"] is None and body["time_zone"] == "UTC" and body["phone"] == "+33612345678"
    # Another member's preferences are their own.
    assert (await owner.get("/api/v1/notification-preferences")).json()["digest"] == "immediate"


async def test_every_channel_once(owner: Team, services: Services) -> None:
    member = await add_member(owner, name="Channel Tester")
    base = services.http.base
    tok = secrets.token_hex(4)
    r = await member.post(
        "/api/v1/push-subscriptions",
        json={"endpoint": f"{base}/push/{tok}", "keys": push_keys(), "expirationTime": None},
    )
    assert r.status_code == 201, r.text
    await prefs(
        member,
        types={"lead_assigned": {"email": True, "sms": True, "push": True, "webhook": True}},
        phone="+15551230000",
        slack_webhook_url=f"{base}/slack/{tok}",
        teams_webhook_url=f"{base}/teams/{tok}",
    )
    lead_id = await assign_lead(owner, member, "Channels")
    n = await wait_for_notification(member, lambda n: n["related_to_id"] == lead_id)
    rows = await settled(member, n["id"], count=5)
    by_channel = {d["channel"]: d for d in rows}
    assert set(by_channel) == {"email", "sms", "push", "slack", "teams"}
    assert by_channel["email"]["status"] == "sent" and by_channel["sms"]["status"] == "sent"
    assert by_channel["push"]["status"] == "sent"
    assert (
        by_channel["slack"]["status"] == "delivered"
        and by_channel["teams"]["status"] == "delivered"
    )
    assert by_channel["sms"]["provider_id"].startswith("SM")
    assert all(d["attempts"] == 1 for d in rows)

    # The email, as the SMTP server received it.
    mails = services.mail.to(member.email)
    assert len(mails) == 1
    mail = mails[0]
    assert mail["Subject"] == n["title"]
    assert mail["Message-ID"] == by_channel["email"]["provider_id"]
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    link = f"https://crm.example.test/leads/{lead_id}"
    assert n["title"] in text and link in text
    assert f'href="{link}"' in html
    # Twilio: form fields, basic auth.
    (sms,) = services.http.at(f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json")[-1:]
    assert sms["form"]["To"] == "+15551230000" and sms["form"]["From"] == "+15550001111"
    assert link in sms["form"]["Body"]
    assert sms["headers"]["Authorization"].startswith("Basic ")
    # Slack and Teams payloads.
    import json

    (slack,) = services.http.at(f"/slack/{tok}")
    assert json.loads(slack["body"])["text"] == n["title"]
    (teams,) = services.http.at(f"/teams/{tok}")
    card = json.loads(teams["body"])
    assert card["@type"] == "MessageCard" and card["title"] == n["title"]
    assert card["potentialAction"][0]["targets"][0]["uri"] == link
    # Web Push: encrypted (aes128gcm) with a VAPID signature.
    (push,) = services.http.at(f"/push/{tok}")
    assert push["headers"]["Content-Encoding"] == "aes128gcm"
    assert push["headers"]["Authorization"].startswith("vapid t=")
    assert services.vapid_public in push["headers"]["Authorization"]
    assert n["title"].encode() not in push["body"]


async def test_twilio_status_callbacks_settle_an_sms(
    owner: Team, services: Services, http: Any
) -> None:
    """Each SMS names its status callback; Twilio's signed callbacks move it from ``sent`` to
    ``delivered`` or ``failed`` (with the error code); a bad signature is 403, another team's
    or an unknown delivery 404, and nothing else moves a settled row."""
    from urllib.parse import urlsplit

    from api.notifications.delivery import twilio_signature

    member = await add_member(owner, name="Handset Owner")
    phone = f"+1555{secrets.randbelow(10**7):07d}"
    await prefs(member, types={"lead_assigned": {"sms": True}}, phone=phone)

    async def one_sms(name: str) -> tuple[dict, str]:
        lead_id = await assign_lead(owner, member, name)
        n = await wait_for_notification(member, lambda n: n["related_to_id"] == lead_id)
        (row,) = await settled(member, n["id"], count=1)
        assert row["channel"] == "sms" and row["status"] == "sent"
        sent = [
            r["form"]
            for r in services.http.at(f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json")
            if r["form"]["To"] == phone and name in r["form"]["Body"]
        ]
        (form,) = sent
        return row, form["StatusCallback"]

    row, callback = await one_sms("Delivered")
    assert callback == (
        f"{API_PUBLIC_URL}/api/v1/notification-deliveries/twilio-status/{owner.team_id}/{row['id']}"
    )
    path = urlsplit(callback).path

    async def callback_post(url: str, status: str, *, sid: str | None = None, **extra: str):
        params = {
            "MessageSid": sid or row["provider_id"],
            "AccountSid": TWILIO_SID,
            "MessageStatus": status,
            **extra,
        }
        sig = twilio_signature(url, params, "twilio-secret")
        return await http.post(urlsplit(url).path, data=params, headers={"X-Twilio-Signature": sig})

    async def status_of(delivery_id: str) -> dict:
        (d,) = [d for d in await deliveries_of(member) if d["id"] == delivery_id]
        return d

    # Not Twilio: refused, nothing changes.
    r = await http.post(
        path,
        data={"MessageSid": row["provider_id"], "MessageStatus": "delivered"},
        headers={"X-Twilio-Signature": "bm90IHR3aWxpbw=="},
    )
    assert_problem(r, 403)
    r = await http.post(path, data={"MessageSid": row["provider_id"]})
    assert_problem(r, 403)
    assert (await status_of(row["id"]))["status"] == "sent"
    # An intermediate status changes nothing; delivered settles it, once.
    assert (await callback_post(callback, "sending")).status_code == 204
    assert (await status_of(row["id"]))["status"] == "sent"
    assert (await callback_post(callback, "delivered")).status_code == 204
    done = await status_of(row["id"])
    assert done["status"] == "delivered" and done["delivered_at"] is not None
    assert (await callback_post(callback, "failed", ErrorCode="30003")).status_code == 204
    assert (await status_of(row["id"]))["status"] == "delivered"
    # Another message id, another team's path (correctly signed for it): 404.
    assert_problem(await callback_post(callback, "delivered", sid="SM" + "0" * 32), 404)
    other = await make_team(http)
    foreign = callback.replace(owner.team_id, other.team_id)
    assert_problem(await callback_post(foreign, "delivered"), 404)

    # Undelivered: failed, with Twilio's error code in the log.
    row, callback = await one_sms("Unreachable")
    r = await callback_post(callback, "undelivered", sid=row["provider_id"], ErrorCode="30003")
    assert r.status_code == 204
    failed = await status_of(row["id"])
    assert (
        failed["status"] == "failed" and failed["last_error"] == "Twilio: undelivered (error 30003)"
    )


async def test_preference_matrix(owner: Team, services: Services) -> None:
    """Each type × channel switch decides alone; in-app off keeps the notification out of the
    center (archived) while email still goes."""
    member = await add_member(owner)
    await prefs(
        member,
        types={
            "lead_assigned": {"in_app": False, "email": True},
            "task_assigned": {"email": False},
        },
    )
    lead_id = await assign_lead(owner, member, "Matrix")
    r = await owner.post(
        "/api/v1/tasks", json={"title": "Matrix task", "assignee_ids": [member.member_id]}
    )
    assert r.status_code == 201, r.text
    task_id = r.json()["id"]
    await wait_for_notification(member, lambda n: n["related_to_id"] == task_id)
    archived = await wait_for_notification(
        member, lambda n: n["related_to_id"] == lead_id, status="archived"
    )
    assert archived["metadata"]["in_app"] is False
    assert lead_id not in [n["related_to_id"] for n in await notifications_of(member)]
    assert (await member.get("/api/v1/notifications/unread-count")).json()["count"] == 1
    await settled(member, archived["id"], count=1)
    assert [m["Subject"] for m in services.mail.to(member.email)] == [archived["title"]]
    ds = await deliveries_of(member)
    assert {d["notification_id"] for d in ds} == {archived["id"]}


async def test_retries_backoff_and_failure_log(owner: Team, services: Services) -> None:
    member = await add_member(owner)
    base = services.http.base
    tok = secrets.token_hex(4)
    await prefs(
        member,
        types={"lead_assigned": {"email": True, "sms": True, "webhook": True}},
        phone=FAIL_PHONE,
        slack_webhook_url=f"{base}/flaky/2/{tok}",
        teams_webhook_url=f"{base}/fail/{tok}",
    )
    lead_id = await assign_lead(owner, member, "Retry")
    n = await wait_for_notification(member, lambda n: n["related_to_id"] == lead_id)
    from leadly.settings import get_settings

    max_attempts = get_settings().worker_max_attempts
    rows = {d["channel"]: d for d in await settled(member, n["id"], count=4)}
    assert rows["slack"]["status"] == "delivered" and rows["slack"]["attempts"] == 3
    assert rows["email"]["status"] == "sent" and rows["email"]["attempts"] == 1
    assert rows["teams"]["status"] == "failed" and rows["teams"]["attempts"] == max_attempts
    # A status and a reason written by Leadly: the receiver's own body is never shown (SSRF).
    assert rows["teams"]["last_error"] == "Teams answered HTTP 500"
    assert rows["sms"]["status"] == "failed" and "Twilio is down" in rows["sms"]["last_error"]
    # Never twice: the event was redelivered for the failing channels, the email went once.
    assert len(services.mail.to(member.email)) == 1
    assert len(services.http.at(f"/flaky/2/{tok}")) == 3
    assert len(services.http.at(f"/fail/{tok}")) == max_attempts
    failed = await deliveries_of(member, status="failed")
    assert {d["channel"] for d in failed} == {"teams", "sms"}


def _window(tz: str) -> dict[str, str]:
    now = datetime.now(ZoneInfo(tz))
    start, end = now - timedelta(hours=1), now + timedelta(hours=1)
    return {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")}


async def test_do_not_disturb_across_time_zones(owner: Team, services: Services) -> None:
    from api.notifications import delivery

    tokyo, new_york = await add_member(owner), await add_member(owner)
    window = _window("Asia/Tokyo")  # now ± 1 h in Tokyo: far from now in New York
    for m, tz in ((tokyo, "Asia/Tokyo"), (new_york, "America/New_York")):
        await prefs(
            m,
            time_zone=tz,
            dnd=window,
            types={"lead_assigned": {"email": True}, "task_overdue": {"email": True}},
        )
    lead_t = await assign_lead(owner, tokyo, "Tokyo")
    lead_n = await assign_lead(owner, new_york, "NewYork")
    nn = await wait_for_notification(new_york, lambda n: n["related_to_id"] == lead_n)
    (sent,) = await settled(new_york, nn["id"], count=1)
    assert sent["status"] == "sent"
    nt = await wait_for_notification(tokyo, lambda n: n["related_to_id"] == lead_t)
    await caught_up()
    (held,) = [d for d in await deliveries_of(tokyo) if d["notification_id"] == nt["id"]]
    assert held["status"] == "pending" and held["attempts"] == 0
    end_local = datetime.fromisoformat(held["next_attempt_at"]).astimezone(ZoneInfo("Asia/Tokyo"))
    assert end_local.strftime("%H:%M") == window["end"]
    assert services.mail.to(tokyo.email) == []

    # Urgent passes do-not-disturb.
    task_id = "task_" + "0" * 26
    await append_event(
        owner.team_id,
        actor_type="system",
        object_type="task",
        object_id=task_id,
        action="reminder_fired",
        data={"member_id": tokyo.member_id, "kind": "overdue", "priority": "urgent"},
    )
    urgent = await wait_for_notification(tokyo, lambda n: n["type"] == "task_overdue")
    assert urgent["priority"] == "urgent"
    (u,) = await settled(tokyo, urgent["id"], count=1)
    assert u["status"] == "sent"
    assert [m["Subject"] for m in services.mail.to(tokyo.email)] == [urgent["title"]]

    # Not before do-not-disturb ends; when it has (the sweep runs after it), the email goes.
    ends = datetime.fromisoformat(held["next_attempt_at"])
    with clock_moved(ends - datetime.now(UTC) - timedelta(minutes=1)):
        await delivery.deliver_due()
    (still,) = [d for d in await deliveries_of(tokyo) if d["notification_id"] == nt["id"]]
    assert still["status"] == "pending" and still["attempts"] == 0
    with clock_moved(ends - datetime.now(UTC) + timedelta(minutes=1)):
        await delivery.deliver_due()
    (done,) = [d for d in await deliveries_of(tokyo) if d["notification_id"] == nt["id"]]
    assert done["status"] == "sent" and done["attempts"] == 1
    assert len(services.mail.to(tokyo.email)) == 2


async def test_snoozed_and_read_notifications_wait_or_skip(owner: Team, services: Services) -> None:
    """A delivery held back (do-not-disturb) waits for a snooze to end, and is skipped when the
    notification was read in the app meanwhile."""
    from api.notifications import delivery

    member = await add_member(owner)
    await prefs(
        member,
        time_zone="Pacific/Auckland",
        dnd=_window("Pacific/Auckland"),
        types={"lead_assigned": {"email": True}},
    )
    first = await assign_lead(owner, member, "Snoozed")
    second = await assign_lead(owner, member, "ReadFirst")
    n1 = await wait_for_notification(member, lambda n: n["related_to_id"] == first)
    n2 = await wait_for_notification(member, lambda n: n["related_to_id"] == second)
    until = datetime.now(UTC) + timedelta(hours=3)
    r = await member.post(
        f"/api/v1/notifications/{n1['id']}/snooze", json={"until": until.isoformat()}
    )
    assert r.status_code == 200
    r = await member.post("/api/v1/notifications/read", json={"ids": [n2["id"]]})
    assert r.status_code == 200
    await caught_up()
    # Do-not-disturb is over (it ends within the hour), the snooze is not (3 hours).
    with clock_moved(timedelta(hours=1, minutes=1)):
        await delivery.deliver_due()
    rows = {d["notification_id"]: d for d in await deliveries_of(member)}
    assert rows[n2["id"]]["status"] == "skipped"
    assert rows[n1["id"]]["status"] == "pending"
    held_until = datetime.fromisoformat(rows[n1["id"]]["next_attempt_at"])
    assert abs((held_until - until).total_seconds()) < 1
    assert services.mail.to(member.email) == []


async def test_hourly_digest(owner: Team, services: Services) -> None:
    from api.notifications import delivery

    member = await add_member(owner)
    await prefs(member, digest="hourly", types={"lead_assigned": {"email": True}})
    ids = [await assign_lead(owner, member, f"Digest{i}") for i in range(3)]
    ns = [await wait_for_notification(member, lambda n, i=i: n["related_to_id"] == i) for i in ids]
    await caught_up()
    rows = await deliveries_of(member)
    assert len(rows) == 3 and all(
        d["status"] == "pending" and d["digest"] == "hourly" for d in rows
    )
    # Due at the top of the hour after each was made (the same hour for the three).
    (top,) = {datetime.fromisoformat(d["next_attempt_at"]) for d in rows}
    assert top.minute == top.second == top.microsecond == 0
    for n in ns:
        assert (
            timedelta(0)
            < top - datetime.fromisoformat(n["created_at"])
            <= timedelta(hours=1, minutes=1)
        )
    r = await member.post("/api/v1/notifications/read", json={"ids": [ns[0]["id"]]})
    assert r.status_code == 200
    with clock_moved(top - datetime.now(UTC) - timedelta(seconds=1)):
        await delivery.send_digests()
    assert services.mail.to(member.email) == []  # not before its hour
    with clock_moved(top - datetime.now(UTC) + timedelta(seconds=1)):
        counts = await delivery.send_digests()
    assert counts["digests"] >= 1
    (mail,) = services.mail.to(member.email)
    assert mail["Subject"] == "Your Leadly hourly digest: 2 notifications"
    text = mail.get_body(("plain",)).get_content()
    assert ns[1]["title"] in text and ns[2]["title"] in text and ns[0]["title"] not in text
    rows = {d["notification_id"]: d for d in await deliveries_of(member)}
    assert rows[ns[0]["id"]]["status"] == "skipped"
    assert rows[ns[1]["id"]]["status"] == rows[ns[2]["id"]]["status"] == "sent"
    assert rows[ns[1]["id"]]["provider_id"] == mail["Message-ID"]
    await delivery.send_digests()  # nothing twice
    assert len(services.mail.to(member.email)) == 1


async def test_push_subscriptions_api_and_gone_endpoint(
    owner: Team, services: Services, http: Any
) -> None:
    member = await add_member(owner)
    tok = secrets.token_hex(4)
    url = "/api/v1/push-subscriptions"
    r = await member.post(
        url, json={"endpoint": f"{services.http.base}/gone/{tok}", "keys": push_keys()}
    )
    assert r.status_code == 201, r.text
    sub = r.json()
    assert sub["id"].startswith("psub_")
    assert [s["id"] for s in (await member.get(url)).json()["data"]] == [sub["id"]]
    r = await member.get(f"{url}/vapid-public-key")
    assert r.status_code == 200 and r.json() == {"public_key": services.vapid_public}
    stranger = await make_team(http)
    assert_problem(await stranger.delete(f"{url}/{sub['id']}"), 404)
    assert (await stranger.get(url)).json()["data"] == []
    assert_problem(await member.post(url, json={"endpoint": "ftp://x", "keys": push_keys()}), 422)
    assert_problem(await member.post(url, json={"endpoint": f"{services.http.base}/p"}), 422)
    assert_problem(
        await member.post(
            url, json={"endpoint": f"{services.http.base}/p", "keys": {"p256dh": "!", "auth": "x"}}
        ),
        422,
    )
    # A push service answering 410 Gone: the delivery fails at once and the subscription goes.
    await prefs(member, types={"lead_assigned": {"push": True}})
    lead_id = await assign_lead(owner, member, "Gone")
    n = await wait_for_notification(member, lambda n: n["related_to_id"] == lead_id)
    (d,) = await settled(member, n["id"], count=1)
    assert d["status"] == "failed" and d["attempts"] == 1 and "410" in d["last_error"]
    assert (await member.get(url)).json()["data"] == []


async def test_delivery_log_is_per_member(owner: Team, http: Any) -> None:
    member = await add_member(owner)
    stranger = await make_team(http)
    assert await deliveries_of(stranger) == []
    assert all(d["member_id"] == member.member_id for d in await deliveries_of(member))
    assert_problem(
        await member.get("/api/v1/notification-deliveries", params={"filter[nope]": "x"}), 400
    )


async def test_each_channel_switch_alone(owner: Team, services: Services) -> None:
    """One member per channel, that channel alone on for lead_assigned: each gets exactly its
    channel's deliveries for a lead, none for a task reminder (not switched on)."""
    base = services.http.base
    want = {"email": {"email"}, "sms": {"sms"}, "push": {"push"}, "webhook": {"slack", "teams"}}
    members: dict[str, Team] = {}
    for channel in want:
        m = await add_member(owner)
        tok = secrets.token_hex(4)
        if channel == "push":
            r = await m.post(
                "/api/v1/push-subscriptions",
                json={"endpoint": f"{base}/push/{tok}", "keys": push_keys()},
            )
            assert r.status_code == 201, r.text
        await prefs(
            m,
            types={"lead_assigned": {channel: True}},
            phone="+15557770000",
            slack_webhook_url=f"{base}/slack/{tok}",
            teams_webhook_url=f"{base}/teams/{tok}",
        )
        members[channel] = m
    for channel, m in members.items():
        lead_id = await assign_lead(owner, m, f"Only{channel}")
        await append_event(
            owner.team_id,
            actor_type="system",
            object_type="task",
            object_id="task_" + "1" * 26,
            action="reminder_fired",
            data={"member_id": m.member_id, "kind": "reminder"},
        )
        n = await wait_for_notification(m, lambda n, i=lead_id: n["related_to_id"] == i)
        reminder = await wait_for_notification(m, lambda n: n["type"] == "task_reminder")
        rows = await settled(m, n["id"], count=len(want[channel]))
        assert {d["channel"] for d in rows} == want[channel], channel
        assert all(d["status"] in ("sent", "delivered") for d in rows), rows
        assert [d for d in await deliveries_of(m) if d["notification_id"] == reminder["id"]] == []
