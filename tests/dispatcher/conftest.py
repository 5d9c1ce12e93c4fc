"""Helpers for the dispatcher tests: events of a team, a worker (or single consumer runners)
running in the test's loop, the worker role's engine, the clock, and members below admin."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.dispatcher import worker
from api.dispatcher.registry import Consumer, DispatchedEvent
from tests.conftest import Team
from tests.dispatcher.consumers import OBJECT_TYPE
from tests.plugin import MAILBOX, clock_moved, eventually  # noqa: F401 (clock_moved: the tests)
from warehouse import events
from warehouse.db import api_engine, make_async_engine, tenant_tx

FAST = worker.RetryPolicy(max_attempts=3, base=0.2, cap=1.0)

Position = tuple[int, int]

__all__ = ["eventually"]  # from tests.plugin, for the modules that import it from here


@pytest.fixture
async def worker_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine that runs as the worker role, like ``leadly worker``."""
    from leadly.settings import get_settings

    engine = make_async_engine(database_url, get_settings().worker_db_role, pool_size=4)
    yield engine
    await engine.dispose()


def unique(prefix: str = "test") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


async def append_events(
    team_id: str, count: int, *, per_tx: int = 10, tag: str | None = None
) -> list[Position]:
    """Append ``count`` ``dispatch_test`` events for the team, ``per_tx`` per transaction; their
    positions (txid, id) in delivery order."""
    tag = tag or secrets.token_hex(4)
    engine = api_engine()
    for start in range(0, count, per_tx):
        async with tenant_tx(engine, team_id) as conn:
            await events.append(
                conn,
                *[
                    events.EventRecord(
                        team_id=team_id,
                        actor_type="system",
                        actor_id=None,
                        object_type=OBJECT_TYPE,
                        object_id=f"{tag}-{i}",
                        action="created",
                        changes={"n": [None, i]},
                        data={"tag": tag},
                    )
                    for i in range(start, min(count, start + per_tx))
                ],
            )
    return await positions(team_id, tag)


async def positions(team_id: str, tag: str) -> list[Position]:
    """(txid, id) of the team's ``dispatch_test`` events tagged ``tag``, in delivery order."""
    async with tenant_tx(api_engine(), team_id) as conn:
        rows = await conn.execute(
            text(
                "SELECT e.txid::text AS txid, e.id FROM app.events AS e WHERE e.team_id = :t "
                "AND e.object_type = :o AND e.data->>'tag' = :tag ORDER BY e.txid, e.id"
            ),
            {"t": team_id, "o": OBJECT_TYPE, "tag": tag},
        )
        return [(int(r.txid), int(r.id)) for r in rows]


async def cursor_of(engine: AsyncEngine, consumer: str) -> Position | None:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT last_txid::text AS txid, last_event_id FROM app.consumer_cursors "
                    "WHERE consumer = :c"
                ),
                {"c": consumer},
            )
        ).first()
    return (int(row.txid), int(row.last_event_id)) if row else None


async def failures_of(engine: AsyncEngine, consumer: str) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT * FROM app.dispatch_failures WHERE consumer = :c ORDER BY event_id"),
            {"c": consumer},
        )
        return [dict(r._mapping) for r in rows]


class Recorder:
    """A consumer handler that remembers every call; ``fail(event, attempt)`` → raise. Run by
    :func:`runners`, it also notes which read of its runner brought each event."""

    def __init__(self, fail: Callable[[DispatchedEvent, int], bool] | None = None) -> None:
        self.fail = fail or (lambda _e, _n: False)
        self.attempts: Counter[int] = Counter()
        self.delivered: list[int] = []
        self.runner: worker.ConsumerRunner | None = None
        self.read: dict[int, int] = {}  # event id -> the runner's read that brought it

    async def __call__(self, event: DispatchedEvent) -> None:
        self.attempts[event.id] += 1
        if self.runner is not None:
            self.read.setdefault(event.id, self.runner.reads)
        if self.fail(event, self.attempts[event.id]):
            raise ValueError(f"boom on event {event.id} (attempt {self.attempts[event.id]})")
        self.delivered.append(event.id)

    def idle_after(self, event_id: int) -> bool:
        """Its runner has read the log again since the read that brought ``event_id``: it is
        past that step, waiting for a wake-up or its poll (a wake-up set now is not lost)."""
        return (
            self.runner is not None
            and event_id in self.read
            and self.runner.reads > self.read[event_id]
        )


def team_consumer(team_id: str, handler: Any, *, name: str | None = None, **kw: Any) -> Consumer:
    """A consumer of the team's ``dispatch_test`` events only (other tests write events too)."""
    return Consumer(
        name or unique(),
        handler,
        filter=lambda e: e.team_id == team_id and e.object_type == OBJECT_TYPE,
        **kw,
    )


@asynccontextmanager
async def running(
    consumers: Iterable[Consumer],
    engine: AsyncEngine,
    *,
    policy: worker.RetryPolicy = FAST,
    batch_size: int = 50,
    poll_interval: float = 0.05,
) -> AsyncIterator[asyncio.Task[None]]:
    """The worker loop running in this event loop; stopped (gracefully) on exit."""
    stop = asyncio.Event()
    task = asyncio.create_task(
        worker.run(
            stop,
            consumers=list(consumers),
            engine=engine,
            policy=policy,
            batch_size=batch_size,
            poll_interval=poll_interval,
        )
    )
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


Runner = tuple[worker.ConsumerRunner, asyncio.Task[None]]


@asynccontextmanager
async def runners(
    *consumers: Consumer,
    engine: AsyncEngine,
    policy: worker.RetryPolicy = FAST,
    batch_size: int = 50,
    poll_interval: float = 3600.0,
) -> AsyncIterator[list[Runner]]:
    """One :class:`worker.ConsumerRunner` per consumer, each with a wake-up event of its own that
    only the test sets (the broker's carry every test's commits), polling every hour by
    default: what a runner does, the test made it do. Stopped on exit."""
    stop = asyncio.Event()
    out = []
    for c in consumers:
        runner = worker.ConsumerRunner(
            c,
            engine,
            stop,
            batch_size=batch_size,
            poll_interval=poll_interval,
            policy=policy,
            wake=asyncio.Event(),
        )
        if isinstance(c.handler, Recorder):
            c.handler.runner = runner
        out.append((runner, asyncio.create_task(runner.run(), name=f"test:{c.name}")))
    try:
        yield out
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*(t for _, t in out)), 30)


async def add_member(http: httpx.AsyncClient, team: Team, role: str) -> Team:
    """Invite and accept a member with ``role``; a client signed in as them."""
    email = f"{role}-{secrets.token_hex(4)}@example.com"
    r = await team.post("/api/v1/invitations", json={"email": email, "role": role})
    assert r.status_code == 201, r.text
    r = await http.post(
        f"/api/v1/invitations/{MAILBOX.take_token(email, 'ldi_')}/accept",
        json={"name": f"A {role}", "password": "another-long-passphrase"},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    return team.as_token(body["token"])
