"""The worker's wake-up listener (api/dispatcher/wake.py) on this process's broker."""

from __future__ import annotations

import asyncio
import contextlib

from api.dispatcher import wake
from api.realtime import broker
from tests.plugin import eventually


async def test_a_waker_stopped_while_subscribing_leaves_no_subscriber_behind(
    database_url: str,
) -> None:
    """A worker stopped just after it started (its waker halfway through subscribing) left a
    subscriber in the broker's plugin: the plugin subscribes its backend to a channel only when
    the channel has none, so every later worker of the process missed every wake-up (found only
    by its poll)."""
    await broker.hub()  # started: the first waker's time goes into subscribing
    first = wake.Waker()
    task = asyncio.create_task(first.listen(asyncio.Event()))
    await asyncio.sleep(0)  # now inside the plugin's subscribe, waiting for the backend
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task

    second = wake.Waker()
    woken = second.event()
    stop = asyncio.Event()
    listening = asyncio.create_task(second.listen(stop))
    try:
        # It wakes its consumers once subscribed (a commit meanwhile would have been missed).
        await eventually(woken.is_set, task=listening, what="subscription")
        woken.clear()
        await broker.publish(wake.CHANNEL, b"")
        await eventually(woken.is_set, task=listening, what="wake-up")
    finally:
        stop.set()
        listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listening
