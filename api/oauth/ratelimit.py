"""Rate limits per API key, per OAuth client, per signed-in member and per address, counted
with the ``limits`` library in Redis (``LEADLY_REDIS_URL``: every API process shares the
counts) or in process memory; and the request log of API keys and OAuth clients.

A plain ASGI middleware (no framework) inside the bearer authentication (so it knows the caller): each request
hits a burst window (``rate_limit_burst_per_second``) and an hourly one, and every answer
carries ``RateLimit-Limit``, ``RateLimit-Remaining`` and ``RateLimit-Reset`` (seconds, integers)
of the hourly window (of the burst window when that is the one exceeded). Past a limit: 429,
``Retry-After`` and a problem document, and nothing else runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter

from api.oauth import usage
from leadly.problem import Problem
from leadly.settings import Settings, get_settings

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"
HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Retry-After")


@dataclass(frozen=True)
class Quota:
    key: str
    hourly: RateLimitItem
    burst: RateLimitItem


def quota(actor: Any, address: str, s: Settings) -> Quota:
    """Whose count a request adds to, and their limits."""
    kind = getattr(actor, "actor_type", None)
    if kind == "api_key":
        key, per_hour = f"key:{actor.credential_id}", actor.rate_limit or 1000
    elif kind == usage.OAUTH_ACTOR:
        key, per_hour = f"oauth:{actor.credential_id}", s.rate_limit_oauth_client_per_hour
    elif kind == "member":
        key, per_hour = f"member:{actor.member_id}", s.rate_limit_session_per_hour
    else:
        key, per_hour = f"addr:{address}", s.rate_limit_anonymous_per_hour
    burst = RateLimitItemPerSecond(s.rate_limit_burst_per_second, s.rate_limit_burst_window_seconds)
    return Quota(key, RateLimitItemPerHour(per_hour), burst)


def storage(s: Settings) -> Storage:
    if s.redis_url:
        return RedisStorage(
            "async+" + s.redis_url,
            implementation="redispy",
            key_prefix=f"{s.redis_prefix}:ratelimit",
        )
    return MemoryStorage()


class RateLimiter:
    def __init__(self, s: Settings | None = None) -> None:
        self.settings = s or get_settings()
        self.limiter = FixedWindowRateLimiter(storage(self.settings))

    async def check(self, q: Quota) -> tuple[bool, dict[str, str]]:
        """Count one request; whether it may go on, and the headers of its answer."""
        now = time.time()
        if not await self.limiter.hit(q.burst, q.key):
            stats = await self.limiter.get_window_stats(q.burst, q.key)
            return False, _headers(q.burst, 0, stats.reset_time - now, refused=True)
        ok = await self.limiter.hit(q.hourly, q.key)
        stats = await self.limiter.get_window_stats(q.hourly, q.key)
        remaining = stats.remaining if ok else 0
        return ok, _headers(q.hourly, remaining, stats.reset_time - now, refused=not ok)


def _headers(item: RateLimitItem, remaining: int, reset: float, *, refused: bool) -> dict[str, str]:
    seconds = min(item.get_expiry(), max(1, math.ceil(reset)))  # whole seconds, within the window
    h = {
        "RateLimit-Limit": str(item.amount),
        "RateLimit-Remaining": str(max(0, remaining)),
        "RateLimit-Reset": str(seconds),
    }
    if refused:
        h["Retry-After"] = str(seconds)
    return h


def _address(scope: dict[str, Any]) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


_COUNTED = "leadly.ratelimit.counted"


class RateLimits:
    """One API instance's limiter and its two hooks:

    * :meth:`middleware` (inside the bearer authentication, so it knows the caller): counts each
      request that reaches a route, refuses it past the limit, adds the headers, logs the
      requests of keys and OAuth clients;
    * :meth:`before_send` (a Litestar ``before_send`` hook, which sees every answer): an answer
      given before the middleware ran (a refused credential, an unknown path) is counted per
      client address, gets the headers too, and becomes the 429 past that limit.
    """

    def __init__(self, s: Settings | None = None) -> None:
        self.limiter = RateLimiter(s)

    def middleware(self, app: Any) -> Any:
        limiter = self.limiter

        async def middleware(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            scope.setdefault("state", {})[_COUNTED] = True
            actor = scope.get("user")
            ok, headers = await limiter.check(quota(actor, _address(scope), limiter.settings))
            if not ok:
                await _too_many(send, scope, headers)
                return
            started = time.perf_counter()
            status = 500

            async def send_with_headers(message: dict[str, Any]) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    message["headers"] = [*message.get("headers", []), *_encoded(headers)]
                await send(message)

            try:
                await app(scope, receive, send_with_headers)
            finally:
                if usage.logged(actor):
                    ms = round((time.perf_counter() - started) * 1000)
                    endpoint = scope.get("path_template") or scope["path"]
                    with contextlib.suppress(Exception):  # a log row never fails the request
                        await asyncio.shield(
                            usage.record(actor, scope["method"], endpoint, status, ms)
                        )

        return middleware

    async def before_send(self, message: dict[str, Any], scope: dict[str, Any]) -> None:
        if scope.get("type") != "http" or scope.get("state", {}).get(_COUNTED):
            return
        if message["type"] == "http.response.start":
            q = quota(None, _address(scope), self.limiter.settings)
            ok, headers = await self.limiter.check(q)
            if not ok:  # this answer becomes the 429
                body = _problem_body(scope, headers)
                message["status"] = 429
                message["headers"] = [
                    (b"content-type", PROBLEM.encode()),
                    (b"content-length", str(len(body)).encode()),
                    *_encoded(headers),
                ]
                scope.setdefault("state", {})["leadly.ratelimit.body"] = body
                return
            message["headers"] = [*message.get("headers", []), *_encoded(headers)]
        elif message["type"] == "http.response.body":
            state = scope.get("state", {})
            if "leadly.ratelimit.body" in state:
                message["body"] = state.pop("leadly.ratelimit.body")
                state["leadly.ratelimit.dropping"] = True
            elif state.get("leadly.ratelimit.dropping"):
                message["body"] = b""


def _encoded(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode(), v.encode()) for k, v in headers.items()]


def _problem_body(scope: dict[str, Any], headers: dict[str, str]) -> bytes:
    retry = int(headers["Retry-After"])
    problem = Problem(
        429,
        f"Rate limit exceeded; try again in {retry} seconds.",
        title="Too Many Requests",
        retry_after=retry,
    )
    return json.dumps(problem.to_dict(scope.get("path"))).encode()


async def _too_many(send: Any, scope: dict[str, Any], headers: dict[str, str]) -> None:
    body = _problem_body(scope, headers)
    start = [(b"content-type", PROBLEM.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 429, "headers": start + _encoded(headers)})
    await send({"type": "http.response.body", "body": body})
