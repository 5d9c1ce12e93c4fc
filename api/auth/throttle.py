"""Fixed-window counters for the login throttle: Redis when configured, else process memory.

A login attempt *reserves* its slot with an atomic :meth:`Counter.hit` before the password is
checked, so parallel guesses cannot all slip past a read-then-increment check; a successful
attempt gives its slot back (:meth:`Counter.undo`) or clears the account counter.
"""

from __future__ import annotations

import hashlib
import time
from functools import lru_cache
from typing import Protocol

from leadly.settings import get_settings


class Counter(Protocol):
    async def hit(self, key: str, window: int) -> tuple[int, int]: ...
    async def peek(self, key: str, window: int) -> tuple[int, int]: ...
    async def undo(self, key: str) -> None: ...
    async def reset(self, key: str) -> None: ...


class MemoryCounter:
    def __init__(self) -> None:
        self._data: dict[str, tuple[int, float]] = {}

    def _get(self, key: str, window: int) -> tuple[int, float]:
        count, start = self._data.get(key, (0, 0.0))
        now = time.monotonic()
        if now - start >= window:
            count, start = 0, now
        return count, start

    async def hit(self, key: str, window: int) -> tuple[int, int]:
        count, start = self._get(key, window)
        self._data[key] = (count + 1, start)
        return count + 1, max(1, int(start + window - time.monotonic()))

    async def peek(self, key: str, window: int) -> tuple[int, int]:
        count, start = self._get(key, window)
        return count, max(1, int(start + window - time.monotonic()))

    async def undo(self, key: str) -> None:
        """Take back one :meth:`hit` (the attempt turned out not to count)."""
        count, start = self._data.get(key, (0, 0.0))
        if count > 0:
            self._data[key] = (count - 1, start)

    async def reset(self, key: str) -> None:
        self._data.pop(key, None)


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
    return hashlib.sha256(value.lower().encode()).hexdigest()[:32]


def account_key(email: str) -> str:
    return f"login:acct:{_h(email)}"


def ip_key(ip: str) -> str:
    return f"login:ip:{_h(ip)}"
