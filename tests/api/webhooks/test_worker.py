"""Through the dispatcher worker (as ``leadly worker`` runs it): a committed change reaches the
endpoint, signed, and a failed attempt is retried by the consumer's tick once the clock says so."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from api.webhooks.delivery import SCHEDULE
from tests.api.webhooks.conftest import Receiver, deliveries, later, make_webhook
from tests.conftest import Team
from tests.plugin import eventually, worker_running


@pytest.fixture(scope="module")
async def webhook_worker(app: Any) -> AsyncIterator[asyncio.Task]:
    from api.webhooks.delivery import webhooks_consumer
    from leadly.settings import get_settings
    from warehouse.db import make_async_engine

    s = get_settings()
    engine = make_async_engine(os.environ["LEADLY_DATABASE_URL"], s.worker_db_role, pool_size=3)
    try:
        async with worker_running([webhooks_consumer], engine, poll_interval=0.05) as task:
            yield task
    finally:
        await engine.dispose()


async def test_delivered_and_retried_by_the_worker(
    team: Team, receiver: Receiver, webhook_worker: asyncio.Task
) -> None:
    hook = await make_webhook(team, receiver, "/flaky/1/worker", ["account.*"])
    r = await team.post("/api/v1/accounts", json={"name": "Acme"})
    assert r.status_code == 201, r.text

    async def attempted() -> list[dict[str, Any]] | None:
        log = await deliveries(team, hook["id"])
        return log if log and log[0]["attempted_at"] else None

    (d,) = await eventually(attempted, task=webhook_worker, what="the first attempt")
    assert d["status"] == "pending" and d["response_code"] == 503
    with later(timedelta(seconds=SCHEDULE[0])):

        async def succeeded() -> bool:
            return (await deliveries(team, hook["id"]))[0]["status"] == "succeeded"

        await eventually(succeeded, task=webhook_worker, what="the retry")
    got = receiver.at("/flaky/1/worker")
    assert len(got) == 2 and got[1]["verified"] == [True]
    assert got[0]["headers"]["webhook-id"] == got[1]["headers"]["webhook-id"]
    assert json.loads(got[1]["body"])["type"] == "account.created"
