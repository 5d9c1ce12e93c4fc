"""Webhook endpoints (create, update, delete, rotate the secret) and their delivery log (list,
read, retry one, replay the failed ones since a time). The only writer of the endpoints from
the API; the worker's sender (:mod:`api.webhooks.delivery`) writes deliveries and attempts.

Secrets are stored encrypted (AES-GCM, a key derived from ``LEADLY_SECRET_KEY``): the API
shows one only in the answer that made it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common import outbound
from api.common.listing import Lister, ListParams
from api.common.records import RecordService, actor_event
from api.common.refs import plausible_id
from api.events.envelope import envelope_id
from leadly import clock
from leadly.actor import Actor
from leadly.problem import Problem, not_found
from leadly.settings import get_settings
from warehouse import events
from warehouse.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

endpoints = WebhookEndpoint.__table__
deliveries = WebhookDelivery.__table__
attempts = WebhookAttempt.__table__

#: Both secrets sign for this long after a rotation.
ROTATION_OVERLAP = timedelta(hours=24)
SECRET_PREFIX = "whsec_"


# --------------------------------------------------------------------------- secrets


@lru_cache(maxsize=1)
def _aead() -> AESGCM:
    key = hashlib.sha256(b"leadly.webhooks:" + get_settings().secret_key.encode()).digest()
    return AESGCM(key)


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def seal(secret: str) -> str:
    nonce = secrets.token_bytes(12)
    return base64.b64encode(nonce + _aead().encrypt(nonce, secret.encode(), None)).decode()


def unseal(sealed: str) -> str:
    raw = base64.b64decode(sealed)
    return _aead().decrypt(raw[:12], raw[12:], None).decode()


def signing_secrets(row: Mapping[str, Any], now: datetime) -> list[str]:
    """The secrets a delivery is signed with now: the current one, and the previous one during
    the 24 h after a rotation."""
    out = [unseal(row["secret"])]
    expires = row.get("previous_secret_expires_at")
    if row.get("previous_secret") and expires is not None and expires > now:
        out.append(unseal(row["previous_secret"]))
    return out


# --------------------------------------------------------------------------- endpoints


class WebhookService(RecordService):
    table = endpoints
    object_type = "webhook"
    plural = "webhooks"
    prefix = "whk"
    extra_hidden = frozenset({"secret", "previous_secret", "previous_secret_expires_at"})

    async def validate(
        self,
        conn: AsyncConnection,
        actor: Actor,
        values: dict[str, Any],
        current: Mapping[str, Any] | None,
    ) -> None:
        await super().validate(conn, actor, values, current)
        if "url" in values:
            await outbound.check_url(values["url"], "url")
        if "events" in values:
            values["events"] = sorted(set(values["events"]))
        if current is not None and values.get("enabled") is True and not current["enabled"]:
            # Switched back on by a person: the failure clock starts again.
            values["failing_since"] = None
            values["disabled_reason"] = None

    async def create(  # type: ignore[override]
        self, conn: AsyncConnection, actor: Actor, values: dict[str, Any], **kw: Any
    ) -> dict[str, Any]:
        secret = new_secret()
        row = await super().create(conn, actor, {**values, "secret": seal(secret)}, **kw)
        return {**row, "secret": secret}

    async def rotate(self, conn: AsyncConnection, actor: Actor, id: str) -> dict[str, Any]:
        """A new secret; the old one keeps signing (beside it) for :data:`ROTATION_OVERLAP`."""
        current = await self.get(conn, actor, id, for_update=True)
        old = (
            await conn.execute(
                select(endpoints.c.secret).where(
                    endpoints.c.team_id == actor.team_id, endpoints.c.id == id
                )
            )
        ).scalar_one()
        secret = new_secret()
        expires = clock.now() + ROTATION_OVERLAP
        row = await self.apply(
            conn,
            actor,
            current,
            {"secret": seal(secret), "previous_secret": old, "previous_secret_expires_at": expires},
            "secret_rotated",
            {"previous_secret_valid_until": expires.isoformat()},
        )
        return {**row, "secret": secret}


webhook_service = WebhookService()


# --------------------------------------------------------------------------- deliveries

d = deliveries.c
_DELIVERY_COLUMNS = {
    "id": d.id,
    "event_id": d.event_id,
    "event_type": d.event_type,
    "attempt": d.attempts,
    "status": d.status,
    "response_code": d.response_code,
    "duration_ms": d.duration_ms,
    "attempted_at": d.attempted_at,
    "next_attempt_at": d.next_attempt_at,
    "created_at": d.created_at,
}
delivery_lister = Lister(_DELIVERY_COLUMNS, d.id)
_SELECT = select(*[c.label(k) for k, c in _DELIVERY_COLUMNS.items()])


def present(row: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: row[k] for k in _DELIVERY_COLUMNS if k in row}
    if "event_id" in out:
        out["event_id"] = envelope_id(int(out["event_id"]))
    return out


async def list_deliveries(
    conn: AsyncConnection, actor: Actor, webhook_id: str, params: ListParams
) -> dict[str, Any]:
    await webhook_service.get(conn, actor, webhook_id)
    stmt = _SELECT.where(d.team_id == actor.team_id, d.endpoint_id == webhook_id)
    stmt, keys = delivery_lister.apply(stmt, params)
    rows = [dict(r._mapping) for r in await conn.execute(stmt)]
    return delivery_lister.page(rows, keys, params, present)


async def get_delivery(
    conn: AsyncConnection, actor: Actor, delivery_id: str, *, for_update: bool = False
) -> dict[str, Any]:
    """One delivery with its payload and every attempt (request and truncated response)."""
    if not plausible_id(delivery_id):
        raise not_found("webhook delivery", delivery_id)
    q = (
        _SELECT.add_columns(d.endpoint_id.label("webhook_id"), d.payload)
        .join(endpoints, (endpoints.c.team_id == d.team_id) & (endpoints.c.id == d.endpoint_id))
        .where(d.team_id == actor.team_id, d.id == delivery_id, endpoints.c.deleted_at.is_(None))
    )
    if for_update:
        q = q.with_for_update(of=deliveries)
    row = (await conn.execute(q)).first()
    if row is None:
        raise not_found("webhook delivery", delivery_id)
    m = row._mapping
    a = attempts.c
    tries = await conn.execute(
        select(
            a.attempt,
            a.status,
            a.request,
            a.response_code,
            a.response_body,
            a.error,
            a.duration_ms,
            a.attempted_at,
        )
        .where(a.team_id == actor.team_id, a.delivery_id == delivery_id)
        .order_by(a.attempt, a.attempted_at)
    )
    payload = m["payload"]
    return {
        **present(m),
        "webhook_id": m["webhook_id"],
        "payload": json.loads(payload),
        "attempts": [
            {**dict(t._mapping), "request": {**t.request, "body": payload}} for t in tries
        ],
    }


async def retry_delivery(conn: AsyncConnection, actor: Actor, delivery_id: str) -> dict[str, Any]:
    """Send one delivery again now (whatever its status): a failed one gets one more attempt."""
    current = await get_delivery(conn, actor, delivery_id, for_update=True)
    now = clock.now()
    await conn.execute(
        update(deliveries)
        .where(d.team_id == actor.team_id, d.id == delivery_id)
        .values(status="pending", next_attempt_at=now, updated_at=func.now())
    )
    await events.append(
        conn,
        actor_event(
            actor,
            "webhook_delivery",
            delivery_id,
            "retried",
            events.diff({"status": current["status"]}, {"status": "pending"}),
            {"webhook_id": current["webhook_id"], "event_id": current["event_id"]},
        ),
    )
    return await get_delivery(conn, actor, delivery_id)


async def replay(
    conn: AsyncConnection, actor: Actor, webhook_id: str, since: datetime
) -> dict[str, Any]:
    """Every failed delivery of the endpoint made since ``since`` goes out again now."""
    await webhook_service.get(conn, actor, webhook_id, for_update=True)
    res = await conn.execute(
        update(deliveries)
        .where(
            d.team_id == actor.team_id,
            d.endpoint_id == webhook_id,
            d.status == "failed",
            d.created_at >= since,
        )
        .values(status="pending", next_attempt_at=clock.now(), updated_at=func.now())
    )
    n = res.rowcount
    await events.append(
        conn,
        actor_event(
            actor, "webhook", webhook_id, "replayed", {}, {"since": since.isoformat(), "count": n}
        ),
    )
    return {"replayed": n}


def check_since(since: datetime) -> datetime:
    if since.tzinfo is None:
        raise Problem(
            422,
            "since needs a time zone (e.g. 2026-01-31T12:00:00Z).",
            errors=[{"field": "since", "message": "No time zone."}],
        )
    return since
