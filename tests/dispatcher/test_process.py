"""The worker as a real process (``python -m api.dispatcher.worker``): SIGKILL mid-batch loses
nothing, SIGTERM finishes the event in hand, commits and exits 0."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import Team
from tests.dispatcher.conftest import Position, append_events, cursor_of, unique
from tests.plugin import eventually
from warehouse import events

ROOT = Path(__file__).resolve().parents[2]
BATCH = 100

pytestmark = pytest.mark.slow


class Worker:
    """``leadly worker`` in a subprocess, running the ``slow_recorder`` test consumer."""

    def __init__(
        self,
        tmp_path: Path,
        team_id: str,
        consumer: str,
        *,
        poll: float = 0.05,
        delay: float = 0.02,
        pause_at: int | None = None,
    ) -> None:
        self.log = tmp_path / "handled.txt"
        self.output = tmp_path / "worker.out"
        self.env = {
            **os.environ,
            "LEADLY_WORKER_CONSUMERS": "tests.dispatcher.consumers:slow_recorder",
            "LEADLY_WORKER_BATCH_SIZE": str(BATCH),
            "LEADLY_WORKER_POLL_INTERVAL": str(poll),
            "DISPATCH_TEST_CONSUMER": consumer,
            "DISPATCH_TEST_TEAM": team_id,
            "DISPATCH_TEST_LOG": str(self.log),
            "DISPATCH_TEST_DELAY": str(delay),
            "PYTHONUNBUFFERED": "1",
        }
        if pause_at is not None:
            self.env["DISPATCH_TEST_PAUSE_AT"] = str(pause_at)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.output.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "api.dispatcher.worker"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def go(self) -> None:
        """Let the event held in hand (``pause_at``) through, and every one after it."""
        self.log.with_name(self.log.name + ".go").touch()

    def handled(self) -> list[int]:
        """Event ids in the order the consumer finished them (complete lines only)."""
        if not self.log.exists():
            return []
        return [int(x) for x in self.log.read_text().split("\n")[:-1]]

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None and self.proc.poll() is None, self.tail()
        self.proc.send_signal(sig)

    async def exited(self, within: float = 20.0) -> int:
        assert self.proc is not None
        deadline = time.monotonic() + within
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"the worker did not exit in {within}s\n{self.tail()}")
            await asyncio.sleep(0.02)
        return self.proc.returncode

    def alive(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"the worker died ({self.proc.returncode})\n{self.tail()}")
        return True

    def tail(self) -> str:
        return self.output.read_text()[-3000:] if self.output.exists() else ""

    def cleanup(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


async def test_sigkill_mid_batch_then_restart_delivers_every_event(
    team: Team, worker_engine: AsyncEngine, tmp_path: Path
) -> None:
    consumer = unique("killed")
    pos = await append_events(team.team_id, 300, per_tx=10)
    ids = [i for _, i in pos]
    where: dict[int, Position] = {i: p for p, i in zip(pos, ids, strict=True)}
    w = Worker(tmp_path, team.team_id, consumer)
    try:
        w.start()

        async def half_way_through_a_batch() -> Position | None:
            # A cursor committed among our events, a full batch of ours behind it, and 10-50 of
            # that batch handled: its commit is still 50+ slow events away.
            w.alive()
            c = await cursor_of(worker_engine, consumer)
            if c is None or c < pos[0] or sum(p > c for p in pos) < BATCH:
                return None
            done = sum(where[i] > c for i in w.handled())
            return c if 10 <= done <= 50 else None

        await eventually(half_way_through_a_batch, within=180, what="middle of a batch")
        w.signal(signal.SIGKILL)
        assert await w.exited() == -signal.SIGKILL

        at_kill = await cursor_of(worker_engine, consumer)
        assert at_kill is not None and at_kill < pos[-1]
        first_run = w.handled()
        committed = [i for i in ids if where[i] <= at_kill]
        assert set(committed) <= set(first_run)
        # Handled, but the process died before the batch's cursor commit.
        uncommitted = [i for i in first_run if where[i] > at_kill]
        assert uncommitted

        w.start()

        async def drained() -> bool:
            w.alive()
            c = await cursor_of(worker_engine, consumer)
            return c is not None and c >= pos[-1]

        await eventually(drained, within=180, what="drain after restart")
        w.signal(signal.SIGTERM)
        assert await w.exited() == 0, w.tail()
    finally:
        w.cleanup()

    every = w.handled()
    counts = Counter(every)
    assert set(ids) <= set(counts), "an event was never handled"
    # The restart resumed at the committed cursor: the uncommitted part came again, in order,
    # and nothing committed before the kill was handled twice.
    assert every[len(first_run) :] == [i for i in ids if where[i] > at_kill]
    assert all(counts[i] >= 2 for i in uncommitted)
    assert all(counts[i] == 1 for i in committed)
    # The cursor reached the end of the log (other tests may have appended events since).
    final = await cursor_of(worker_engine, consumer)
    assert final is not None and final >= pos[-1]
    async with worker_engine.connect() as conn:
        assert await events.visible_head(conn) >= final


async def test_sigterm_finishes_the_event_in_hand_commits_and_exits_zero(
    team: Team, worker_engine: AsyncEngine, tmp_path: Path
) -> None:
    consumer = unique("stopped")
    pos = await append_events(team.team_id, 60, per_tx=20)
    ids = [i for _, i in pos]
    # The 16th event waits in the handler until the test lets it through.
    w = Worker(tmp_path, team.team_id, consumer, pause_at=15)
    try:
        w.start()
        await eventually(lambda: w.alive() and len(w.handled()) >= 15, within=180, what="start")
        w.signal(signal.SIGTERM)
        w.go()
        assert await w.exited() == 0, w.tail()
        first = w.handled()
        # The event in hand (if it had one) was finished; nothing after it was begun.
        assert len(first) in (15, 16), first
        assert first == ids[: len(first)]
        # Exactly what was handled is committed: nothing will be delivered twice.
        assert await cursor_of(worker_engine, consumer) == pos[len(first) - 1]

        w.start()

        async def drained() -> bool:
            w.alive()
            return await cursor_of(worker_engine, consumer) == pos[-1]

        await eventually(drained, within=180, what="drain after restart")
        w.signal(signal.SIGINT)
        assert await w.exited() == 0, w.tail()
    finally:
        w.cleanup()
    assert w.handled() == ids


@pytest.mark.parametrize("broker", ["redis", "postgres"])
async def test_a_commit_in_another_process_wakes_the_worker(
    team: Team, worker_engine: AsyncEngine, tmp_path: Path, broker: str
) -> None:
    """The worker polls once an hour; events appended by another process reach it through the
    broker's wake-up: Redis pub/sub, or PostgreSQL LISTEN/NOTIFY when no Redis is configured
    (``leadly up``'s embedded set-up)."""
    if broker == "redis" and not os.environ.get("LEADLY_REDIS_URL"):
        pytest.skip("LEADLY_TEST_REDIS_URL is not set")
    consumer = unique("woken")
    w = Worker(tmp_path, team.team_id, consumer, poll=3600, delay=0)
    if broker == "postgres":
        w.env.pop("LEADLY_REDIS_URL", None)
    try:
        w.start()
        await eventually(lambda: cursor_of(worker_engine, consumer), within=180, what="start")
        await eventually(
            lambda: w.alive() and "subscribed to dispatcher:wake" in w.tail(), what="subscribed"
        )
        for _ in range(3):
            [(_, new)] = await append_events(team.team_id, 1)
            if broker == "postgres":
                # What an API process without Redis publishes after the commit.
                await _pg_wake(worker_engine)
            await eventually(lambda n=new: w.alive() and n in w.handled(), what="wake")
        w.signal(signal.SIGTERM)
        assert await w.exited() == 0, w.tail()
    finally:
        w.cleanup()


async def _pg_wake(engine: AsyncEngine) -> None:
    from sqlalchemy import text

    from api.dispatcher import wake

    async with engine.begin() as conn:
        await conn.execute(text("SELECT pg_notify(:c, '')"), {"c": wake.CHANNEL})
