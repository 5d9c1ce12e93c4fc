"""Consumers the subprocess tests load through ``LEADLY_WORKER_CONSUMERS``.

``slow_recorder`` sleeps ``DISPATCH_TEST_DELAY`` seconds per event, then appends the event id to
the file ``DISPATCH_TEST_LOG``; it only takes the ``dispatch_test`` events of team
``DISPATCH_TEST_TEAM`` and is named ``DISPATCH_TEST_CONSUMER`` (one cursor per test).
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


async def _record(event: DispatchedEvent) -> None:
    await asyncio.sleep(float(os.environ.get("DISPATCH_TEST_DELAY", "0.02")))
    await asyncio.to_thread(_append, os.environ["DISPATCH_TEST_LOG"], f"{event.id}\n")


slow_recorder = Consumer(
    os.environ.get("DISPATCH_TEST_CONSUMER", "test-slow-recorder"), _record, filter=_ours
)
