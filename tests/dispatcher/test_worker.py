"""The dispatcher loop in-process: ordering, visibility, retries with backoff, dead letters."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime, timedelta

import psycopg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.dispatcher import worker
from api.dispatcher.registry import DispatchedEvent
from api.dispatcher.worker import RetryPolicy
from leadly import clock
from leadly.settings import Settings
from tests.conftest import Team
from tests.dispatcher.conftest import (
    FAST,
    OBJECT_TYPE,
    Recorder,
    append_events,
    clock_moved,
    cursor_of,
    failures_of,
    runners,
    running,
    team_consumer,
    unique,
)
from tests.plugin import eventually
from warehouse import events
from warehouse.db import api_engine, libpq_url, set_tenant


async def test_every_consumer_gets_every_event_in_order(
    team: Team, worker_engine: AsyncEngine
) -> None:
    pos = await append_events(team.team_id, 120, per_tx=7)
    ids = [i for _, i in pos]
    first, second = Recorder(), Recorder()
    a, b = team_consumer(team.team_id, first), team_consumer(team.team_id, second)
    async with running([a, b], worker_engine, batch_size=25) as task:
        await eventually(
            lambda: len(first.delivered) >= 120 and len(second.delivered) >= 120,
            task=task,
            what="deliveries",
        )
    # (txid, id) order, each event exactly once, and each cursor committed past the last one.
    assert first.delivered == ids
    assert second.delivered == ids
    for c in (a, b):
        assert (await cursor_of(worker_engine, c.name)) >= pos[-1]
        assert await failures_of(worker_engine, c.name) == []


async def test_an_event_that_commits_late_is_not_skipped(
    team: Team, worker_engine: AsyncEngine
) -> None:
    [(_, marker)] = await append_events(team.team_id, 1)
    rec = Recorder()
    tag = unique("late")
    c = team_consumer(team.team_id, rec)
    async with runners(c, engine=worker_engine, poll_interval=0.05) as [(runner, task)]:
        await eventually(lambda: rec.delivered == [marker], task=task, what="marker")
        async with api_engine().connect() as slow:
            tx = await slow.begin()
            await set_tenant(slow, team.team_id)
            await events.append(
                slow,
                events.EventRecord(
                    team.team_id,
                    "system",
                    None,
                    OBJECT_TYPE,
                    "early",
                    "created",
                    {},
                    data={"tag": tag},
                ),
            )
            early = (
                await slow.execute(
                    text("SELECT id FROM app.events WHERE object_type = :o AND data->>'tag' = :t"),
                    {"o": OBJECT_TYPE, "t": tag},
                )
            ).scalar_one()
            # A later transaction commits first: its events wait for the open one.
            later = [i for _, i in await append_events(team.team_id, 3)]
            reads = runner.reads
            await eventually(lambda: runner.reads >= reads + 2, task=task, what="two more reads")
            assert rec.delivered == [marker]
            await tx.commit()
        await eventually(lambda: len(rec.delivered) == 5, task=task, what="late events")
    assert rec.delivered == [marker, early, *later]


async def test_a_poison_event_is_retried_with_backoff_then_dead_without_blocking(
    team: Team, worker_engine: AsyncEngine
) -> None:
    """Retries fall due by :func:`leadly.clock.now`: the test moves the clock past each backoff
    (60 s doubling) instead of waiting for it."""
    pos = await append_events(team.team_id, 10)
    ids = [i for _, i in pos]
    poison = ids[2]
    rec = Recorder(fail=lambda e, _n: e.id == poison)
    c = team_consumer(team.team_id, rec)
    policy = RetryPolicy(max_attempts=3, base=60.0, cap=600.0)

    async def failure(attempts: int) -> dict | None:
        fs = await failures_of(worker_engine, c.name)
        return fs[0] if fs and fs[0]["attempts"] == attempts else None

    def after(seconds: float) -> datetime:
        return clock.now() + timedelta(seconds=seconds)

    async with runners(c, engine=worker_engine, policy=policy, poll_interval=0.05) as [(r, task)]:
        earliest = after(30)
        first = await eventually(lambda: failure(1), task=task, what="first failure")
        # Due in 30-60 s (d = base): the events behind it are delivered, it is not retried.
        assert earliest <= first["next_attempt_at"] <= after(60)
        behind = [i for i in ids if i != poison]
        await eventually(lambda: rec.delivered == behind, task=task, what="the events behind")
        reads = r.reads
        await eventually(lambda: r.reads >= reads + 2, task=task, what="two more steps")
        assert rec.attempts[poison] == 1 and first["status"] == "retrying"
        with clock_moved(timedelta(seconds=60)):
            earliest = after(60)
            second = await eventually(lambda: failure(2), task=task, what="second attempt")
            # Due in 60-120 s (d = 2 * base).
            assert earliest <= second["next_attempt_at"] <= after(120)
            with clock_moved(timedelta(seconds=120)):
                dead = await eventually(lambda: failure(3), task=task, what="dead letter")
                # A dead letter is not retried any more, however late it gets.
                with clock_moved(timedelta(days=1)):
                    reads = r.reads
                    await eventually(lambda: r.reads >= reads + 2, task=task, what="two steps")
    assert rec.attempts[poison] == 3
    assert rec.delivered == behind
    assert dead["status"] == "dead" and dead["next_attempt_at"] is None
    assert dead["event_id"] == poison and dead["team_id"] == team.team_id
    assert dead["last_error"].startswith(f"ValueError: boom on event {poison} (attempt 3)")
    assert (await cursor_of(worker_engine, c.name)) >= pos[-1]
    # Visible to the team's admins as a dead letter.
    r = await team.get("/api/v1/dispatcher/failures", params={"status": "dead"})
    assert r.status_code == 200, r.text
    assert [f["id"] for f in r.json()["data"]] == [dead["id"]]
    r = await team.get("/api/v1/dispatcher/failures", params={"status": "retrying"})
    assert r.json()["data"] == []


async def test_a_transient_failure_is_resolved_by_a_retry(
    team: Team, worker_engine: AsyncEngine
) -> None:
    ids = [i for _, i in await append_events(team.team_id, 4)]
    target = ids[1]
    rec = Recorder(fail=lambda e, n: e.id == target and n <= 2)
    c = team_consumer(team.team_id, rec)

    async def resolved() -> list[dict] | None:
        fs = await failures_of(worker_engine, c.name)
        return fs if fs and fs[0]["status"] == "resolved" else None

    async with running([c], worker_engine, policy=RetryPolicy(5, base=0.05, cap=0.1)) as task:
        [failure] = await eventually(resolved, task=task, what="resolution")
    assert rec.attempts[target] == 3
    assert sorted(rec.delivered) == ids
    assert failure["attempts"] == 3 and failure["next_attempt_at"] is None
    assert "attempt 2" in failure["last_error"]


async def test_a_handler_that_hangs_times_out_and_is_retried(
    team: Team, worker_engine: AsyncEngine
) -> None:
    [(_, only)] = await append_events(team.team_id, 1)
    calls: list[int] = []

    async def handler(event: object) -> None:
        calls.append(1)
        if len(calls) == 1:
            await asyncio.sleep(30)

    c = team_consumer(team.team_id, handler, timeout=0.1)

    async def resolved() -> list[dict] | None:
        fs = await failures_of(worker_engine, c.name)
        return fs if fs and fs[0]["status"] == "resolved" else None

    async with running([c], worker_engine, policy=RetryPolicy(3, base=0.05, cap=0.1)) as task:
        [failure] = await eventually(resolved, task=task, what="resolution", within=25)
    assert failure["event_id"] == only and len(calls) == 2
    assert failure["last_error"].startswith("TimeoutError")


async def test_a_consumer_starting_now_skips_history(
    team: Team, worker_engine: AsyncEngine
) -> None:
    before = await append_events(team.team_id, 3)

    async def visible() -> bool:  # a transaction left open anywhere on the server delays this
        async with worker_engine.connect() as conn:
            return await events.visible_head(conn) >= before[-1]

    await eventually(visible, what="history to be visible")
    rec = Recorder()
    c = team_consumer(team.team_id, rec, start_from="now")
    async with running([c], worker_engine) as task:
        await eventually(lambda: cursor_of(worker_engine, c.name), task=task, what="cursor")
        new = [i for _, i in await append_events(team.team_id, 3)]
        await eventually(lambda: len(rec.delivered) >= 3, task=task, what="new events")
    assert rec.delivered == new


async def test_a_consumer_is_active_in_one_worker_at_a_time(
    team: Team, worker_engine: AsyncEngine
) -> None:
    name = unique()
    one, two = Recorder(), Recorder()
    first = [i for _, i in await append_events(team.team_id, 20)]
    stop_one = asyncio.Event()
    task_one = asyncio.create_task(
        worker.run(
            stop_one,
            consumers=[team_consumer(team.team_id, one, name=name)],
            engine=worker_engine,
            policy=FAST,
            poll_interval=0.05,
        )
    )
    try:
        await eventually(lambda: len(one.delivered) == 20, task=task_one, what="first worker")
        async with running([team_consumer(team.team_id, two, name=name)], worker_engine) as t2:
            more = [i for _, i in await append_events(team.team_id, 10)]
            await eventually(lambda: len(one.delivered) == 30, task=task_one, what="more")
            assert two.delivered == []  # standing by
            stop_one.set()
            await asyncio.wait_for(task_one, 10)
            last = [i for _, i in await append_events(team.team_id, 10)]
            await eventually(lambda: len(two.delivered) == 10, task=t2, what="take-over")
    finally:
        stop_one.set()
        await asyncio.wait_for(task_one, 10)
    assert one.delivered == first + more
    assert two.delivered == last


async def test_a_commit_wakes_the_worker_long_before_its_poll_interval(
    team: Team, worker_engine: AsyncEngine
) -> None:
    """Appending events publishes a wake-up after the commit, through the broker: a worker that
    polls once an hour delivers them."""
    [(_, marker)] = await append_events(team.team_id, 1)
    rec = Recorder()
    async with running([team_consumer(team.team_id, rec)], worker_engine, poll_interval=3600) as t:
        await eventually(lambda: rec.delivered == [marker], task=t, what="marker")
        for _ in range(5):
            [(_, new)] = await append_events(team.team_id, 1)
            await eventually(lambda new=new: new in rec.delivered, task=t, what="wake")


async def test_a_lingering_consumer_waits_after_a_wake_up_and_takes_the_burst_together(
    team: Team, worker_engine: AsyncEngine
) -> None:
    """A woken consumer with ``linger`` reads that long after the wake-up (as
    :func:`leadly.clock.now` counts it: here a clock that stands still until the test moves
    it), so the events of a burst arrive in one read; one with ``linger=0`` reads at once."""
    [(_, marker)] = await append_events(team.team_id, 1)
    eager, lazy = Recorder(), Recorder()
    consumers = [
        team_consumer(team.team_id, eager, linger=0),
        team_consumer(team.team_id, lazy, linger=10),
    ]
    with clock.frozen(clock.now()):
        async with runners(*consumers, engine=worker_engine) as [(e_run, e_task), (l_run, l_task)]:
            for rec, task in ((eager, e_task), (lazy, l_task)):
                await eventually(lambda rec=rec: rec.idle_after(marker), task=task, what="idle")
            burst = []
            for _ in range(3):  # each commit wakes both, as the broker would
                burst += [i for _, i in await append_events(team.team_id, 1)]
                e_run.wake.set()
                l_run.wake.set()
            await eventually(lambda: eager.delivered[1:] == burst, task=e_task, what="eager")
            # The lazy one lingers 10 s after the first wake-up: it has not read since.
            assert lazy.delivered == [marker] and l_run.reads == lazy.read[marker] + 1
            with clock_moved(timedelta(seconds=11)):
                await eventually(lambda: lazy.delivered[1:] == burst, task=l_task, what="burst")
    # The burst came in one read.
    assert {lazy.read[i] for i in burst} == {lazy.read[marker] + 2}


async def test_a_clock_moved_back_does_not_lengthen_a_linger(
    team: Team, worker_engine: AsyncEngine
) -> None:
    """A consumer that starts lingering while a test has moved the clock an hour on, and sees it
    moved back, lingers its own seconds of clock time, not the hour too (the notification
    deliverer once stalled for the rest of an hour after a digest test)."""
    [(_, marker)] = await append_events(team.team_id, 1)
    rec = Recorder()
    start = clock.now()
    with clock.frozen(start):
        async with runners(team_consumer(team.team_id, rec, linger=10), engine=worker_engine) as [
            (run, task)
        ]:
            await eventually(lambda: rec.idle_after(marker), task=task, what="idle")
            [(_, new)] = await append_events(team.team_id, 1)
            with clock_moved(timedelta(hours=1)):
                run.wake.set()
                await eventually(lambda: run.lingering_until, task=task, what="linger")
                assert run.lingering_until == start + timedelta(hours=1, seconds=10)
            # Back at the start: ten seconds of clock from here, not an hour and ten.
            await eventually(
                lambda: run.lingering_until == start + timedelta(seconds=10),
                task=task,
                what="linger to start again",
            )
            assert rec.delivered == [marker]
            with clock_moved(timedelta(seconds=10)):
                await eventually(lambda: new in rec.delivered, task=task, what="event")


async def test_a_woken_worker_chases_events_held_back_by_an_older_transaction(
    team: Team, worker_engine: AsyncEngine
) -> None:
    """The wake-up of a commit can come while an older transaction (one that appends no event
    of its own) still hides it behind the horizon: the worker looks again shortly after, for as
    long as it is held, not after its hourly poll."""
    [(_, marker)] = await append_events(team.team_id, 1)
    rec = Recorder()
    async with runners(team_consumer(team.team_id, rec), engine=worker_engine) as [(r, task)]:
        await eventually(lambda: rec.idle_after(marker), task=task, what="idle")
        async with api_engine().connect() as older:
            tx = await older.begin()
            await set_tenant(older, team.team_id)
            # An xid of a role that may append events, without appending any.
            await older.execute(text("SELECT pg_current_xact_id()"))
            [(_, held)] = await append_events(team.team_id, 1)
            reads = r.reads
            r.wake.set()  # the held event's commit, as the broker delivers it
            # Woken, it found nothing visible and looks again (and again) without a wake-up.
            await eventually(lambda: r.reads >= reads + 3, task=task, what="chasing")
            assert rec.delivered == [marker]
            await tx.commit()  # no events: no wake-up of its own
        await eventually(lambda: held in rec.delivered, task=task, what="held event")


def test_backoff_is_exponential_with_jitter_and_capped() -> None:
    p = RetryPolicy(max_attempts=8, base=10.0, cap=300.0)
    assert (p.delay(1, lambda: 0.0), p.delay(1, lambda: 1.0)) == (5.0, 10.0)
    assert (p.delay(3, lambda: 0.0), p.delay(3, lambda: 1.0)) == (20.0, 40.0)
    assert (p.delay(12, lambda: 0.0), p.delay(12, lambda: 1.0)) == (150.0, 300.0)
    assert p.delay(10_000, lambda: 1.0) == 300.0
    samples = {p.delay(2) for _ in range(50)}
    assert len(samples) > 1 and all(10.0 <= s <= 20.0 for s in samples)
    assert RetryPolicy.from_settings(Settings(worker_max_attempts=4)).max_attempts == 4


async def _terminate_lock_holder(key: str) -> int:
    """Terminate the backend holding advisory lock ``key`` (as the superuser); how many."""
    url = libpq_url(os.environ["LEADLY_DATABASE_URL"])
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute(
            """
            SELECT count(pg_terminate_backend(l.pid)) FROM pg_locks l
            WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted
              AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended(%s, 0)
            """,
            (key,),
        )
        row = await cur.fetchone()
        return int(row[0]) if row else 0


async def test_the_worker_reconnects_when_its_connection_dies(
    team: Team, worker_engine: AsyncEngine
) -> None:
    rec = Recorder()

    async def slowly(event: DispatchedEvent) -> None:
        await asyncio.sleep(0.01)
        await rec(event)

    c = team_consumer(team.team_id, slowly)
    ids = [i for _, i in await append_events(team.team_id, 30)]
    async with running([c], worker_engine, batch_size=10) as task:
        await eventually(lambda: len(rec.delivered) >= 15, task=task, what="first events")
        assert await _terminate_lock_holder(worker._advisory_key(c.name)) == 1
        more = [i for _, i in await append_events(team.team_id, 10)]
        await eventually(lambda: set(ids + more) <= set(rec.delivered), task=task, what="recovery")
    # At least once: whatever was not committed when the session died came again, in order.
    assert sorted(set(rec.delivered)) == sorted(ids + more)
    assert (await cursor_of(worker_engine, c.name))[1] == more[-1]
