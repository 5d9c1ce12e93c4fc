"""The dispatcher worker (``leadly worker``): reads ``app.events`` by cursor and hands each event
to every registered consumer.

Per consumer, one task loops:

1. read up to ``worker_batch_size`` events after its cursor with :data:`warehouse.events.READ_AFTER`
   ((txid, id) order, only transactions older than every running one, so an event that commits
   late is never skipped);
2. call the handler for each event the consumer's filter accepts, one after the other;
3. in one transaction, record the failed deliveries in ``app.dispatch_failures`` and move the
   cursor past the events handled, then commit;
4. retry the consumer's failures that are due (exponential backoff with jitter, dead after
   ``worker_max_attempts`` attempts).

A crash between 2 and 3 delivers the uncommitted events again on restart (at-least-once), so
handlers must be idempotent. A failing event never blocks the ones behind it. A session-level
advisory lock per consumer lets several workers run side by side: each consumer is active in
one of them, the others stand by and take over when it goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from api.dispatcher import service, wake
from api.dispatcher.registry import Consumer, DispatchedEvent, load_consumers
from leadly import clock
from leadly.settings import Settings, get_settings
from warehouse import events
from warehouse.db import engine as db_engine

log = logging.getLogger("leadly.dispatcher")

#: A batch is committed at the latest this many seconds after its first delivery, so a slow
#: consumer (webhooks) does not redo minutes of work after a crash.
CHECKPOINT_SECONDS = 5.0
#: Longest pause before reconnecting after a database error.
MAX_RECONNECT_SECONDS = 30.0
#: After a wake-up that found no visible event while newer events are held back by an older
#: transaction still running, look again after 5, 10, 20, 40 ms ..., doubling up to the poll
#: interval, for as long as they are held.
CHASE_FIRST = 0.005
#: A lingering consumer checks :func:`leadly.clock.now` at least this often (seconds).
LINGER_TICK = 0.05


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with equal jitter: after the n-th failed attempt the next one is due
    in ``d/2 + random(0, d/2)`` seconds, ``d = min(cap, base * 2**(n-1))``; after
    ``max_attempts`` attempts the failure is dead."""

    max_attempts: int = 8
    base: float = 10.0
    cap: float = 3600.0

    def delay(self, attempts: int, rand: Callable[[], float] = random.random) -> float:
        d = min(self.cap, self.base * 2.0 ** min(max(attempts, 1) - 1, 60))
        return d / 2 + rand() * d / 2

    @classmethod
    def from_settings(cls, s: Settings) -> RetryPolicy:
        return cls(
            max_attempts=max(1, s.worker_max_attempts),
            base=s.worker_retry_base_seconds,
            cap=s.worker_retry_max_seconds,
        )


def _advisory_key(consumer: str) -> str:
    return f"leadly.dispatcher:{consumer}"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "TimeoutError: the handler did not finish in time"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class ConsumerRunner:
    """Delivers the event log to one consumer until ``stop`` is set."""

    def __init__(
        self,
        consumer: Consumer,
        engine: AsyncEngine,
        stop: asyncio.Event,
        *,
        batch_size: int,
        poll_interval: float,
        policy: RetryPolicy,
        checkpoint_seconds: float = CHECKPOINT_SECONDS,
        wake: asyncio.Event | None = None,
    ) -> None:
        self.consumer = consumer
        self.wake = wake if wake is not None else asyncio.Event()
        self.engine = engine
        self.stop = stop
        self.batch_size = max(1, batch_size)
        self.poll_interval = max(0.01, poll_interval)
        self.policy = policy
        self.checkpoint_seconds = checkpoint_seconds
        self.position: service.Position = (0, 0)
        #: Reads of the event log so far (each batch read counts, empty or not): what a test
        #: waits on to know the runner has looked again.
        self.reads = 0
        #: Until when (clock time) the runner lingers after a wake-up; None when it does not.
        self.lingering_until: datetime | None = None

    @property
    def name(self) -> str:
        return self.consumer.name

    # ------------------------------------------------------------------ loop

    async def run(self) -> None:
        pause = self.poll_interval
        standing_by = False
        while not self.stop.is_set():
            try:
                async with self.engine.connect() as conn:
                    if not await self._try_lock(conn):
                        if not standing_by:
                            log.info("consumer %s runs in another worker; standing by", self.name)
                            standing_by = True
                        await self._sleep(max(self.poll_interval, 1.0))
                        continue
                    standing_by = False
                    try:
                        await self._serve(conn)
                    except BaseException:
                        # Drop the session so its advisory lock cannot outlive this runner.
                        with contextlib.suppress(Exception):
                            await conn.invalidate()
                        raise
                    await self._unlock(conn)
                pause = self.poll_interval
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(
                    "consumer %s stopped on an error; restarting in %.1fs", self.name, pause
                )
                await self._sleep(pause)
                pause = min(pause * 2, MAX_RECONNECT_SECONDS)

    async def _serve(self, conn: AsyncConnection) -> None:
        async with conn.begin():
            self.position = await service.ensure_cursor(conn, self.name, self.consumer.start_from)
        log.info("consumer %s: delivering after event %s", self.name, self.position)
        chase: int | None = None  # not chasing
        while not self.stop.is_set():
            self.wake.clear()  # a wake-up during the step below is kept for the wait after it
            if await self.step(conn):
                chase = None
                continue
            timeout = self.poll_interval
            if chase is not None and await self._held(conn):
                # Woken, yet nothing visible: an older transaction still running holds the new
                # events behind the horizon. Look again soon rather than after a full poll.
                timeout = min(self.poll_interval, CHASE_FIRST * 2.0 ** min(chase, 30))
                chase += 1
            else:
                chase = None
            if await self._wait_for_wake(timeout):
                chase = 0
                if self.consumer.linger:
                    await self._linger(self.consumer.linger)

    async def step(self, conn: AsyncConnection) -> bool:
        """One batch of new events, then the due retries; True if anything was done."""
        try:
            delivered = await self.deliver_batch(conn)
        except service.CursorMoved:
            async with conn.begin():
                self.position = await service.read_cursor(conn, self.name)
            log.warning(
                "consumer %s: its cursor was moved by someone else; continuing from %s",
                self.name,
                self.position,
            )
            return True
        retried = await self.deliver_retries(conn)
        return await self.tick() or delivered or retried

    async def tick(self) -> bool:
        """The consumer's own due work (:attr:`Consumer.tick`); an error is logged, not raised."""
        if self.consumer.tick is None or self.stop.is_set():
            return False
        try:
            return bool(await self.consumer.tick())
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("consumer %s: its tick failed", self.name)
            return False

    # ------------------------------------------------------------------ delivery

    async def deliver(self, event: DispatchedEvent) -> str | None:
        """Hand ``event`` to the consumer; the error text if it failed, else None."""
        try:
            if not self.consumer.accepts(event):
                return None
            await asyncio.wait_for(self.consumer.handler(event), self.consumer.timeout)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.warning(
                "consumer %s failed on event %s (%s %s %s)",
                self.name,
                event.id,
                event.object_type,
                event.object_id,
                event.action,
                exc_info=True,
            )
            return _describe(e)
        return None

    async def deliver_batch(self, conn: AsyncConnection) -> bool:
        async with conn.begin():
            rows = await events.read_after(conn, *self.position, self.batch_size)
        self.reads += 1
        if not rows:
            return False
        start = last = self.position
        failed: list[tuple[DispatchedEvent, str]] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.checkpoint_seconds
        for row in rows:
            if self.stop.is_set():
                break
            event = DispatchedEvent.from_row(row)
            error = await self.deliver(event)
            if error is not None:
                failed.append((event, error))
            last = (event.txid, event.id)
            if loop.time() >= deadline:
                break
        if last == start:
            return False
        async with conn.begin():
            for event, error in failed:
                await service.record_failure(
                    conn,
                    self.name,
                    event,
                    error,
                    delay=self.policy.delay(1),
                    max_attempts=self.policy.max_attempts,
                )
            await service.advance_cursor(conn, self.name, start, last)
        self.position = last
        return True

    async def deliver_retries(self, conn: AsyncConnection) -> bool:
        async with conn.begin():
            due = await service.due_retries(conn, self.name, self.batch_size)
        for failure, event in due:
            if self.stop.is_set():
                break
            error = await self.deliver(event)
            attempts = int(failure["attempts"]) + 1
            async with conn.begin():
                applied = await service.retry_outcome(
                    conn,
                    failure,
                    error,
                    delay=self.policy.delay(attempts),
                    max_attempts=self.policy.max_attempts,
                )
            if applied and error is None:
                log.info(
                    "consumer %s: event %s delivered on attempt %s", self.name, event.id, attempts
                )
            elif applied and attempts >= self.policy.max_attempts:
                log.error(
                    "consumer %s: event %s is dead after %s attempts: %s",
                    self.name,
                    event.id,
                    attempts,
                    error,
                )
        return bool(due)

    # ------------------------------------------------------------------ helpers

    async def _try_lock(self, conn: AsyncConnection) -> bool:
        async with conn.begin():
            got = await conn.scalar(
                text("SELECT pg_try_advisory_lock(hashtextextended(:k, 0))"),
                {"k": _advisory_key(self.name)},
            )
        return bool(got)

    async def _unlock(self, conn: AsyncConnection) -> None:
        try:
            async with conn.begin():
                await conn.execute(
                    text("SELECT pg_advisory_unlock(hashtextextended(:k, 0))"),
                    {"k": _advisory_key(self.name)},
                )
        except Exception:
            await conn.invalidate()

    async def _wait_for_wake(self, seconds: float) -> bool:
        """Wait until woken (True), stopped or ``seconds`` passed (False)."""
        if self.wake.is_set():
            return True
        wake = asyncio.ensure_future(self.wake.wait())
        stop = asyncio.ensure_future(self.stop.wait())
        try:
            await asyncio.wait((wake, stop), timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (wake, stop):
                t.cancel()
        return self.wake.is_set() and not self.stop.is_set()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), seconds)

    async def _linger(self, seconds: float) -> None:
        """Wait ``seconds`` as :func:`leadly.clock.now` counts them (a test moves the clock
        rather than waiting), or until stopped. A clock moved back to before the wait began (a
        test leaving a ``clock_moved`` block) starts the wait again from there, rather than
        leaving the runner waiting for the time it went back."""
        span = timedelta(seconds=seconds)
        self.lingering_until = clock.now() + span
        try:
            while not self.stop.is_set():
                now = clock.now()
                if now < self.lingering_until - span:
                    self.lingering_until = now + span
                left = (self.lingering_until - now).total_seconds()
                if left <= 0:
                    return
                await self._sleep(min(left, LINGER_TICK))
        finally:
            self.lingering_until = None

    async def _held(self, conn: AsyncConnection) -> bool:
        """Whether committed events past the cursor wait behind the horizon."""
        async with conn.begin():
            return await service.held_after(conn, self.position)


async def run(
    stop_event: asyncio.Event | None = None,
    *,
    consumers: Iterable[Consumer] | None = None,
    settings: Settings | None = None,
    engine: AsyncEngine | None = None,
    policy: RetryPolicy | None = None,
    batch_size: int | None = None,
    poll_interval: float | None = None,
    checkpoint_seconds: float = CHECKPOINT_SECONDS,
) -> None:
    """Deliver events to ``consumers`` (default: the registry, after loading the built-in ones
    and ``LEADLY_WORKER_CONSUMERS``) until ``stop_event`` is set; each consumer finishes the
    event in hand and commits its progress before this returns."""
    s = settings or get_settings()
    stop = stop_event if stop_event is not None else asyncio.Event()
    chosen = list(consumers) if consumers is not None else load_consumers(s.worker_consumers)
    if not chosen:
        log.warning("no dispatcher consumers are registered; idle until stopped")
        await stop.wait()
        return
    own_engine = engine is None
    if engine is None:
        engine = db_engine("worker", pool_size=len(chosen) + 1, settings=s)
    retry = policy or RetryPolicy.from_settings(s)
    waker = wake.Waker()
    runners = [
        ConsumerRunner(
            c,
            engine,
            stop,
            batch_size=batch_size or s.worker_batch_size,
            poll_interval=poll_interval if poll_interval is not None else s.worker_poll_interval,
            policy=retry,
            checkpoint_seconds=checkpoint_seconds,
            wake=waker.event(),
        )
        for c in chosen
    ]
    log.info("dispatcher running consumers: %s", ", ".join(c.name for c in chosen))
    wake.install()  # the consumers' own events (a notification) wake the others
    listener = asyncio.create_task(waker.listen(stop), name="dispatcher:wake")
    try:
        async with asyncio.TaskGroup() as tg:
            for r in runners:
                tg.create_task(r.run(), name=f"dispatcher:{r.name}")
    finally:
        listener.cancel()
        with contextlib.suppress(BaseException):
            await listener
        if own_engine:
            await engine.dispose()
    log.info("dispatcher stopped")


async def _serve() -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    task = asyncio.current_task()

    def on_signal(name: str) -> None:
        if stop.is_set():
            log.warning("%s (second signal): stopping without waiting for the current event", name)
            if task is not None:
                task.cancel()
            return
        log.info("%s: finishing the current event, then stopping", name)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, on_signal, sig.name)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - not on Windows
            signal.signal(sig, lambda *_a, n=sig.name: loop.call_soon_threadsafe(on_signal, n))
    await run(stop)


def main() -> None:
    """Run the worker until SIGTERM/SIGINT (``leadly worker``); exits 0 after a graceful stop."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
        )
    try:
        asyncio.run(_serve())
    except (asyncio.CancelledError, KeyboardInterrupt):
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
