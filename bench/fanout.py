"""Real-time fan-out: end-to-end latency of notifications to many WebSocket clients, against a
bare Redis pub/sub round trip measured in the same run.

    uv run python bench/fanout.py [--clients 1000] [--members 50] [--notifications 200]
                                  [--rate 10] [--warmup 10] [--workers 1]

Set-up: a fresh database, the real API (uvicorn, Redis channels) and the dispatcher worker
(``leadly worker`` with the default 0.5 s poll: the commit wake-ups carry the events to it;
FANOUT_POLL overrides) as child processes; one team with ``--members`` members; ``--clients``
sockets on ``/api/v1/ws`` spread evenly over the members (each member has clients/members
sockets, like several tabs and devices). Then ``--notifications`` leads are created through the
API at ``--rate`` per second (after ``--warmup`` unmeasured ones), each assigned to a member:
the latency of a delivery is from the moment the ``POST /api/v1/leads`` is sent to the moment
one of the member's sockets receives the ``notification.created`` message (request, event
commit, wake-up, dispatcher read, notification insert, Redis publish, WebSocket send), for
every socket. The line "of which POST → 201" is the API's answer time within that.

Baseline: the same number of Redis pub/sub round trips (PUBLISH on one connection, received on
a subscribed one, same payload size), measured in this process before the fan-out. Printed:
p50/p99 of both and their ratio. Target from the issue: end-to-end p99 < 50 ms on loopback.

Database: LEADLY_BENCH_DATABASE_URL (a server where a database can be created; default
postgresql://root@127.0.0.1:5432/postgres if reachable, else an embedded server);
Redis: LEADLY_BENCH_REDIS_URL (default redis://127.0.0.1:6379/0).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import sys
import time

import aiohttp

from bench._common import api_server, bench_database, mail_sink, pct, started
from bench._common import signup as team_signup


async def redis_baseline(url: str, prefix: str, count: int, size: int) -> list[float]:
    """Round trips PUBLISH → message on a subscribed connection (ms)."""
    import redis.asyncio as redis

    pub, sub_client = redis.from_url(url), redis.from_url(url)
    sub = sub_client.pubsub()
    channel = f"{prefix}:baseline"
    await sub.subscribe(channel)
    await sub.get_message(timeout=1)  # the subscribe confirmation
    payload = b"x" * size
    out: list[float] = []
    for _ in range(count + 50):
        t0 = time.perf_counter()
        await pub.publish(channel, payload)
        while True:
            msg = await sub.get_message(ignore_subscribe_messages=True, timeout=5)
            if msg is not None:
                break
        out.append((time.perf_counter() - t0) * 1000)
    await sub.aclose()
    await pub.aclose()
    await sub_client.aclose()
    return out[50:]  # after warm-up


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--clients", type=int, default=1000)
    p.add_argument("--members", type=int, default=50)
    p.add_argument("--notifications", type=int, default=200)
    p.add_argument("--rate", type=float, default=10.0, help="notifications per second")
    p.add_argument("--warmup", type=int, default=10, help="notifications before measuring")
    p.add_argument("--workers", type=int, default=1, help="API worker processes")
    args = p.parse_args()

    redis_url = os.environ.get("LEADLY_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = f"leadly-bench-{secrets.token_hex(3)}"
    env = {
        "LEADLY_REDIS_URL": redis_url,
        "LEADLY_REDIS_PREFIX": prefix,
        "LEADLY_WORKER_POLL_INTERVAL": os.environ.get("FANOUT_POLL", "0.5"),
        "LEADLY_DB_POOL_SIZE": "20",
    }
    worker_log = open(os.environ.get("FANOUT_WORKER_LOG", os.devnull), "wb")  # noqa: SIM115, ASYNC230
    sockets: list[asyncio.Task] = []
    with (
        worker_log,
        bench_database(keep=bool(os.environ.get("FANOUT_KEEP_DB"))) as db,
        mail_sink() as (mail, smtp_env),
        api_server(args.workers, {**env, **smtp_env}) as base,
        started([sys.executable, "-m", "leadly.launcher.cli", "worker"], env, stderr=worker_log),
    ):
        dbname = db.name
        baseline = await redis_baseline(redis_url, prefix, args.notifications * 5, 700)
        conn = aiohttp.TCPConnector(limit=200)
        async with aiohttp.ClientSession(base, connector=conn) as http:
            signup = await team_signup(http, "Fanout", "Owner", f"owner-{dbname}@bench.io")
            owner = {"Authorization": f"Bearer {signup['token']}"}

            async def member(i: int) -> tuple[str, str]:
                async with http.post(
                    "/api/v1/invitations",
                    json={"email": f"m{i}-{dbname}@bench.io", "role": "user"},
                    headers=owner,
                ) as r:
                    assert r.status == 201, await r.text()
                token = mail.token(f"m{i}-{dbname}@bench.io", "ldi_")
                async with http.post(
                    f"/api/v1/invitations/{token}/accept",
                    json={"name": f"Member {i}", "password": "bench-password-1"},
                ) as r:
                    body = await r.json()
                    assert r.status == 201, body
                return body["member"]["id"], body["token"]

            members: list[tuple[str, str]] = []
            for start in range(0, args.members, 10):
                members += await asyncio.gather(
                    *(member(i) for i in range(start, min(args.members, start + 10)))
                )
            print(f"{len(members)} members; opening {args.clients} sockets …", flush=True)

            sent: dict[str, float] = {}
            latencies: list[float] = []
            answered: list[float] = []  # POST → 201, for the break-down
            ready = 0
            opened = asyncio.Event()
            from websockets.asyncio.client import connect

            async def client(token: str) -> None:
                nonlocal ready
                async with connect(
                    base.replace("http://", "ws://") + "/api/v1/ws",
                    additional_headers={"Authorization": f"Bearer {token}"},
                    open_timeout=60,
                    ping_interval=None,
                    max_queue=None,
                ) as ws:
                    await ws.recv()  # unread_count
                    ready += 1
                    if ready == args.clients:
                        opened.set()
                    async for raw in ws:
                        now = time.perf_counter()
                        msg = json.loads(raw)
                        if os.environ.get("FANOUT_DEBUG"):
                            print(id(ws) % 1000, msg["type"], flush=True)
                        if msg["type"] == "notification.created":
                            tag = msg["data"]["metadata"]["lead_name"].split()[0]
                            t0 = sent.get(tag)
                            if t0 is not None and tag.startswith("N0"):  # not warm-up
                                latencies.append((now - t0) * 1000)

            for i in range(args.clients):
                sockets.append(asyncio.create_task(client(members[i % len(members)][1])))
                if i % 50 == 49:
                    await asyncio.sleep(0.05)
            await asyncio.wait_for(opened.wait(), 300)
            print(
                f"{args.clients} sockets open; creating {args.notifications} notifications",
                flush=True,
            )

            per_member = [
                args.clients // len(members) + (1 if i < args.clients % len(members) else 0)
                for i in range(len(members))
            ]
            expected = 0
            interval = 1.0 / args.rate
            posts: list[asyncio.Task] = []

            async def create(i: int) -> None:
                tag = f"N{i:07d}"
                member_id = members[i % len(members)][0]
                sent[tag] = time.perf_counter()
                async with http.post(
                    "/api/v1/leads",
                    json={"first_name": tag, "last_name": "Lead", "owner_id": member_id},
                    headers=owner,
                ) as r:
                    assert r.status == 201, await r.text()
                if not tag.startswith("N1"):  # not warm-up
                    answered.append((time.perf_counter() - sent[tag]) * 1000)

            # Warm-up (first connections, the worker's broker start): not measured.
            for i in range(args.warmup):
                await create(1_000_000 + i)
                await asyncio.sleep(interval)
            await asyncio.sleep(1.0)
            latencies.clear()

            t_start = time.perf_counter()
            for i in range(args.notifications):
                posts.append(asyncio.create_task(create(i)))
                expected += per_member[i % len(members)]
                await asyncio.sleep(max(0.0, t_start + (i + 1) * interval - time.perf_counter()))
            await asyncio.gather(*posts)
            deadline = time.perf_counter() + 60
            while len(latencies) < expected and time.perf_counter() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        for t in sockets:
            t.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*sockets, return_exceptions=True)

    print(
        f"\nfan-out: {args.clients} sockets over {args.members} members, "
        f"{args.notifications} notifications at {args.rate:g}/s, API workers={args.workers}"
    )
    print(f"deliveries received: {len(latencies)} of {expected}")
    e50, e99 = pct(latencies, 50), pct(latencies, 99)
    b50, b99 = pct(baseline, 50), pct(baseline, 99)
    print(f"{'path':<28} {'p50 ms':>8} {'p99 ms':>8}")
    print(f"{'end to end (API → socket)':<28} {e50:>8.2f} {e99:>8.2f}")
    print(f"{'· of which POST → 201':<28} {pct(answered, 50):>8.2f} {pct(answered, 99):>8.2f}")
    print(f"{'bare Redis pub/sub':<28} {b50:>8.2f} {b99:>8.2f}")
    print(f"ratio end-to-end / Redis: p50 {e50 / b50:.1f}x, p99 {e99 / b99:.1f}x")
    print(f"end-to-end p99 = {e99:.1f} ms (target < 50 ms: {'ok' if e99 < 50 else 'ABOVE TARGET'})")


if __name__ == "__main__":
    asyncio.run(main())
