"""Notification tests: the notification consumers running in the test's loop (like
``leadly worker``), a real SMTP server (aiosmtpd) and a loopback HTTP server standing in for
Twilio, Slack, Teams and a Web Push service, plus members of a team."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiohttp import web
from sqlalchemy import text

from tests.conftest import Team
from tests.plugin import (  # noqa: F401 (clock_moved: for the notification tests)
    MAILBOX,
    MailBox,
    clock_moved,
    eventually,
    local_http,
    worker_running,
)

PASSWORD = "another-long-passphrase"
TWILIO_SID = "ACtest0000000000000000000000000000"
FAIL_PHONE = "+15550000500"


# --------------------------------------------------------------------------- HTTP receivers


@dataclass
class Receiver:
    """Requests received per path; a path starting with /fail answers 500, /gone 410,
    /redirect 302 (to /internal-target), /flaky/<n>/ fails the first n requests."""

    base: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    flaky: dict[str, int] = field(default_factory=dict)

    def at(self, prefix: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"].startswith(prefix)]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        rec = {
            "path": request.path,
            "method": request.method,
            "headers": dict(request.headers),
            "body": body,
        }
        self.requests.append(rec)
        path = request.path
        if path.startswith("/fail"):
            return web.Response(status=500, text="receiver says no")
        if path.startswith("/gone"):
            return web.Response(status=410, text="subscription gone")
        if path.startswith("/redirect"):  # somewhere internal: a guarded client never follows
            raise web.HTTPFound(f"{self.base}/internal-target")
        if path.startswith("/flaky/"):
            n = int(path.split("/")[2])
            seen = self.flaky.get(path, 0)
            self.flaky[path] = seen + 1
            if seen < n:
                return web.Response(status=503, text=f"flaky {seen + 1}")
        if path.startswith("/2010-04-01/Accounts/"):
            form = dict(await _form(body))
            rec["form"] = form
            if form.get("To") == FAIL_PHONE:
                return web.json_response({"code": 21211, "message": "Twilio is down"}, status=503)
            return web.json_response(
                {"sid": "SM" + secrets.token_hex(16), "status": "queued"}, status=201
            )
        if path.startswith("/push"):
            return web.Response(status=201, headers={"Location": f"{self.base}/msg/1"})
        return web.Response(status=200, text="ok")


async def _form(body: bytes) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl(body.decode())


#: Where Twilio would reach the API (status callbacks name it).
API_PUBLIC_URL = "https://api.crm.example.test"


@dataclass
class Services:
    mail: MailBox
    http: Receiver
    vapid_public: str


@pytest.fixture(scope="session")
async def services(database_url: str, mailbox: MailBox) -> AsyncIterator[Services]:
    """The Twilio/Slack/Teams/push stand-in and VAPID keys; mail goes to the run's one SMTP
    server (``mailbox``, tests/plugin.py)."""
    from cryptography.hazmat.primitives import serialization
    from py_vapid import Vapid02

    receiver = Receiver()
    http = contextlib.AsyncExitStack()
    receiver.base = await http.enter_async_context(local_http(receiver.handle))
    vapid = Vapid02()
    vapid.generate_keys()
    public = (
        base64.urlsafe_b64encode(
            vapid.public_key.public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )
        .decode()
        .rstrip("=")
    )
    env = {
        "LEADLY_TWILIO_BASE_URL": receiver.base,
        "LEADLY_TWILIO_ACCOUNT_SID": TWILIO_SID,
        "LEADLY_TWILIO_AUTH_TOKEN": "twilio-secret",
        "LEADLY_TWILIO_FROM": "+15550001111",
        "LEADLY_VAPID_PRIVATE_KEY": vapid.private_pem().decode(),
        "LEADLY_VAPID_PUBLIC_KEY": public,
        "LEADLY_PUBLIC_URL": "https://crm.example.test",
        "LEADLY_API_PUBLIC_URL": API_PUBLIC_URL,
        "LEADLY_NOTIFICATION_HTTP_TIMEOUT": "5",
    }
    os.environ.update(env)
    from leadly.settings import get_settings

    get_settings.cache_clear()
    try:
        yield Services(mailbox, receiver, public)
    finally:
        await http.aclose()


# --------------------------------------------------------------------------- the worker


@pytest.fixture(scope="module")
async def notification_worker(services: Services, app: Any) -> AsyncIterator[asyncio.Task]:
    """The notification consumers, delivering in the background while the module runs (not
    longer: a synchronous test elsewhere in this process would freeze them while they hold
    the consumers' locks, and a real ``leadly worker`` could not take over)."""
    from api.dispatcher import worker
    from api.notifications.producers import consumers
    from leadly.settings import get_settings
    from warehouse.db import make_async_engine

    s = get_settings()
    engine = make_async_engine(os.environ["LEADLY_DATABASE_URL"], s.worker_db_role, pool_size=4)
    policy = worker.RetryPolicy(max_attempts=s.worker_max_attempts, base=0.05, cap=0.2)
    # Both cursors exist before any test appends an event (they start "now").
    try:
        async with worker_running(
            consumers,
            engine,
            policy=policy,
            poll_interval=0.03,
            checkpoint_seconds=0.5,
        ) as task:
            yield task
    finally:
        await engine.dispose()


async def caught_up(*consumers: str) -> None:
    """A barrier: wait until each of ``consumers`` (by default the producer, then the
    deliverer), in turn, has handled every event written so far: its cursor has passed the
    newest event there was when its turn came (the producer's own ``notification created``
    events included, for the deliverer). Then what they were going to do is done, and a test
    can assert that nothing else happened."""
    from warehouse.db import engine

    for consumer in consumers or ("notifications", "notifications.deliver"):
        async with engine("worker").connect() as conn:
            head = (
                await conn.execute(
                    text(
                        # e.txid: the xid8 column (the alias txid is text: '999' > '1000')
                        "SELECT e.txid::text AS txid, e.id FROM app.events e "
                        "ORDER BY e.txid DESC, e.id DESC LIMIT 1"
                    )
                )
            ).one()

        async def passed(consumer: str = consumer, head: Any = head) -> bool:
            async with engine("worker").connect() as conn:
                return bool(
                    (
                        await conn.execute(
                            text(
                                "SELECT (last_txid, last_event_id) >= (CAST(:t AS xid8), :i) "
                                "FROM app.consumer_cursors WHERE consumer = :c"
                            ),
                            {"t": head.txid, "i": head.id, "c": consumer},
                        )
                    ).scalar_one()
                )

        await eventually(passed, what=f"consumer {consumer} to pass event {head.id}")


# --------------------------------------------------------------------------- members


async def add_member(team: Team, role: str = "user", name: str | None = None) -> Team:
    email_ = f"{role}-{secrets.token_hex(4)}@example.com"
    r = await team.post("/api/v1/invitations", json={"email": email_, "role": role})
    assert r.status_code == 201, r.text
    token = MAILBOX.take_token(email_, "ldi_")
    r = await team.http.post(
        f"/api/v1/invitations/{token}/accept",
        json={"name": name or f"{role.title()} {secrets.token_hex(2)}", "password": PASSWORD},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    return Team(
        team.http, body["token"], team.team_id, body["member"]["id"], email_, PASSWORD, body
    )


async def notifications_of(member: Team, **params: Any) -> list[dict[str, Any]]:
    r = await member.get("/api/v1/notifications", params={"limit": 200, **params})
    assert r.status_code == 200, r.text
    return r.json()["data"]


async def wait_for_notification(
    member: Team,
    predicate: Callable[[dict[str, Any]], bool],
    *,
    within: float = 60.0,
    **params: Any,
) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        for n in await notifications_of(member, **params):
            if predicate(n):
                return n
        return None

    return await eventually(check, within=within, what="notification")


async def deliveries_of(member: Team, **filters: str) -> list[dict[str, Any]]:
    params = {f"filter[{k}]": v for k, v in filters.items()}
    r = await member.get("/api/v1/notification-deliveries", params={"limit": 200, **params})
    assert r.status_code == 200, r.text
    return r.json()["data"]


async def append_event(team_id: str, **kw: Any) -> None:
    """An event as another area's service would write it (for producers whose services are
    being built in parallel: tasks, mentions, deals, meetings)."""
    from warehouse import events
    from warehouse.db import api_engine, tenant_tx

    async with tenant_tx(api_engine(), team_id) as conn:
        await events.append(
            conn,
            events.EventRecord(
                team_id=team_id,
                actor_type=kw.pop("actor_type", "member"),
                actor_id=kw.pop("actor_id", None),
                object_type=kw.pop("object_type"),
                object_id=kw.pop("object_id"),
                action=kw.pop("action"),
                changes=kw.pop("changes", {}),
                data=kw.pop("data", {}),
            ),
        )
        assert not kw, kw


def ulid_id(prefix: str) -> str:
    from leadly.ids import new_id

    return new_id(prefix)


__all__ = ["httpx", "json"]
