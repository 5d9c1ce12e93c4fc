"""The pub/sub broker every real-time feature shares: Litestar channels over Redis pub/sub when
``LEADLY_REDIS_URL`` is set, over PostgreSQL ``LISTEN``/``NOTIFY`` otherwise.

Both cross processes: the API processes and the dispatcher worker (``leadly worker``) publish,
every API process subscribes for the sockets connected to it, so a message published anywhere
reaches a socket connected to any API process.

Channel names are free-form strings (``member:<team>:<member>`` for a member's notifications;
team chat adds its own). :class:`NamespacedBackend` maps them onto the wire: Redis channels get
the deployment's ``redis_prefix``; PostgreSQL channels (identifiers of at most 63 bytes) are
hashed when longer.

Use :func:`publish` to send (after the transaction that made the change committed) and
:func:`hub` for the process's started :class:`~litestar.channels.ChannelsPlugin` to subscribe.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncGenerator, Iterable
from typing import Any

import msgspec
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.base import ChannelsBackend
from litestar.channels.backends.psycopg import PsycoPgChannelsBackend
from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from psycopg import AsyncConnection

from leadly.settings import Settings, get_settings

log = logging.getLogger("leadly.realtime")

#: PostgreSQL refuses NOTIFY payloads of 8000 bytes or more.
PG_MAX_PAYLOAD = 7900
_PG_MAX_IDENT = 63


class PgNotifyBackend(PsycoPgChannelsBackend):
    """Litestar's psycopg backend, publishing over one kept-open connection (``pg_notify`` with
    bound parameters) instead of a new connection per message."""

    def __init__(self, pg_dsn: str) -> None:
        super().__init__(pg_dsn)
        self._pub_conn: AsyncConnection[Any] | None = None
        self._pub_lock: asyncio.Lock | None = None

    async def publish(self, data: bytes, channels: Iterable[str]) -> None:
        if len(data) > PG_MAX_PAYLOAD:
            raise ValueError(f"A NOTIFY payload is limited to {PG_MAX_PAYLOAD} bytes.")
        if self._pub_lock is None:
            self._pub_lock = asyncio.Lock()
        payload = data.decode("utf-8")
        async with self._pub_lock:
            for attempt in (1, 2):
                try:
                    if self._pub_conn is None or self._pub_conn.closed:
                        self._pub_conn = await AsyncConnection.connect(
                            self._pg_dsn, autocommit=True
                        )
                    for channel in channels:
                        await self._pub_conn.execute("SELECT pg_notify(%s, %s)", (channel, payload))
                    return
                except Exception:
                    if self._pub_conn is not None:
                        with contextlib.suppress(Exception):
                            await self._pub_conn.close()
                    self._pub_conn = None
                    if attempt == 2:
                        raise

    async def on_shutdown(self) -> None:
        if hasattr(self, "_listener_lock"):  # started (a publish-only backend is not)
            await super().on_shutdown()
        if self._pub_conn is not None:
            with contextlib.suppress(Exception):
                await self._pub_conn.close()
            self._pub_conn = None


class NamespacedBackend(ChannelsBackend):
    """Wraps a backend: application channel names ↔ wire names (prefixed, hashed if too long)."""

    def __init__(self, inner: ChannelsBackend, prefix: str, max_len: int | None) -> None:
        self.inner = inner
        self.prefix = prefix
        self.max_len = max_len
        self._names: dict[str, str] = {}
        # redis-py's PubSub is not safe for concurrent (un)subscribes: the first concurrent
        # ones each open a connection and only one is kept (the others' subscriptions are
        # lost). One at a time.
        self._lock: asyncio.Lock | None = None

    def _guard(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    def wire(self, channel: str) -> str:
        name = f"{self.prefix}{channel}"
        if self.max_len is not None and len(name.encode()) > self.max_len:
            name = "h:" + hashlib.sha256(name.encode()).hexdigest()[:40]
        self._names[name] = channel
        return name

    async def on_startup(self) -> None:
        await self.inner.on_startup()

    async def on_shutdown(self) -> None:
        await self.inner.on_shutdown()

    async def publish(self, data: bytes, channels: Iterable[str]) -> None:
        await self.inner.publish(data, [self.wire(c) for c in channels])

    async def subscribe(self, channels: Iterable[str]) -> None:
        async with self._guard():
            await self.inner.subscribe([self.wire(c) for c in channels])

    async def unsubscribe(self, channels: Iterable[str]) -> None:
        async with self._guard():
            await self.inner.unsubscribe([self.wire(c) for c in channels])

    async def stream_events(self) -> AsyncGenerator[tuple[str, bytes], None]:
        async for wire_name, payload in self.inner.stream_events():
            channel = self._names.get(wire_name)
            if channel is not None:
                yield channel, payload

    async def get_history(self, channel: str, limit: int | None = None) -> list[bytes]:
        return []


def kind(settings: Settings | None = None) -> str:
    """``"redis"`` or ``"postgres"``: the broker this process uses."""
    return "redis" if (settings or get_settings()).redis_url else "postgres"


def make_backend(settings: Settings | None = None) -> NamespacedBackend:
    s = settings or get_settings()
    if s.redis_url:
        import redis.asyncio as redis

        client = redis.from_url(s.redis_url)
        return NamespacedBackend(
            RedisChannelsPubSubBackend(redis=client), f"{s.redis_prefix}:rt:", None
        )
    from warehouse.db import database_url, libpq_url, role_url

    dsn = libpq_url(role_url(database_url(s), s.api_db_role))
    return NamespacedBackend(PgNotifyBackend(dsn), "", _PG_MAX_IDENT)


class _Hub:
    def __init__(self) -> None:
        self.plugin: ChannelsPlugin | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.lock: asyncio.Lock | None = None
        self.settings_key: tuple[Any, ...] | None = None
        self.watcher: asyncio.Task[None] | None = None


_hub = _Hub()


def _settings_key(s: Settings) -> tuple[Any, ...]:
    return (s.redis_url, s.redis_prefix, s.database_url)


async def hub() -> ChannelsPlugin:
    """This process's started channels plugin (created on first use, per event loop)."""
    loop = asyncio.get_running_loop()
    s = get_settings()
    if _hub.plugin is not None and _hub.loop is loop and _hub.settings_key == _settings_key(s):
        return _hub.plugin
    if _hub.lock is None or _hub.loop is not loop:
        _hub.lock = asyncio.Lock()
        _hub.loop = loop
        _hub.plugin = None
    async with _hub.lock:
        if _hub.plugin is None or _hub.settings_key != _settings_key(s):
            plugin = ChannelsPlugin(
                backend=make_backend(s),
                arbitrary_channels_allowed=True,
                subscriber_max_backlog=1000,
                subscriber_backlog_strategy="dropleft",
            )
            await plugin.__aenter__()
            _hub.plugin = plugin
            _hub.watcher = asyncio.create_task(_watch(plugin))
            _hub.settings_key = _settings_key(s)
            log.info("realtime broker started (%s)", kind(s))
        return _hub.plugin


async def _watch(plugin: ChannelsPlugin) -> None:
    """If the plugin stops receiving (its listener connection died: Redis or PostgreSQL
    restarted), drop it: its subscribers end (the gateway closes their sockets with 1012 so
    clients reconnect) and the next :func:`hub` call starts a fresh one."""
    task = plugin._sub_task
    if task is None:
        return
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        if task.cancelled():
            return  # shut down on purpose
        raise
    except Exception:
        log.error("realtime broker stopped receiving; restarting it", exc_info=True)
    if _hub.plugin is plugin:
        _hub.plugin = None
    for subscribers in list(plugin._channels.values()):
        for sub in list(subscribers):
            sub.put_nowait(None)
    with contextlib.suppress(Exception):
        await plugin.__aexit__(None, None, None)


async def close() -> None:
    """Stop this process's hub (tests, shutdown)."""
    plugin, _hub.plugin = _hub.plugin, None
    if plugin is not None:
        with contextlib.suppress(Exception):
            await plugin.__aexit__(None, None, None)


_encode = msgspec.json.Encoder(decimal_format="number").encode


def message(type_: str, data: Any) -> bytes:
    """The wire form of every server message: ``{"type": ..., "data": {...}}``."""
    return _encode({"type": type_, "data": data})


async def publish(channels: str | Iterable[str], payload: bytes) -> None:
    """Publish ``payload`` to ``channels`` now (call it after the change committed)."""
    names = [channels] if isinstance(channels, str) else list(channels)
    if not names:
        return
    plugin = await hub()
    await plugin.wait_published(payload, names)


async def publish_quietly(channels: str | Iterable[str], payload: bytes) -> bool:
    """:func:`publish`, logging instead of raising: a real-time push is best effort (the data
    is committed and the next read shows it)."""
    try:
        await publish(channels, payload)
        return True
    except Exception:
        log.warning("realtime publish failed", exc_info=True)
        return False


def member_channel(team_id: str, member_id: str) -> str:
    """The channel of one member's personal events (notifications, unread counts)."""
    return f"member:{team_id}:{member_id}"


__all__ = [
    "NamespacedBackend",
    "PgNotifyBackend",
    "close",
    "hub",
    "kind",
    "make_backend",
    "member_channel",
    "message",
    "publish",
    "publish_quietly",
]
