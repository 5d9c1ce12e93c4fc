"""Webhook tests: a real aiohttp receiver on loopback that verifies each request's signature
with the ``standardwebhooks`` verifier, and helpers that run the webhooks consumer's two halves
(queue from the event log, send what is due) in the test, so a test decides when time passes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import text
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.api.notifications.test_outbound_guard import guarded
from tests.conftest import Team
from tests.plugin import local_http


@dataclass
class Receiver:
    """Requests per path. ``/fail...`` answers 500, ``/flaky/<n>/...`` fails its first n
    requests, ``/redirect...`` answers 302 to 127.0.0.1; everything else 200. ``secrets`` maps a
    path to the secrets its signature must verify with (each one on its own)."""

    base: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    secrets: dict[str, list[str]] = field(default_factory=dict)
    seen: dict[str, int] = field(default_factory=dict)

    def at(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] == path]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = dict(request.headers)
        verified = []
        for s in self.secrets.get(request.path, []):
            try:
                Webhook(s).verify(body, headers)
                verified.append(True)
            except WebhookVerificationError:
                verified.append(False)
        self.requests.append(
            {"path": request.path, "headers": headers, "body": body, "verified": verified}
        )
        path = request.path
        n = self.seen[path] = self.seen.get(path, 0) + 1
        if path.startswith("/fail"):
            return web.Response(status=500, text="receiver says no " * 300)
        if path.startswith("/redirect"):
            raise web.HTTPFound("http://127.0.0.1:9/internal")
        if path.startswith("/flaky/") and n <= int(path.split("/")[2]):
            return web.Response(status=503, text=f"flaky {n}")
        return web.Response(status=200, text="thanks")


@pytest.fixture(scope="session")
async def receiver(database_url: str) -> AsyncIterator[Receiver]:
    rec = Receiver()
    async with local_http(rec.handle) as rec.base:
        yield rec


async def make_webhook(
    team: Team, receiver: Receiver, path: str, events: list[str] | None = None
) -> dict[str, Any]:
    r = await team.post(
        "/api/v1/webhooks",
        json={"url": receiver.base + path, "events": events or ["*"], "description": path},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    receiver.secrets[path] = [body["secret"]]
    return body


# --------------------------------------------------------------------------- the consumer, by hand

_LOG = text(
    "SELECT e.id, e.team_id, e.txid::text AS txid, e.occurred_at, e.actor_type, e.actor_id, "
    "e.object_type, e.object_id, e.action, e.changes, e.data, e.request_id "
    "FROM app.events e WHERE e.team_id = :t ORDER BY e.txid, e.id"
)


async def queue(team: Team) -> None:
    """What the ``webhooks`` consumer does with every committed event of the team (idempotent:
    an event already queued adds nothing)."""
    from api.dispatcher.registry import DispatchedEvent
    from api.webhooks.delivery import webhooks_consumer
    from warehouse.db import engine

    async with engine("worker").connect() as conn:
        rows = [dict(r._mapping) for r in await conn.execute(_LOG, {"t": team.team_id})]
    for row in rows:
        event = DispatchedEvent.from_row(row)
        if webhooks_consumer.accepts(event):
            await webhooks_consumer.handler(event)


async def pump(team: Team) -> int:
    """Queue the team's events, then send until nothing is due; how many sends were made."""
    from api.webhooks.delivery import send_due

    await queue(team)
    n = 0
    while await send_due():
        n += 1
    return n


async def deliveries(team: Team, webhook_id: str) -> list[dict[str, Any]]:
    r = await team.get(f"/api/v1/webhooks/{webhook_id}/deliveries", params={"limit": 200})
    assert r.status_code == 200, r.text
    return r.json()["data"]


@contextlib.contextmanager
def later(delta: timedelta) -> Iterator[None]:
    """:func:`leadly.clock.now` moved on by ``delta`` for the block."""
    from leadly import clock

    clock.advance(delta)
    try:
        yield
    finally:
        clock.advance(-delta)


__all__ = ["asyncio", "guarded"]
