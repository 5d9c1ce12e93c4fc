"""Sending webhooks: the dispatcher consumer ``webhooks`` and its sender.

1. The consumer (:func:`enqueue`) turns each public event into one outbox row per enabled
   endpoint whose ``events`` match it (``app.webhook_deliveries``, unique per endpoint and
   event), with the envelope it will send, in a transaction of its own. It reads the event log
   after commit, so a rolled-back change is never sent and a committed one is never lost (the
   dispatcher's cursor moves only after the rows are written).
2. The sender (:func:`send_due`, the consumer's ``tick``: after every batch and at every poll)
   claims due rows with a lease, across teams, and POSTs them through the outbound guard,
   signed per Standard Webhooks (``webhook-id`` = the envelope's id, stable across retries;
   ``webhook-timestamp``; ``webhook-signature`` with the current secret and, for 24 h after a
   rotation, the previous one). A row is claimed only when no earlier delivery of the same
   record to the same endpoint is still pending: a record's ``updated`` never overtakes its
   ``created``, even when the ``created`` waits for a retry.
3. Every attempt is logged (``app.webhook_attempts``: request headers, status code, the first
   2 KB of the answer, duration). A failed one is retried on Svix's schedule (at once, 5 s,
   5 min, 30 min, 2 h, 5 h, 10 h, 10 h) as :func:`leadly.clock.now` counts, then ``failed``.
   An endpoint that has failed for :data:`DISABLE_AFTER` with no success in between is
   disabled and its team's admins get a ``system`` notification.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import text
from standardwebhooks.webhooks import Webhook

from api.common import outbound
from api.dispatcher.registry import Consumer, DispatchedEvent
from api.events.envelope import envelopes, is_public, matches
from api.notifications.drafts import Draft, create_in, publish
from api.webhooks.service import signing_secrets
from leadly import clock
from leadly.actor import system_actor
from leadly.ids import new_id
from warehouse import events
from warehouse.db import api_engine, tenant_tx
from warehouse.db import engine as db_engine

log = logging.getLogger("leadly.webhooks")

#: Seconds before attempt n+1 after attempt n failed (Svix): 8 attempts in all.
SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)
MAX_ATTEMPTS = len(SCHEDULE) + 1
TIMEOUT = 15.0
#: An endpoint failing this long with no success in between is disabled.
DISABLE_AFTER = timedelta(days=5)
#: Seconds a claimed row is held by its sender (a crashed sender's rows go out again after).
LEASE_SECONDS = 60
#: Rows claimed per tick (sent concurrently).
CLAIM_LIMIT = 500
RESPONSE_KEEP = 2048
MAX_ERROR = 2000
USER_AGENT = "Leadly-Webhooks/1"

_ENDPOINTS = text(
    "SELECT id, events FROM app.webhook_endpoints "
    "WHERE team_id = :t AND enabled AND deleted_at IS NULL"
)
_ENQUEUE = text(
    """
    INSERT INTO app.webhook_deliveries
        (team_id, id, endpoint_id, event_id, event_txid, event_type, object_type, object_id,
         payload, next_attempt_at)
    VALUES (:team_id, :id, :endpoint_id, :event_id, CAST(:txid AS xid8), :event_type,
            :object_type, :object_id, :payload, CAST(:now AS timestamptz))
    ON CONFLICT (team_id, endpoint_id, event_id) DO NOTHING
    """
)


def _row(event: DispatchedEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "team_id": event.team_id,
        "occurred_at": event.occurred_at,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "action": event.action,
        "changes": event.changes,
    }


async def enqueue(event: DispatchedEvent) -> None:
    """The outbox rows of ``event``: one per enabled endpoint that subscribes to its type
    (idempotent: a redelivered event adds nothing)."""
    async with tenant_tx(api_engine(), event.team_id) as conn:
        hooks = list(await conn.execute(_ENDPOINTS, {"t": event.team_id}))
        if not hooks:
            return
        (env,) = await envelopes(conn, event.team_id, [_row(event)])
        targets = [h.id for h in hooks if matches(h.events, env["type"])]
        if not targets:
            return
        payload = json.dumps(env, separators=(",", ":"), ensure_ascii=False)
        now = clock.now()
        await conn.execute(
            _ENQUEUE,
            [
                {
                    "team_id": event.team_id,
                    "id": new_id("whd"),
                    "endpoint_id": endpoint_id,
                    "event_id": event.id,
                    "txid": str(event.txid),
                    "event_type": env["type"],
                    "object_type": event.object_type,
                    "object_id": event.object_id,
                    "payload": payload,
                    "now": now,
                }
                for endpoint_id in targets
            ],
        )


# --------------------------------------------------------------------------- the sender

# Due, not leased, its endpoint enabled, and no earlier delivery of the same record to the same
# endpoint still pending. "Earlier" for one record is the event id: a record's events are
# written under its row lock, so their ids follow the order the changes happened in (a
# transaction id can be older than the lock's order). The lease is real time (a crash), what is
# due is the clock's.
_CLAIM = text(
    """
    WITH due AS (
      SELECT d.team_id, d.id
      FROM app.webhook_deliveries d
      JOIN app.webhook_endpoints w ON w.team_id = d.team_id AND w.id = d.endpoint_id
      WHERE d.status = 'pending' AND d.next_attempt_at <= CAST(:now AS timestamptz)
        AND (d.lease_until IS NULL OR d.lease_until < now())
        AND w.enabled AND w.deleted_at IS NULL
        AND NOT EXISTS (
          SELECT 1 FROM app.webhook_deliveries p
          WHERE p.team_id = d.team_id AND p.endpoint_id = d.endpoint_id
            AND p.object_type = d.object_type AND p.object_id = d.object_id
            AND p.status = 'pending'
            AND p.event_id < d.event_id)
      ORDER BY d.next_attempt_at, d.event_txid, d.event_id
      LIMIT :limit
      FOR UPDATE OF d SKIP LOCKED
    )
    UPDATE app.webhook_deliveries d
    SET lease_until = now() + make_interval(secs => :lease), attempts = d.attempts + 1,
        updated_at = now()
    FROM due, app.webhook_endpoints w
    WHERE d.team_id = due.team_id AND d.id = due.id
      AND w.team_id = d.team_id AND w.id = d.endpoint_id
    RETURNING d.team_id, d.id, d.endpoint_id, d.event_id, d.payload, d.attempts, w.url,
              w.secret, w.previous_secret, w.previous_secret_expires_at
    """
)

_ATTEMPT = text(
    """
    INSERT INTO app.webhook_attempts
        (team_id, id, delivery_id, attempt, status, request, response_code, response_body,
         error, duration_ms, attempted_at)
    VALUES (:team_id, :id, :delivery_id, :attempt, :status, CAST(:request AS jsonb),
            :response_code, :response_body, :error, :duration_ms, CAST(:at AS timestamptz))
    """
)
_DONE = text(
    """
    UPDATE app.webhook_deliveries
    SET status = :status, response_code = :response_code, duration_ms = :duration_ms,
        attempted_at = CAST(:at AS timestamptz), next_attempt_at = CAST(:next AS timestamptz),
        last_error = :error, lease_until = NULL, updated_at = now()
    WHERE team_id = :team_id AND id = :delivery_id AND attempts = :attempt
    """
)
_SUCCEEDED = text(
    "UPDATE app.webhook_endpoints SET failing_since = NULL "
    "WHERE team_id = :team_id AND id = :endpoint_id AND failing_since IS NOT NULL"
)
_FAILED = text(
    """
    UPDATE app.webhook_endpoints
    SET failing_since = coalesce(failing_since, CAST(:at AS timestamptz))
    WHERE team_id = :team_id AND id = :endpoint_id
    RETURNING enabled, failing_since
    """
)


def headers_for(row: Mapping[str, Any], msg_id: str, payload: str) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt. The timestamp is the real time of sending
    (receivers compare it with their own clock)."""
    sent = datetime.now(UTC)
    signatures = [Webhook(s).sign(msg_id, sent, payload) for s in signing_secrets(row, clock.now())]
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(sent.timestamp())),
        "webhook-signature": " ".join(signatures),
    }


def _client_for(clients: dict[str, httpx.AsyncClient], url: str) -> httpx.AsyncClient:
    """One client per host name for a tick (connections reused; never across TLS names). The
    15 s limit counts from the connection, not while waiting for one of the pool's."""
    host = (urlsplit(url).hostname or "").lower()
    found = clients.get(host)
    if found is None:
        found = clients[host] = httpx.AsyncClient(
            timeout=httpx.Timeout(TIMEOUT, pool=None),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=50),
        )
    return found


async def _attempt(
    row: Mapping[str, Any], client: httpx.AsyncClient | None = None
) -> dict[str, Any]:
    payload: str = row["payload"]
    msg_id = json.loads(payload)["id"]
    headers = headers_for(row, msg_id, payload)
    started = time.perf_counter()
    error: str | None = None
    try:
        answer = await outbound.post(
            row["url"],
            content=payload.encode(),
            headers=headers,
            seconds=TIMEOUT,
            keep=RESPONSE_KEEP,
            client=client,
        )
    except outbound.Refused as e:
        answer = outbound.Answer(0, f"refused: {e.reason}")
    duration = int((time.perf_counter() - started) * 1000)
    if not answer.ok:
        error = answer.reason[:MAX_ERROR]
    shown = {k: v for k, v in headers.items() if k != "webhook-signature"}
    return {
        "ok": answer.ok,
        "response_code": answer.status or None,
        "response_body": answer.body.decode("utf-8", "replace") if answer.body else None,
        "error": error,
        "duration_ms": duration,
        "request": {"url": row["url"], "headers": shown | {"webhook-signature": "v1,…"}},
    }


def _outcome(row: Mapping[str, Any], out: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The parameters that settle one attempt: its log row and the delivery's new state."""
    attempt = int(row["attempts"])
    if out["ok"]:
        status, nxt = "succeeded", None
    elif attempt >= MAX_ATTEMPTS:
        status, nxt = "failed", None
    else:
        status, nxt = "pending", now + timedelta(seconds=SCHEDULE[attempt - 1])
    return {
        "team_id": row["team_id"],
        "delivery_id": row["id"],
        "id": new_id("wha"),
        "attempt": attempt,
        "status": status,
        "attempt_status": "succeeded" if out["ok"] else "failed",
        "request": json.dumps(out["request"]),
        "response_code": out["response_code"],
        "response_body": out["response_body"],
        "error": out["error"],
        "duration_ms": out["duration_ms"],
        "at": now,
        "next": nxt,
    }


async def _record(results: list[tuple[Mapping[str, Any], dict[str, Any]]]) -> list[tuple[str, str]]:
    """Log the attempts of one tick and settle their rows, in one transaction; the endpoints
    (team, id) to disable (failing for :data:`DISABLE_AFTER`)."""
    now = clock.now()
    params = [_outcome(row, out, now) for row, out in results]
    succeeded = {(r["team_id"], r["endpoint_id"]) for r, out in results if out["ok"]}
    failed = {(r["team_id"], r["endpoint_id"]) for r, out in results if not out["ok"]}
    disable: list[tuple[str, str]] = []
    async with db_engine("worker").begin() as conn:
        await conn.execute(_ATTEMPT, [{**p, "status": p["attempt_status"]} for p in params])
        await conn.execute(_DONE, params)
        if succeeded:
            await conn.execute(
                _SUCCEEDED, [{"team_id": t, "endpoint_id": e} for t, e in sorted(succeeded)]
            )
        for team_id, endpoint_id in sorted(failed - succeeded):
            state = (
                await conn.execute(
                    _FAILED, {"team_id": team_id, "endpoint_id": endpoint_id, "at": now}
                )
            ).first()
            if state and state.enabled and state.failing_since <= now - DISABLE_AFTER:
                disable.append((team_id, endpoint_id))
    return disable


async def _send(
    row: Mapping[str, Any], client: httpx.AsyncClient
) -> tuple[Mapping[str, Any], dict[str, Any]]:
    out = await _attempt(row, client)
    if not out["ok"]:
        log.info("webhook delivery %s attempt %s failed: %s", row["id"], row["attempts"], out)
    return row, out


async def send_due(limit: int = CLAIM_LIMIT) -> bool:
    """Claim and send the due deliveries of every team (concurrently), then record what
    happened in one transaction; True if any was sent."""
    async with db_engine("worker").begin() as conn:
        rows = [
            dict(r._mapping)
            for r in await conn.execute(
                _CLAIM, {"now": clock.now(), "limit": limit, "lease": LEASE_SECONDS}
            )
        ]
    if not rows:
        return False
    clients: dict[str, httpx.AsyncClient] = {}
    try:
        results = await asyncio.gather(*(_send(r, _client_for(clients, r["url"])) for r in rows))
    finally:
        for c in clients.values():
            await c.aclose()
    for team_id, endpoint_id in await _record(list(results)):
        await disable(team_id, endpoint_id, failing_for=DISABLE_AFTER)
    return True


# --------------------------------------------------------------------------- disabling

_ADMINS = text(
    """
    SELECT m.id FROM app.team_members m JOIN app.roles r ON r.team_id = m.team_id AND r.id = m.role_id
    WHERE m.team_id = :t AND m.is_active AND r.key IN ('admin', 'owner')
    """
)
_DISABLE = text(
    """
    UPDATE app.webhook_endpoints
    SET enabled = false, disabled_reason = :reason, version = version + 1, updated_at = now()
    WHERE team_id = :t AND id = :id AND enabled AND deleted_at IS NULL
    RETURNING url
    """
)


async def disable(team_id: str, endpoint_id: str, *, failing_for: timedelta) -> bool:
    """Switch a failing endpoint off, record it and tell the team's admins (once)."""
    days = failing_for.days
    reason = f"Every delivery failed for {days} days."
    async with tenant_tx(api_engine(), team_id) as conn:
        row = (
            await conn.execute(_DISABLE, {"t": team_id, "id": endpoint_id, "reason": reason})
        ).first()
        if row is None:
            return False
        actor = system_actor(team_id)
        await events.append(
            conn,
            events.EventRecord(
                team_id=team_id,
                actor_type=actor.actor_type,
                actor_id=None,
                object_type="webhook",
                object_id=endpoint_id,
                action="disabled",
                changes={"enabled": [True, False], "disabled_reason": [None, reason]},
            ),
        )
        admins = [r.id for r in await conn.execute(_ADMINS, {"t": team_id})]
        made = await create_in(
            conn,
            team_id,
            [
                Draft(
                    member_id=m,
                    type="system",
                    title=f"Webhook to {row.url} was disabled",
                    message=f"{reason} Fix the endpoint, then enable it again and replay the "
                    "failed deliveries.",
                    source_key=f"webhook_disabled:{endpoint_id}:{clock.now().date()}",
                    priority="high",
                    related_to_type="webhook",
                    related_to_id=endpoint_id,
                    metadata={"kind": "webhook_disabled", "webhook_id": endpoint_id},
                    source_type="webhook",
                )
                for m in admins
            ],
        )
    await publish(made)
    log.warning("webhook %s of team %s disabled: %s", endpoint_id, team_id, reason)
    return True


_LONG_FAILING = text(
    """
    SELECT team_id, id FROM app.webhook_endpoints
    WHERE enabled AND deleted_at IS NULL AND failing_since <= CAST(:cutoff AS timestamptz)
    """
)


async def disable_failing() -> int:
    """Disable every endpoint failing for :data:`DISABLE_AFTER` (the periodic check beside the
    one each failed attempt makes); how many were."""
    async with db_engine("worker").connect() as conn:
        rows = list(await conn.execute(_LONG_FAILING, {"cutoff": clock.now() - DISABLE_AFTER}))
    n = 0
    for r in rows:
        n += await disable(r.team_id, r.id, failing_for=DISABLE_AFTER)
    return n


def _public(event: DispatchedEvent) -> bool:
    return is_public({"object_type": event.object_type})


webhooks_consumer = Consumer(
    "webhooks",
    enqueue,
    filter=_public,
    start_from="now",
    timeout=60.0,
    tick=send_due,
    description="Queue and send webhooks",
)
