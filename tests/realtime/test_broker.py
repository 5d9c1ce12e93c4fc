"""The broker on its own: channels of any name (long ones too), concurrent subscriptions of a
fresh process (each subscriber gets every message of its channels), on Redis and on
PostgreSQL LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import secrets

import pytest
from litestar.channels import ChannelsPlugin

from api.realtime import broker
from leadly.settings import get_settings

pytestmark = pytest.mark.xdist_group("realtime")


def _settings(kind: str):
    s = get_settings()
    if kind == "redis":
        if not os.environ.get("LEADLY_TEST_REDIS_URL"):
            pytest.skip("LEADLY_TEST_REDIS_URL is not set")
        return dataclasses.replace(s, redis_url=os.environ["LEADLY_TEST_REDIS_URL"])
    return dataclasses.replace(s, redis_url=None)


@pytest.mark.parametrize("kind", ["redis", "postgres"])
async def test_concurrent_subscribers_get_their_channels(kind: str, database_url: str) -> None:
    s = _settings(kind)
    tag = secrets.token_hex(4)
    # The last name is longer than a PostgreSQL identifier: it is hashed on the wire.
    names = [f"chat:{tag}:room{i}" for i in range(3)] + [f"chat:{tag}:" + "x" * 80]
    listener = ChannelsPlugin(backend=broker.make_backend(s), arbitrary_channels_allowed=True)
    publisher = broker.make_backend(s)
    async with listener:
        subs = await asyncio.gather(*(listener.subscribe([names[i % 4]]) for i in range(12)))
        for i, name in enumerate(names):
            await publisher.publish(broker.message("chat.message", {"n": i}), [name])
        for i, sub in enumerate(subs):
            raw = await asyncio.wait_for(sub.iter_events().__anext__(), 60)
            assert raw == broker.message("chat.message", {"n": i % 4}), (i, raw)
        for sub in subs:
            assert sub.qsize == 0  # nothing from other channels
    await publisher.on_shutdown()
