"""Waking the dispatcher as soon as events commit, in every process.

Without this the dispatcher finds new events by polling (``LEADLY_WORKER_POLL_INTERVAL``,
0.5 s by default), which adds up to that much to every real-time path: a lead assigned through
the API reaches the assignee's socket only after the notifications consumer has read its event.

- Writers (the API processes, the worker itself; a Dagster job's own event loop through
  :func:`publishing`): :func:`install` registers a listener with
  :func:`warehouse.events.on_committed`; after a transaction that appended events commits, one
  empty message is published on :data:`CHANNEL` through the real-time broker (Redis pub/sub,
  or PostgreSQL ``NOTIFY`` without Redis). Signals that arrive while a publish is in flight are
  folded into one more publish, so a burst of commits costs at most two messages at a time.
- The worker: :class:`Waker` subscribes to :data:`CHANNEL` and sets every consumer runner's
  :class:`asyncio.Event`; a runner waits on its event with the poll interval as the timeout.

The signal is only a hint: it can be lost (broker down) or early (an older transaction still
running keeps the new events behind the visibility horizon), so the poll stays as the fallback
and a woken runner that finds nothing looks again a few times at short intervals.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from api.realtime import broker
from warehouse import events

log = logging.getLogger("leadly.dispatcher")

#: The broker channel of the wake-up messages.
CHANNEL = "dispatcher:wake"
#: Pause before subscribing again after the broker failed under the waker.
RESUBSCRIBE_SECONDS = 1.0


class _Publisher:
    """Publishes one wake-up per burst of commits in this process's event loop."""

    def __init__(self) -> None:
        self.pending = False
        self.task: asyncio.Task[None] | None = None

    def signal(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # a sync caller: the poll finds its events
        self.pending = True
        if self.task is None or self.task.done() or self.task.get_loop() is not loop:
            self.task = loop.create_task(self._run(), name="dispatcher-wake")

    async def _run(self) -> None:
        while self.pending:
            self.pending = False
            await broker.publish_quietly(CHANNEL, b"")


_publisher = _Publisher()


def install() -> None:
    """Publish a wake-up after every commit that appended events (idempotent)."""
    events.on_committed(_publisher.signal)


@contextlib.asynccontextmanager
async def publishing() -> AsyncIterator[None]:
    """For a short-lived event loop that appends events (a Dagster job's ``asyncio.run``):
    publish wake-ups after its commits, and before the loop ends wait for the one in flight and
    close the broker, so its last commit's wake-up is not lost with the loop."""
    install()
    try:
        yield
    finally:
        task = _publisher.task
        if task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop():
            with contextlib.suppress(Exception):
                await task
        await broker.close()


class Waker:
    """Sets every registered :class:`asyncio.Event` when a wake-up arrives."""

    def __init__(self) -> None:
        self._events: list[asyncio.Event] = []

    def event(self) -> asyncio.Event:
        """A new event this waker sets on every wake-up."""
        ev = asyncio.Event()
        self._events.append(ev)
        return ev

    def wake_all(self) -> None:
        for ev in self._events:
            ev.set()

    async def listen(self, stop: asyncio.Event) -> None:
        """Forward wake-ups until ``stop`` is set; re-subscribes after a broker failure."""
        while not stop.is_set():
            subscriber = None
            plugin = None
            try:
                plugin = await broker.hub()
                subscribing = asyncio.ensure_future(plugin.subscribe([CHANNEL]))
                try:
                    subscriber = await asyncio.shield(subscribing)
                except asyncio.CancelledError:
                    # Stopped halfway through subscribing: let it finish so that the finally
                    # below removes it. The plugin subscribes its backend to a channel only when
                    # the channel has no subscriber: one left behind (after the backend was
                    # unsubscribed) would keep every later waker of this process deaf.
                    with contextlib.suppress(Exception):
                        subscriber = await subscribing
                    raise
                log.info("dispatcher wake-ups: subscribed to %s", CHANNEL)
                # Anything committed while (re)subscribing would have been missed: look now.
                self.wake_all()
                async for _ in subscriber.iter_events():
                    self.wake_all()
                log.warning("dispatcher wake-ups stopped (broker restarted); subscribing again")
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("dispatcher wake-ups unavailable; polling meanwhile", exc_info=True)
            finally:
                if subscriber is not None and plugin is not None:
                    with contextlib.suppress(Exception):
                        await plugin.unsubscribe(subscriber, [CHANNEL])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RESUBSCRIBE_SECONDS)
