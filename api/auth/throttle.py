"""Fixed-window counters for the login throttle: Redis when configured, else process memory.

A login attempt *reserves* its slot with an atomic :meth:`Counter.hit` before the password is
checked, so parallel guesses cannot all slip past a read-then-increment check; a successful
attempt gives its slot back (:meth:`Counter.undo`) or clears the account counter.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Protocol

from api.auth.emails import normalize_email
from leadly.settings import get_settings


class Counter(Protocol):
    async def hit(self, key: str, window: int) -> tuple[int, int]: ...
    async def peek(self, key: str, window: int) -> tuple[int, int]: ...
    async def undo(self, key: str) -> None: ...
    async def reset(self, key: str) -> None: ...


class MemoryCounter:
    """Counters in process memory. A window that has ended is dropped: at most every
    ``sweep_every`` hits, every ended window goes, so memory follows the keys of the current
    windows, not every address or account ever seen."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, sweep_every: int = 256) -> None:
        self._data: dict[str, tuple[int, float]] = {}
        self._ends: dict[str, float] = {}
        self._clock = clock
        self._sweep_every = sweep_every
        self._hits = 0

    def __len__(self) -> int:
        return len(self._data)

    def _get(self, key: str, window: int) -> tuple[int, float]:
        count, start = self._data.get(key, (0, 0.0))
        now = self._clock()
        if now - start >= window:
            count, start = 0, now
        return count, start

    def _sweep(self) -> None:
        now = self._clock()
        for key in [k for k, end in self._ends.items() if end <= now]:
            self._data.pop(key, None)
            self._ends.pop(key, None)

    async def hit(self, key: str, window: int) -> tuple[int, int]:
        self._hits += 1
        if self._hits % self._sweep_every == 0:
            self._sweep()
        count, start = self._get(key, window)
        self._data[key] = (count + 1, start)
        self._ends[key] = start + window
        return count + 1, max(1, int(start + window - self._clock()))

    async def peek(self, key: str, window: int) -> tuple[int, int]:
        count, start = self._get(key, window)
        return count, max(1, int(start + window - self._clock()))

    async def undo(self, key: str) -> None:
        """Take back one :meth:`hit` (the attempt turned out not to count)."""
        count, start = self._data.get(key, (0, 0.0))
        if count > 0:
            self._data[key] = (count - 1, start)

    async def reset(self, key: str) -> None:
        self._data.pop(key, None)
        self._ends.pop(key, None)


class RedisCounter:
    def __init__(self, url: str, prefix: str) -> None:
        import redis.asyncio as redis

        self._r = redis.from_url(url)
        self._prefix = prefix

    def _k(self, key: str) -> str:
        return f"{self._prefix}:throttle:{key}"

    async def hit(self, key: str, window: int) -> tuple[int, int]:
        k = self._k(key)
        async with self._r.pipeline(transaction=True) as p:
            p.incr(k)
            p.expire(k, window, nx=True)
            p.ttl(k)
            count, _, ttl = await p.execute()
        return int(count), max(1, int(ttl))

    async def peek(self, key: str, window: int) -> tuple[int, int]:
        k = self._k(key)
        async with self._r.pipeline(transaction=False) as p:
            p.get(k)
            p.ttl(k)
            count, ttl = await p.execute()
        return int(count or 0), max(1, int(ttl if ttl and ttl > 0 else window))

    # DECR on a missing (expired) key would create it without a TTL: only decrement if present.
    _UNDO = (
        "if redis.call('exists', KEYS[1]) == 1 and tonumber(redis.call('get', KEYS[1])) > 0 "
        "then return redis.call('decr', KEYS[1]) else return 0 end"
    )

    async def undo(self, key: str) -> None:
        await self._r.eval(self._UNDO, 1, self._k(key))

    async def reset(self, key: str) -> None:
        await self._r.delete(self._k(key))


@lru_cache(maxsize=1)
def counter() -> Counter:
    s = get_settings()
    if s.redis_url:
        return RedisCounter(s.redis_url, s.redis_prefix)
    return MemoryCounter()


def _h(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def account_key(email: str) -> str:
    """The account counter's key: ``email`` normalised (``api.auth.emails``) as login matches it."""
    return f"login:acct:{_h(normalize_email(email))}"


def ip_key(ip: str) -> str:
    return f"login:ip:{_h(ip)}"


def signup_key(ip: str) -> str:
    return f"signup:ip:{_h(ip)}"


def resend_key(team_id: str, member_id: str) -> str:
    return f"verify:resend:{_h(team_id + ':' + member_id)}"
