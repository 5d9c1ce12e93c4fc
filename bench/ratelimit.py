"""What rate limiting and the request log cost per request, against baselines of the same run.

    uv run python bench/ratelimit.py [--requests 2000] [--clients 16]

1. The limiter alone, in process: ``RateLimiter.check`` (a burst and an hourly window, the
   ``limits`` library) against the bare counter it needs (one Redis INCR with its EXPIRE in a
   pipeline; without LEADLY_REDIS_URL, a dict increment) — the ratio is the library's cost.
2. Through the real HTTP server: ``GET /api/v1/me`` with an API key (rate-limited *and* logged
   to ``app.api_requests``) and with an OAuth token, against the same call with a session
   (rate-limited, not logged): the ratio is what the request log and the OAuth look-up cost.

Database: LEADLY_BENCH_DATABASE_URL (see bench/_common.py); Redis: LEADLY_REDIS_URL if set.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import secrets
import time
from collections.abc import Awaitable, Callable

import aiohttp

from bench._common import api_server, bench_database, pct, signup


async def measure(
    op: Callable[[int], Awaitable[None]], total: int, clients: int
) -> tuple[float, float]:
    latencies: list[float] = []
    counter = iter(range(total))

    async def worker() -> None:
        for i in counter:
            t0 = time.perf_counter()
            await op(i)
            latencies.append((time.perf_counter() - t0) * 1000)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return total / (time.perf_counter() - start), pct(latencies, 99)


async def limiter_alone(total: int, clients: int) -> None:
    from api.oauth.ratelimit import RateLimiter, quota
    from leadly.settings import get_settings

    s = get_settings()
    limiter = RateLimiter(s)
    q = quota(None, "203.0.113.9", s)

    async def check(i: int) -> None:
        await limiter.check(q)

    if s.redis_url:
        import redis.asyncio as redis

        r = redis.from_url(s.redis_url)

        async def bare(i: int) -> None:
            async with r.pipeline(transaction=True) as p:
                p.incr("bench:ratelimit:bare")
                p.expire("bench:ratelimit:bare", 3600, nx=True)
                await p.execute()
    else:
        counts: dict[str, int] = {}

        async def bare(i: int) -> None:
            counts["k"] = counts.get("k", 0) + 1

    base, base_p99 = await measure(bare, total, clients)
    ours, p99 = await measure(check, total, clients)
    where = "Redis" if s.redis_url else "memory"
    print(f"limiter ({where}): {ours:,.0f}/s p99 {p99:.2f} ms; bare counter {base:,.0f}/s "
          f"p99 {base_p99:.2f} ms; ratio {ours / base:.2f}")  # fmt: skip


async def through_http(base: str, total: int, clients: int) -> None:
    async with aiohttp.ClientSession(base) as http:
        team = await signup(http, "Bench", "Owner", f"rl-{secrets.token_hex(4)}@bench.io")
        session = {"Authorization": f"Bearer {team['token']}"}
        body = {"name": "bench", "scopes": ["*"], "rate_limit_per_hour": 1_000_000}
        async with http.post("/api/v1/api-keys", json=body, headers=session) as r:
            key = {"Authorization": f"Bearer {(await r.json())['key']}"}
        body = {"name": "bench", "redirect_uris": ["https://b.example/cb"], "scopes": ["*"]}
        async with http.post("/api/v1/oauth/clients", json=body, headers=session) as r:
            client = await r.json()
        pair = f"{client['client_id']}:{client['client_secret']}".encode()
        basic = {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        form = {"grant_type": "client_credentials"}
        async with http.post("/api/v1/oauth/token", data=form, headers=basic) as r:
            oauth = {"Authorization": f"Bearer {(await r.json())['access_token']}"}

        def get(headers: dict[str, str]) -> Callable[[int], Awaitable[None]]:
            async def op(i: int) -> None:
                async with http.get("/api/v1/me", headers=headers) as r:
                    assert r.status == 200, await r.text()
                    await r.read()

            return op

        results = {}
        for name, headers in (("session", session), ("api key", key), ("oauth", oauth)):
            await measure(get(headers), min(200, total), clients)  # warm up
            results[name] = await measure(get(headers), total, clients)
        s_rate, s_p99 = results["session"]
        for name in ("api key", "oauth"):
            rate, p99 = results[name]
            print(f"GET /me with {name}: {rate:,.0f}/s p99 {p99:.1f} ms; with a session "
                  f"{s_rate:,.0f}/s p99 {s_p99:.1f} ms; ratio {rate / s_rate:.2f}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=16)
    args = ap.parse_args()
    with bench_database("bench_ratelimit"):
        asyncio.run(limiter_alone(args.requests, args.clients))
        with api_server(env=dict(os.environ)) as base:
            asyncio.run(through_http(base, args.requests, args.clients))


if __name__ == "__main__":
    main()
