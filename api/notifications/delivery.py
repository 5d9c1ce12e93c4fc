"""External delivery of notifications through the outbox (``app.notification_deliveries``).

A row is claimed (``status = sending`` with a lease, one attempt counted) in a short
transaction, sent with no transaction open, then recorded: ``sent`` (email, SMS, push: handed to
the provider) or ``delivered`` (Slack/Teams: posted; an SMS when Twilio's status callback
reports it, see :func:`apply_sms_status`), else back to ``pending`` with
``last_error`` and the next attempt after an exponential backoff, or ``failed`` after
``worker_max_attempts`` attempts. A row that is sent is never claimed again, so a notification
goes out at most once per channel and target (a crash between sending and recording can repeat
it once: the email's ``Message-ID`` and the ``X-Leadly-Delivery`` header let the receiver drop
the duplicate).

Who sends:

- the dispatcher consumer ``notifications.deliver`` (:func:`deliver_notification`) right after
  a notification is created; a failure raises so the dispatcher retries the event with its
  backoff;
- the Dagster schedule ``notifications_every_minute`` (:func:`deliver_due`, :func:`send_digests`)
  for rows held back by do-not-disturb or snooze, hourly/daily email digests and any retry
  still due.

Before sending, a row is re-checked: a notification already read or archived in the app is
``skipped``; a snoozed one waits for its ``snoozed_until``; during the member's do-not-disturb
hours it waits for their end (urgent ones pass when the member allows it).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common import mail, outbound
from api.notifications.preferences import MemberPrefs, deferral, load_prefs
from leadly import clock
from leadly.settings import Settings, get_settings
from warehouse.db import api_engine, tenant_tx
from warehouse.db import engine as db_engine

log = logging.getLogger("leadly.notifications.delivery")

#: Twilio's status callbacks: ``POST {api_public_url}{TWILIO_STATUS_PATH}/{team}/{delivery}``.
TWILIO_STATUS_PATH = "/api/v1/notification-deliveries/twilio-status"
LEASE_SECONDS = 300
MAX_ERROR = 2000
TEMPLATES = Path(__file__).parent / "templates"


class DeliveryError(Exception):
    """A delivery failed; ``permanent`` ones are not retried."""

    def __init__(self, message: str, *, permanent: bool = False, status: int | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.status = status
        """The remote HTTP status, when there was one."""


@dataclass
class Outcome:
    status: str  # sent | delivered
    provider_id: str | None = None


@lru_cache(maxsize=1)
def templates() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html.j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def absolute(url: str | None, s: Settings) -> str | None:
    if not url:
        return None
    if url.startswith(("http://", "https://")):
        return url
    return s.public_url.rstrip("/") + "/" + url.lstrip("/")


def prefs_url(s: Settings) -> str:
    return s.public_url.rstrip("/") + "/notification-preferences"


# =========================================================================== senders


def _message(
    s: Settings, to_name: str, to_addr: str, subject: str, text_: str, html: str, key: str
) -> EmailMessage:
    return mail.message(
        s, to_name, to_addr, subject, text_, html, key, headers={"X-Leadly-Delivery": key}
    )


async def _smtp_send(msg: EmailMessage, s: Settings) -> None:
    try:
        await mail.send(msg, s)
    except mail.MailError as e:
        raise DeliveryError(str(e), permanent=e.permanent) from e


async def send_email(n: dict[str, Any], p: MemberPrefs, delivery_id: str, s: Settings) -> Outcome:
    env = templates()
    ctx = {"n": n, "url": absolute(n.get("action_url"), s), "prefs_url": prefs_url(s)}
    msg = _message(
        s,
        p.name,
        p.email_address,
        n["title"],
        env.get_template("notification.txt.j2").render(ctx),
        env.get_template("notification.html.j2").render(ctx),
        delivery_id,
    )
    await _smtp_send(msg, s)
    return Outcome("sent", msg["Message-ID"])


def _short(n: dict[str, Any], s: Settings) -> str:
    url = absolute(n.get("action_url"), s)
    body = n["title"] + (f": {n['message']}" if n.get("message") else "")
    body = body if len(body) <= 300 else body[:299] + "…"
    return f"{body} {url}" if url else body


def twilio_callback_url(team_id: str, delivery_id: str, s: Settings) -> str | None:
    """Where Twilio reports the status of an SMS (None without ``api_public_url``)."""
    if not s.api_public_url:
        return None
    return f"{s.api_public_url.rstrip('/')}{TWILIO_STATUS_PATH}/{team_id}/{delivery_id}"


def twilio_signature(url: str, params: dict[str, str], auth_token: str) -> str:
    """``X-Twilio-Signature`` of a form POST to ``url``: base64 HMAC-SHA1, keyed with the
    account's auth token, of the URL followed by each parameter name and value, sorted by
    name (Twilio's documented scheme)."""
    payload = url + "".join(k + params[k] for k in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


#: Twilio message statuses that end a delivery, and the delivery log status they give.
TWILIO_FINAL = {"delivered": "delivered", "undelivered": "failed", "failed": "failed"}


async def apply_sms_status(
    team_id: str, delivery_id: str, params: dict[str, str], signature: str
) -> bool:
    """Record a Twilio status callback; False when no SMS of the team has that id and SID.

    Raises :class:`PermissionError` for a signature that is not Twilio's (or Twilio is not
    configured). Only a ``sent`` row moves, to ``delivered`` or ``failed``: an intermediate
    or repeated status changes nothing."""
    s = get_settings()
    url = twilio_callback_url(team_id, delivery_id, s)
    if url is None or not s.twilio_auth_token:
        raise PermissionError("Status callbacks are not configured.")
    expected = twilio_signature(url, params, s.twilio_auth_token)
    if not hmac.compare_digest(expected, signature):
        raise PermissionError("The X-Twilio-Signature does not match.")
    status = TWILIO_FINAL.get(params.get("MessageStatus", ""))
    async with tenant_tx(api_engine(), team_id) as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT status FROM app.notification_deliveries WHERE team_id = :t "
                    "AND id = :id AND channel = 'sms' AND provider_id = :sid FOR UPDATE"
                ),
                {"t": team_id, "id": delivery_id, "sid": params.get("MessageSid", "")},
            )
        ).first()
        if row is None:
            return False
        if status is None or row.status != "sent":
            return True
        values: dict[str, Any] = {"status": status}
        if status == "delivered":
            values["delivered_at"] = clock.now()
        else:
            code = params.get("ErrorCode")
            values["last_error"] = f"Twilio: {params['MessageStatus']}" + (
                f" (error {code})" if code else ""
            )
        await _set(conn, team_id, delivery_id, values)
    return True


async def send_sms(
    n: dict[str, Any], p: MemberPrefs, delivery_id: str, s: Settings, team_id: str
) -> Outcome:
    if not (s.twilio_account_sid and s.twilio_auth_token and s.twilio_from):
        raise DeliveryError("Twilio is not configured (LEADLY_TWILIO_*).", permanent=True)
    if not p.phone:
        raise DeliveryError("The member has no phone number.", permanent=True)
    sender = "MessagingServiceSid" if s.twilio_from.startswith("MG") else "From"
    url = (
        f"{s.twilio_base_url.rstrip('/')}/2010-04-01/Accounts/{s.twilio_account_sid}/Messages.json"
    )
    form = {"To": p.phone, sender: s.twilio_from, "Body": _short(n, s)}
    callback = twilio_callback_url(team_id, delivery_id, s)
    if callback:
        form["StatusCallback"] = callback
    try:
        async with httpx.AsyncClient(timeout=s.notification_http_timeout) as client:
            r = await client.post(
                url,
                data=form,
                auth=(s.twilio_account_sid, s.twilio_auth_token),
                headers={"X-Leadly-Delivery": delivery_id},
            )
    except httpx.HTTPError as e:
        raise DeliveryError(f"Twilio: {type(e).__name__}: {e}") from e
    if r.status_code >= 400:
        try:
            detail = r.json().get("message") or r.text
        except ValueError:
            detail = r.text
        raise DeliveryError(
            f"Twilio answered {r.status_code}: {detail[:500]}",
            permanent=r.status_code in (400, 401, 403, 404),
        )
    sid = None
    with contextlib.suppress(ValueError):
        sid = r.json().get("sid")
    return Outcome("sent", sid)


async def _post_guarded(
    url: str,
    what: str,
    *,
    hosts: tuple[str, ...] | None = None,
    json: Any = None,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> outbound.Answer:
    """POST to a member-supplied URL through the outbound guard (checked again now: DNS may
    have changed since it was saved). The member reads back only a status and a reason written
    here, never the remote body."""
    try:
        answer = await outbound.post(url, json=json, content=content, headers=headers, hosts=hosts)
    except outbound.Refused as e:
        raise DeliveryError(f"{what}: the URL is not allowed ({e.reason}).", permanent=True) from e
    if not answer.ok:
        raise DeliveryError(
            f"{what} answered {answer.reason}",
            permanent=answer.status in (400, 403, 404, 410),
            status=answer.status,
        )
    return answer


async def _post_json(
    url: str, body: dict[str, Any], delivery_id: str, what: str, hosts: tuple[str, ...]
) -> None:
    await _post_guarded(
        url, what, hosts=hosts, json=body, headers={"X-Leadly-Delivery": delivery_id}
    )


async def send_slack(n: dict[str, Any], p: MemberPrefs, delivery_id: str, s: Settings) -> Outcome:
    if not p.slack_webhook_url:
        raise DeliveryError("No Slack webhook URL.", permanent=True)
    url = absolute(n.get("action_url"), s)
    text_ = f"*{n['title']}*" + (f"\n{n['message']}" if n.get("message") else "")
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text_}}]
    if url:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": "Open"}, "url": url}
                ],
            }
        )
    await _post_json(
        p.slack_webhook_url,
        {"text": n["title"], "blocks": blocks},
        delivery_id,
        "Slack",
        outbound.SLACK_HOSTS,
    )
    return Outcome("delivered")


async def send_teams(n: dict[str, Any], p: MemberPrefs, delivery_id: str, s: Settings) -> Outcome:
    if not p.teams_webhook_url:
        raise DeliveryError("No Teams webhook URL.", permanent=True)
    url = absolute(n.get("action_url"), s)
    card: dict[str, Any] = {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": n["title"],
        "title": n["title"],
        "text": n.get("message") or n["title"],
    }
    if url:
        card["potentialAction"] = [
            {"@type": "OpenUri", "name": "Open", "targets": [{"os": "default", "uri": url}]}
        ]
    await _post_json(p.teams_webhook_url, card, delivery_id, "Teams", outbound.TEAMS_HOSTS)
    return Outcome("delivered")


def _vapid(s: Settings) -> Any:
    from py_vapid import Vapid02

    key = s.vapid_private_key.strip()
    if key.startswith("-----BEGIN"):
        return Vapid02.from_pem(key.encode())
    return Vapid02.from_string(key)


def _webpush_request(sub: dict[str, Any], data: str, s: Settings) -> tuple[bytes, dict[str, str]]:
    """The encrypted body (RFC 8291, aes128gcm) and headers (VAPID, RFC 8292) of a push message;
    sent through the outbound guard, not by pywebpush's own client."""
    from urllib.parse import urlsplit

    from pywebpush import WebPusher

    parts = urlsplit(sub["endpoint"])
    pusher = WebPusher(
        {"endpoint": sub["endpoint"], "keys": {"p256dh": sub["p256dh"], "auth": sub["auth"]}}
    )
    body = pusher.encode(data.encode(), "aes128gcm")["body"]
    claims = {"sub": s.vapid_subject, "aud": f"{parts.scheme}://{parts.netloc}"}
    headers = {
        **_vapid(s).sign(claims),
        "Content-Encoding": "aes128gcm",
        "TTL": str(24 * 3600),
        "Content-Type": "application/octet-stream",
    }
    return body, headers


async def send_push(
    n: dict[str, Any], sub: dict[str, Any] | None, delivery_id: str, s: Settings
) -> Outcome:
    if not s.vapid_private_key:
        raise DeliveryError(
            "Web Push is not configured (LEADLY_VAPID_PRIVATE_KEY).", permanent=True
        )
    if sub is None:
        raise DeliveryError("The push subscription was removed.", permanent=True)
    import json

    data = json.dumps(
        {
            "id": n["id"],
            "type": n["type"],
            "title": n["title"],
            "body": n.get("message") or "",
            "url": absolute(n.get("action_url"), s),
            "priority": n["priority"],
        }
    )
    try:
        body, headers = await asyncio.to_thread(_webpush_request, sub, data, s)
    except Exception as e:  # a subscription whose keys do not decode
        raise DeliveryError(
            f"Web Push: the subscription's keys are not usable ({type(e).__name__}).",
            permanent=True,
        ) from e
    try:
        await _post_guarded(sub["endpoint"], "Web Push", content=body, headers=headers)
    except DeliveryError as e:
        if e.status in (404, 410):  # the browser unsubscribed
            await _drop_subscription(sub)
        raise
    return Outcome("sent")


async def _drop_subscription(sub: dict[str, Any]) -> None:
    async with tenant_tx(api_engine(), sub["team_id"]) as conn:
        await conn.execute(
            text("DELETE FROM app.push_subscriptions WHERE team_id = :t AND id = :id"),
            {"t": sub["team_id"], "id": sub["id"]},
        )


# =========================================================================== the outbox

_CLAIM = """
UPDATE app.notification_deliveries d
SET status = 'sending', attempts = d.attempts + 1,
    lease_until = now() + make_interval(secs => :lease), updated_at = now()
WHERE (d.team_id, d.id) IN (
    SELECT team_id, id FROM app.notification_deliveries
    WHERE team_id = :t AND ({cond})
    ORDER BY next_attempt_at NULLS FIRST, id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED)
RETURNING d.*
"""
#: A lease that ran out (a sender that crashed): the database's own time, not the clock's.
_STALE = "(status = 'sending' AND lease_until < now())"
#: Whether a row is due is decided by :func:`leadly.clock.now` (a query parameter), so tests
#: move the clock past do-not-disturb or to a digest's hour instead of waiting for it.
_NOW = "CAST(:now AS timestamptz)"


def backoff(attempts: int, s: Settings) -> float:
    return min(s.worker_retry_max_seconds, s.worker_retry_base_seconds * 2 ** max(attempts - 1, 0))


def _failure(row: dict, error: str, permanent: bool, now: datetime, s: Settings) -> dict[str, Any]:
    """What a failed attempt leaves on its row: ``failed`` (permanent, or the last attempt),
    else ``pending`` again after the backoff."""
    dead = permanent or row["attempts"] >= s.worker_max_attempts
    return {
        "status": "failed" if dead else "pending",
        "last_error": error,
        "next_attempt_at": None if dead else now + timedelta(seconds=backoff(row["attempts"], s)),
    }


async def _claim(team_id: str, cond: str, params: dict[str, Any], limit: int = 200) -> list[dict]:
    async with tenant_tx(api_engine(), team_id) as conn:
        rows = await conn.execute(
            text(_CLAIM.format(cond=cond)),
            {"t": team_id, "lease": LEASE_SECONDS, "limit": limit, "now": clock.now(), **params},
        )
        return [dict(r._mapping) for r in rows]


async def _context(
    conn: AsyncConnection, team_id: str, rows: list[dict]
) -> tuple[dict[str, dict], dict[str, MemberPrefs], dict[str, dict]]:
    n_ids = list({r["notification_id"] for r in rows})
    ns = {
        r.id: dict(r._mapping)
        for r in await conn.execute(
            text("SELECT * FROM app.notifications WHERE team_id = :t AND id = ANY(:ids)"),
            {"t": team_id, "ids": n_ids},
        )
    }
    prefs = await load_prefs(conn, team_id, {r["member_id"] for r in rows})
    sub_ids = [r["target"] for r in rows if r["channel"] == "push"]
    subs: dict[str, dict] = {}
    if sub_ids:
        subs = {
            r.id: dict(r._mapping)
            for r in await conn.execute(
                text("SELECT * FROM app.push_subscriptions WHERE team_id = :t AND id = ANY(:ids)"),
                {"t": team_id, "ids": sub_ids},
            )
        }
    return ns, prefs, subs


async def _set(conn: AsyncConnection, team_id: str, row_id: str, values: dict[str, Any]) -> None:
    """Write ``values`` on a delivery row (its lease, if any, ends)."""
    sets = ", ".join(f"{k} = :{k}" for k in values)
    await conn.execute(
        text(
            f"UPDATE app.notification_deliveries SET {sets}, lease_until = NULL, "
            "updated_at = now() WHERE team_id = :t AND id = :id"
        ),
        {"t": team_id, "id": row_id, **values},
    )


async def _record(team_id: str, row_id: str, values: dict[str, Any]) -> None:
    async with tenant_tx(api_engine(), team_id) as conn:
        await _set(conn, team_id, row_id, values)


async def _hold(team_id: str, row: dict, until: datetime) -> None:
    """Put a claimed row back without counting the attempt."""
    await _record(
        team_id,
        row["id"],
        {"status": "pending", "attempts": row["attempts"] - 1, "next_attempt_at": until},
    )


_SKIPPED_READ = {"status": "skipped", "last_error": "Already read in the app."}


async def _read_or_snoozed(team_id: str, row: dict, n: dict, now: datetime) -> bool:
    """Settle a row whose notification was read or archived in the app (``skipped``; unless it
    was never shown there) or is snoozed (held until it wakes); True if it was one of those."""
    shown_in_app = (n.get("metadata") or {}).get("in_app", True) is not False
    if shown_in_app and (n["read_at"] is not None or n["archived_at"] is not None):
        await _record(team_id, row["id"], _SKIPPED_READ)
        return True
    if n["snoozed_until"] is not None and n["snoozed_until"] > now:
        await _hold(team_id, row, n["snoozed_until"])
        return True
    return False


async def _send_rows(team_id: str, rows: list[dict]) -> list[str]:
    """Send claimed rows; the errors of those that will be retried."""
    if not rows:
        return []
    s = get_settings()
    async with tenant_tx(api_engine(), team_id) as conn:
        ns, prefs, subs = await _context(conn, team_id, rows)
    now = clock.now()
    retry_errors: list[str] = []
    for row in rows:
        n, p = ns.get(row["notification_id"]), prefs.get(row["member_id"])
        if n is None or p is None:
            await _record(
                team_id,
                row["id"],
                {"status": "skipped", "last_error": "The member or notification is gone."},
            )
            continue
        if await _read_or_snoozed(team_id, row, n, now):
            continue
        wait = deferral(p, n["priority"], now)
        if wait > now:
            await _hold(team_id, row, wait)
            continue
        try:
            outcome = await _send_one(row, n, p, subs, s)
        except Exception as e:
            permanent = isinstance(e, DeliveryError) and e.permanent
            error = str(e) if isinstance(e, DeliveryError) else f"{type(e).__name__}: {e}"
            error = error[:MAX_ERROR]
            failure = _failure(row, error, permanent, now, s)
            await _record(team_id, row["id"], failure)
            log.warning("delivery %s (%s) failed: %s", row["id"], row["channel"], error)
            if failure["status"] == "pending":
                retry_errors.append(f"{row['channel']}: {error}")
            continue
        values: dict[str, Any] = {
            "status": outcome.status,
            "provider_id": outcome.provider_id,
            "last_error": None,
            "next_attempt_at": None,
            "sent_at": now,
        }
        if outcome.status == "delivered":
            values["delivered_at"] = now
        await _record(team_id, row["id"], values)
    return retry_errors


async def _send_one(
    row: dict, n: dict, p: MemberPrefs, subs: dict[str, dict], s: Settings
) -> Outcome:
    channel = row["channel"]
    if channel == "email":
        return await send_email(n, p, row["id"], s)
    if channel == "sms":
        return await send_sms(n, p, row["id"], s, row["team_id"])
    if channel == "push":
        return await send_push(n, subs.get(row["target"]), row["id"], s)
    if channel == "slack":
        return await send_slack(n, p, row["id"], s)
    if channel == "teams":
        return await send_teams(n, p, row["id"], s)
    raise DeliveryError(f"Unknown channel {channel!r}.", permanent=True)


async def deliver_notification(team_id: str, notification_id: str) -> None:
    """Send the immediate deliveries of one notification (the dispatcher consumer). Rows that
    already failed once are retried whenever the dispatcher redelivers the event. Raises if a
    delivery failed and will be retried."""
    rows = await _claim(
        team_id,
        "notification_id = :n AND digest IS NULL AND ("
        f"(status = 'pending' AND (next_attempt_at <= {_NOW} + interval '1 second' OR attempts > 0))"
        f" OR {_STALE})",
        {"n": notification_id},
    )
    errors = await _send_rows(team_id, rows)
    if errors:
        raise DeliveryError("; ".join(errors))


async def _due_teams(cond: str) -> list[str]:
    """Teams with due rows (read across teams as the worker role)."""
    async with db_engine("worker").connect() as conn:
        rows = await conn.execute(
            text(f"SELECT DISTINCT team_id FROM app.notification_deliveries WHERE {cond}"),
            {"now": clock.now()},
        )
        return [r.team_id for r in rows]


_DUE = f"status = 'pending' AND digest IS NULL AND next_attempt_at <= {_NOW}"


async def deliver_due() -> dict[str, int]:
    """Every due immediate delivery of every team (deferred by do-not-disturb or snooze,
    retries, stale leases). Returns counts by outcome."""
    counts = {"claimed": 0, "retrying": 0}
    for team_id in await _due_teams(f"({_DUE}) OR {_STALE}"):
        while True:
            rows = await _claim(team_id, f"({_DUE}) OR {_STALE}", {}, limit=100)
            if not rows:
                break
            counts["claimed"] += len(rows)
            counts["retrying"] += len(await _send_rows(team_id, rows))
            if len(rows) < 100:
                break
    return counts


# =========================================================================== digests

_DIGEST_DUE = f"status = 'pending' AND digest IS NOT NULL AND next_attempt_at <= {_NOW}"


async def send_digests() -> dict[str, int]:
    """One email per member whose hourly/daily digest is due, listing their pending email
    notifications (those read in the app meanwhile are skipped)."""
    s = get_settings()
    counts = {"digests": 0, "items": 0, "failed": 0}
    for team_id in await _due_teams(_DIGEST_DUE):
        async with tenant_tx(api_engine(), team_id) as conn:
            member_ids = [
                r.member_id
                for r in await conn.execute(
                    text(
                        f"SELECT DISTINCT member_id FROM app.notification_deliveries "
                        f"WHERE team_id = :t AND {_DIGEST_DUE}"
                    ),
                    {"t": team_id, "now": clock.now()},
                )
            ]
        for member_id in member_ids:
            rows = await _claim(
                team_id, f"member_id = :m AND {_DIGEST_DUE}", {"m": member_id}, limit=500
            )
            if not rows:
                continue
            ok = await _send_digest(team_id, member_id, rows, s)
            counts["digests"] += 1 if ok is not None else 0
            counts["items"] += ok or 0
            counts["failed"] += 1 if ok is None else 0
    return counts


async def _send_digest(team_id: str, member_id: str, rows: list[dict], s: Settings) -> int | None:
    async with tenant_tx(api_engine(), team_id) as conn:
        ns, prefs, _ = await _context(conn, team_id, rows)
    p = prefs.get(member_id)
    now = clock.now()
    items, keep = [], []
    for row in rows:
        n = ns.get(row["notification_id"])
        if n is None or p is None:
            await _record(team_id, row["id"], _SKIPPED_READ)
            continue
        if await _read_or_snoozed(team_id, row, n, now):
            continue
        items.append({"n": n, "url": absolute(n.get("action_url"), s)})
        keep.append(row)
    if not keep or p is None:
        return 0
    if deferral(p, "normal", now) > now:
        for row in keep:
            await _hold(team_id, row, deferral(p, "normal", now))
        return 0
    mode = keep[0]["digest"]
    env = templates()
    ctx = {"items": items, "mode": mode, "prefs_url": prefs_url(s)}
    key = make_msgid(idstring="digest").strip("<>").split("@")[0]
    msg = _message(
        s,
        p.name,
        p.email_address,
        f"Your Leadly {mode} digest: {len(items)} notification{'s' if len(items) != 1 else ''}",
        env.get_template("digest.txt.j2").render(ctx),
        env.get_template("digest.html.j2").render(ctx),
        key,
    )
    try:
        await _smtp_send(msg, s)
    except Exception as e:
        error = f"{type(e).__name__}: {e}"[:MAX_ERROR]
        permanent = isinstance(e, DeliveryError) and e.permanent
        for row in keep:
            await _record(team_id, row["id"], _failure(row, error, permanent, now, s))
        return None
    for row in keep:
        await _record(
            team_id,
            row["id"],
            {
                "status": "sent",
                "provider_id": msg["Message-ID"],
                "last_error": None,
                "next_attempt_at": None,
                "sent_at": now,
            },
        )
    return len(keep)


__all__ = ["DeliveryError", "deliver_due", "deliver_notification", "send_digests"]
