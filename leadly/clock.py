"""The current time, injectable: code that decides by the time (snoozes, reminders, digests,
quiet hours) asks :func:`now`; tests move it with :func:`frozen` instead of sleeping."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta

_source: ContextVar[Callable[[], datetime] | None] = ContextVar("leadly_clock", default=None)
_offset = timedelta(0)


def now() -> datetime:
    """Aware UTC now: the frozen time in a :func:`frozen` block, else the system clock moved by
    :func:`advance`."""
    source = _source.get()
    return source() if source is not None else datetime.now(UTC) + _offset


def advance(delta: timedelta) -> None:
    """Move this process's clock forward (tests: make a snooze or a reminder due at once)."""
    global _offset
    _offset += delta


def reset() -> None:
    global _offset
    _offset = timedelta(0)


@contextlib.contextmanager
def frozen(at: datetime) -> Iterator[None]:
    """Within the block (and tasks started from it), :func:`now` answers ``at``, moved on by
    the :func:`advance` calls made since the block began: time passes only when the test says."""
    base = _offset
    token = _source.set(lambda: at + (_offset - base))
    try:
        yield
    finally:
        _source.reset(token)
