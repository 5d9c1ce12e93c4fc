"""Webhook delivery: throughput and commit-to-delivery latency of the dispatcher's ``webhooks``
consumer, against a bare ``httpx`` POST loop of the same payloads measured in the same run.

    uv run python bench/webhooks.py [--events 10000] [--endpoints 5] [--latency-events 300]
                                    [--rate 30]

Set-up: a fresh database, the API (to sign up a team and register ``--endpoints`` endpoints
on a loopback aiohttp receiver in this process) and the dispatcher worker running only the
``webhooks`` consumer, as child processes.

1. Throughput: ``--events`` lead events are committed at once (500 per transaction); measured
   from the first commit to the last of the events × endpoints deliveries received (signed,
   queued, sent concurrently by the consumer's tick).
   Baseline: the same number of POSTs of the same payloads with one ``httpx.AsyncClient`` in a
   sequential loop. Printed: both rates and their ratio (target ≥ 0.5×).
2. Latency: ``--latency-events`` events committed one by one at ``--rate`` per second; the
   latency of a delivery is from the commit to its receipt (p50/p99; target p99 < 250 ms).
   Baseline: a single POST's round trip (p50/p99) from the loop above.

Database: LEADLY_BENCH_DATABASE_URL (default postgresql://root@127.0.0.1:5432/postgres if
reachable, else an embedded server).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import time

import aiohttp
from aiohttp import web

from bench._common import api_server, bench_database, free_port, pct, started
from bench._common import signup as team_signup

WORKER = (
    "import asyncio, logging\n"
    "logging.basicConfig(level=logging.WARNING)\n"
    "from api.dispatcher import worker\n"
    "from api.webhooks.delivery import webhooks_consumer\n"
    "asyncio.run(worker.run(consumers=[webhooks_consumer]))\n"
)


class Receiver:
    def __init__(self) -> None:
        self.received: dict[str, list[float]] = {}
        self.count = 0
        self.done = asyncio.Event()
        self.expect = 0
        self.sample = b""

    async def handle(self, request: web.Request) -> web.Response:
        self.sample = await request.read()
        self.received.setdefault(request.headers.get("webhook-id", ""), []).append(time.time())
        self.count += 1
        if self.expect and self.count >= self.expect:
            self.done.set()
        return web.Response(text="ok")

    def reset(self, expect: int) -> None:
        self.received.clear()
        self.count = 0
        self.expect = expect
        self.done = asyncio.Event()


async def commit_events(team_id: str, n: int, per_tx: int) -> dict[str, float]:
    """``n`` lead.created events, ``per_tx`` per transaction; the commit time of each (by
    envelope id)."""
    from leadly.ids import new_id
    from warehouse import events
    from warehouse.db import api_engine, tenant_tx

    out: dict[str, float] = {}
    for start in range(0, n, per_tx):
        async with tenant_tx(api_engine(), team_id) as conn:
            records = []
            for i in range(start, min(n, start + per_tx)):
                lid = new_id("lead")
                records.append(
                    events.EventRecord(
                        team_id, "system", None, "lead", lid, "created",
                        events.diff(None, {"id": lid, "first_name": f"Bench {i}"}),
                    )
                )  # fmt: skip
            await events.append(conn, *records)
            from sqlalchemy import text

            ids = (
                await conn.execute(
                    text("SELECT max(id) FROM app.events WHERE team_id = :t"), {"t": team_id}
                )
            ).scalar_one()
        now = time.time()
        first = ids - len(records) + 1
        for k in range(len(records)):
            out[f"evt_{first + k}"] = now
    return out


async def consumer_started() -> None:
    from sqlalchemy import text

    from warehouse.db import engine

    for _ in range(600):
        async with engine("worker").connect() as conn:
            q = "SELECT count(*) FROM app.consumer_cursors WHERE consumer = 'webhooks'"
            if (await conn.execute(text(q))).scalar_one():
                return
        await asyncio.sleep(0.1)
    raise RuntimeError("the webhooks consumer did not start within 60 s")


async def baseline(url: str, payloads: list[bytes]) -> tuple[float, list[float]]:
    import httpx

    lat: list[float] = []
    async with httpx.AsyncClient() as client:
        t0 = time.perf_counter()
        for body in payloads:
            s = time.perf_counter()
            r = await client.post(url, content=body, headers={"content-type": "application/json"})
            r.raise_for_status()
            lat.append((time.perf_counter() - s) * 1000)
        took = time.perf_counter() - t0
    return len(payloads) / took, lat


async def measure(
    args: argparse.Namespace, receiver: Receiver, team_id: str, env: dict[str, str]
) -> tuple[float, list[float], int]:
    """Phase 1 (throughput) and 2 (latency) with the worker running."""
    with started([sys.executable, "-c", WORKER], env):
        await consumer_started()  # its cursor starts "now": only later events are sent
        # ---- throughput
        total = args.events * args.endpoints
        receiver.reset(total)
        t0 = time.time()
        commits = await commit_events(team_id, args.events, 500)
        print(f"{len(commits)} events committed", flush=True)
        await asyncio.wait_for(receiver.done.wait(), 900)
        took = max(max(v) for v in receiver.received.values()) - t0
        rate = total / took
        dupes = sum(len(v) for v in receiver.received.values()) - total
        print(
            f"throughput: {total} deliveries ({args.events} events x {args.endpoints} "
            f"endpoints) in {took:.1f}s = {rate:.0f}/s (duplicates: {dupes})",
            flush=True,
        )
        # ---- latency
        receiver.reset(args.latency_events * args.endpoints)
        commits = {}
        for _ in range(args.latency_events):
            commits |= await commit_events(team_id, 1, 1)
            await asyncio.sleep(1 / args.rate)
        await asyncio.wait_for(receiver.done.wait(), 300)
        lat = [(t - commits[eid]) * 1000 for eid, ts in receiver.received.items() for t in ts]
    return rate, lat, total


async def main(args: argparse.Namespace) -> None:
    import os

    os.environ["LEADLY_ALLOW_PRIVATE_TARGETS"] = "true"
    receiver = Receiver()
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    base = f"http://127.0.0.1:{port}"
    with bench_database("leadly_bench_webhooks") as db, api_server() as api:
        env = {"LEADLY_DATABASE_URL": db.url, "LEADLY_ALLOW_PRIVATE_TARGETS": "true"}
        async with aiohttp.ClientSession(base_url=api) as http:
            tag = secrets.token_hex(3)
            team = await team_signup(http, f"Bench {tag}", "Bench", f"bench-{tag}@example.com")
            headers = {"Authorization": f"Bearer {team['token']}"}
            for i in range(args.endpoints):
                body = {"url": f"{base}/hook/{i}", "events": ["lead.*"]}
                async with http.post("/api/v1/webhooks", json=body, headers=headers) as r:
                    assert r.status == 201, await r.text()
        team_id = team["team"]["id"]
        from api.dispatcher import wake

        # Commits here wake the worker, as the API's do.
        async with wake.publishing():
            rate, lat, total = await measure(args, receiver, team_id, env)
    bl_rate, bl_lat = await baseline(f"{base}/hook/0", [receiver.sample] * total)
    await runner.cleanup()
    print(f"baseline httpx loop: {total} POSTs = {bl_rate:.0f}/s")
    print(f"throughput ratio (webhooks / bare loop): {rate / bl_rate:.2f}x (target >= 0.5x)")
    print(
        f"commit-to-delivery: p50 {pct(lat, 50):.1f} ms, p99 {pct(lat, 99):.1f} ms "
        f"(target p99 < 250 ms); bare POST round trip p50 {pct(bl_lat, 50):.2f} ms, "
        f"p99 {pct(bl_lat, 99):.2f} ms; ratio p99 {pct(lat, 99) / pct(bl_lat, 99):.0f}x"
    )


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--events", type=int, default=10_000)
    p.add_argument("--endpoints", type=int, default=5)
    p.add_argument("--latency-events", type=int, default=300)
    p.add_argument("--rate", type=float, default=30.0)
    asyncio.run(main(p.parse_args()))
