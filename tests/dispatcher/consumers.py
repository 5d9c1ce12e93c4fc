"""Consumers the subprocess tests load through ``LEADLY_WORKER_CONSUMERS``.

``slow_recorder`` sleeps ``DISPATCH_TEST_DELAY`` seconds per event, then appends the event id to
the file ``DISPATCH_TEST_LOG``; it only takes the ``dispatch_test`` events of team
``DISPATCH_TEST_TEAM`` and is named ``DISPATCH_TEST_CONSUMER`` (one cursor per test). With
``DISPATCH_TEST_PAUSE_AT`` = n it holds the event after the n-th in hand until the file
``<DISPATCH_TEST_LOG>.go`` exists.
"""

from __future__ import annotations

import asyncio
import os

from api.dispatcher.registry import Consumer, DispatchedEvent

OBJECT_TYPE = "dispatch_test"


def _ours(event: DispatchedEvent) -> bool:
    return event.object_type == OBJECT_TYPE and event.team_id == os.environ.get(
        "DISPATCH_TEST_TEAM"
    )


def _append(path: str, line: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)


def _handled(path: str) -> int:
    try:
        with open(path, encoding="utf-8") as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def _paused(log: str, pause_at: int) -> bool:
    return not os.path.exists(f"{log}.go") and _handled(log) == pause_at


async def _record(event: DispatchedEvent) -> None:
    log = os.environ["DISPATCH_TEST_LOG"]
    pause_at = os.environ.get("DISPATCH_TEST_PAUSE_AT")
    if pause_at is not None:
        # Holds the event in hand until the test (another process) creates ``<log>.go``.
        while await asyncio.to_thread(_paused, log, int(pause_at)):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    await asyncio.sleep(float(os.environ.get("DISPATCH_TEST_DELAY", "0.02")))
    await asyncio.to_thread(_append, log, f"{event.id}\n")


slow_recorder = Consumer(
    os.environ.get("DISPATCH_TEST_CONSUMER", "test-slow-recorder"), _record, filter=_ours
)
