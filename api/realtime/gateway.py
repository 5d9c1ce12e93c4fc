"""The WebSocket gateway: ``/api/v1/ws``.

A client authenticates with ``Authorization: Bearer <session or API key>`` (non-browser
clients) or ``?ticket=<single-use ticket>`` (browsers, see :mod:`api.realtime.tickets`); without
valid credentials, or with an API key that has none of the scopes of what the socket carries
(``notifications:read``), the handshake is refused (HTTP 403) before anything is sent. The
socket is then subscribed to the channels every registered provider names for the member, for
each provider whose scope the credential has (each feature registers its own: notifications
add the member's channel, team chat its rooms), each
registered greeter sends its first messages (notifications: the current ``unread_count``), and
from then on every message published to those channels is forwarded as a JSON text frame
``{"type": ..., "data": {...}}``. A client may send ``{"type": "ping"}`` and gets
``{"type": "pong", "data": {}}``.

The socket holds no database connection while open: authentication and greetings each run in
their own short transaction. Every ``realtime_revalidate_seconds`` the session or API key the
socket was opened with (directly or through its ticket) is checked again: once it is revoked
or expired, or the member deactivated, the socket is closed (1008).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable

import msgspec
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect

from api.auth.service import authenticate_in
from api.realtime import broker, tickets
from leadly.actor import Actor
from leadly.settings import get_settings
from warehouse.db import api_engine

log = logging.getLogger("leadly.realtime")

ChannelsProvider = Callable[[Actor], Awaitable[list[str]]]
Greeter = Callable[[Actor], Awaitable[list[bytes]]]

#: (scope, provider): a socket joins a provider's channels only when its credential has the
#: scope (an API key's scopes; a session has every scope of its role).
_providers: list[tuple[str, ChannelsProvider]] = []
_greeters: list[tuple[str, Greeter]] = []

#: Close code sent when a socket's credentials are refused (before the handshake completes the
#: server answers 403 instead).
POLICY_VIOLATION = 1008
#: Close code when the broker restarted under an open socket: the client should reconnect.
SERVICE_RESTART = 1012


def add_channels(scope: str) -> Callable[[ChannelsProvider], ChannelsProvider]:
    """Register ``async (actor) -> [channel, ...]``: channels every socket of ``actor`` joins
    when its credential has ``scope`` (what the channels carry, e.g. ``notifications:read``)."""

    def register(provider: ChannelsProvider) -> ChannelsProvider:
        if (scope, provider) not in _providers:
            _providers.append((scope, provider))
        return provider

    return register


def add_greeting(scope: str) -> Callable[[Greeter], Greeter]:
    """Register ``async (actor) -> [message bytes, ...]`` sent first on every new socket whose
    credential has ``scope``."""

    def register(greeter: Greeter) -> Greeter:
        if (scope, greeter) not in _greeters:
            _greeters.append((scope, greeter))
        return greeter

    return register


def scopes_carried() -> list[str]:
    """The scopes of what a socket can carry; a credential needs one of them to open one."""
    return list(dict.fromkeys(scope for scope, _ in _providers))


def may_open(actor: Actor) -> bool:
    return any(actor.has_scope(scope) for scope in scopes_carried())


async def _bearer(token: str) -> Actor | None:
    async with api_engine().connect() as conn:
        actor = await authenticate_in(conn, token)
        if conn.in_transaction():
            await conn.commit()
    return actor


async def authenticate(socket: WebSocket) -> Actor | None:
    header = socket.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return await _bearer(token.strip())
    ticket = socket.query_params.get("ticket")
    if ticket:
        return await tickets.redeem(ticket)
    return None


_decode = msgspec.json.Decoder()
_PONG = broker.message("pong", {})


@websocket("/api/v1/ws", opt={"exclude_from_auth": True})
async def ws(socket: WebSocket) -> None:
    """Real-time events of the signed-in member (see the module docstring)."""
    try:
        actor = await authenticate(socket)
    except Exception:
        log.warning("websocket authentication failed", exc_info=True)
        actor = None
    if actor is None:
        await socket.close(code=POLICY_VIOLATION, reason="invalid credentials")
        return
    if not may_open(actor):  # closed before the handshake completes: the client sees 403
        await socket.close(code=POLICY_VIOLATION, reason="missing scope")
        return
    channels: list[str] = []
    for scope, provider in _providers:
        if actor.has_scope(scope):
            channels += await provider(actor)
    channels = list(dict.fromkeys(channels))
    plugin = await broker.hub()
    await socket.accept()
    subscriber = await plugin.subscribe(channels) if channels else None
    try:
        for scope, greeter in _greeters:
            if not actor.has_scope(scope):
                continue
            for msg in await greeter(actor):
                await socket.send_text(msg.decode())

        async def forward() -> None:
            if subscriber is None:
                await asyncio.Event().wait()  # nothing to forward: wait for the client to go
                return
            async for payload in subscriber.iter_events():
                await socket.send_text(payload.decode())
            # The broker went away (restarted): tell the client to reconnect.
            await socket.close(code=SERVICE_RESTART, reason="reconnect")

        async def receive() -> None:
            while True:
                event = await socket.receive()
                if event["type"] == "websocket.disconnect":
                    return
                raw = event.get("text") or event.get("bytes")
                if not raw:
                    continue
                with contextlib.suppress(msgspec.DecodeError):
                    obj = _decode.decode(raw)
                    if isinstance(obj, dict) and obj.get("type") == "ping":
                        await socket.send_text(_PONG.decode())

        async def revalidate() -> None:
            every = get_settings().realtime_revalidate_seconds
            # Spread the checks: sockets opened together are not all checked at once.
            await asyncio.sleep(random.uniform(0, every))
            while True:
                try:
                    ok = await tickets.still_valid(actor)
                except Exception:
                    log.warning("websocket credential check failed", exc_info=True)
                    ok = True  # try again next time
                if not ok:
                    await socket.close(code=POLICY_VIOLATION, reason="credentials revoked")
                    return
                await asyncio.sleep(every)

        tasks = [
            asyncio.create_task(forward()),
            asyncio.create_task(receive()),
            asyncio.create_task(revalidate()),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                if not t.cancelled() and t.exception() is not None:
                    exc = t.exception()
                    if not isinstance(exc, WebSocketDisconnect | RuntimeError | OSError):
                        log.warning("websocket ended on an error", exc_info=exc)
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(BaseException):
                    await t
    except WebSocketDisconnect:
        pass
    finally:
        if subscriber is not None:
            with contextlib.suppress(Exception):
                await plugin.unsubscribe(subscriber, channels)
        with contextlib.suppress(Exception):
            if socket.connection_state != "disconnect":
                await socket.close()
