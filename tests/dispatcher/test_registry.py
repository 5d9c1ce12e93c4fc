"""The consumer registry: decorator, names, loading ``module:attr`` paths."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api.dispatcher import registry as registry_module
from api.dispatcher.registry import Consumer, DispatchedEvent, Registry, load_consumers
from leadly.settings import Settings


async def _noop(event: DispatchedEvent) -> None:
    return None


def _event(**kw: object) -> DispatchedEvent:
    values: dict[str, object] = {
        "id": 1,
        "team_id": "team_x",
        "txid": 10,
        "occurred_at": datetime.now(UTC),
        "actor_type": "member",
        "actor_id": "mem_x",
        "object_type": "lead",
        "object_id": "lead_x",
        "action": "created",
        "changes": {},
        "data": {},
        "request_id": None,
    }
    return DispatchedEvent(**(values | kw))  # type: ignore[arg-type]


def test_the_decorator_registers_a_consumer_with_its_filter() -> None:
    reg = Registry()

    @reg.consumer("timeline", filter=lambda e: e.object_type == "lead")
    async def timeline(event: DispatchedEvent) -> None:
        """Write timeline entries."""

    assert isinstance(timeline, Consumer)
    assert reg.get("timeline") is timeline and reg.all() == [timeline]
    assert timeline.description == "Write timeline entries."
    assert timeline.accepts(_event()) and not timeline.accepts(_event(object_type="deal"))
    assert timeline.start_from == "beginning"
    # Registering the same object again is harmless; another one under the name is not.
    reg.register(timeline)
    with pytest.raises(ValueError, match="already registered"):
        reg.register(Consumer("timeline", _noop))


def test_consumers_are_checked_when_declared() -> None:
    def sync_handler(event: DispatchedEvent) -> None:
        return None

    with pytest.raises(TypeError, match="async"):
        Consumer("sync", sync_handler)  # type: ignore[arg-type]
    for bad in ("", "Has Caps", "x" * 101, "sp ace"):
        with pytest.raises(ValueError, match="name"):
            Consumer(bad, _noop)
    with pytest.raises(ValueError, match="start_from"):
        Consumer("ok", _noop, start_from="tomorrow")  # type: ignore[arg-type]
    for bad_linger in (-0.1, 11):
        with pytest.raises(ValueError, match="linger"):
            Consumer("ok", _noop, linger=bad_linger)


def test_events_are_frozen() -> None:
    e = _event()
    with pytest.raises(AttributeError):
        e.action = "deleted"  # type: ignore[misc]


def test_load_registers_module_attr_paths() -> None:
    reg = Registry()
    [c] = reg.load(" tests.dispatcher.consumers:slow_recorder , ")
    from tests.dispatcher.consumers import slow_recorder

    assert c is slow_recorder and reg.all() == [slow_recorder]
    for bad, message in [
        ("no_colon", "must look like"),
        ("tests.dispatcher.nope:x", "Cannot import"),
        ("tests.dispatcher.consumers:missing", "no attribute"),
        ("tests.dispatcher.consumers:OBJECT_TYPE", "not a Consumer"),
    ]:
        with pytest.raises(ValueError, match=message):
            reg.load(bad)


def test_the_worker_loads_the_consumers_named_in_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry_module.registry, "_consumers", {})
    settings = Settings.from_env(
        {"LEADLY_WORKER_CONSUMERS": "tests.dispatcher.consumers:slow_recorder"}
    )
    names = [c.name for c in load_consumers(settings.worker_consumers)]
    # Beside the built-in consumers (the registry lists them by name).
    assert "test-slow-recorder" in names and {"activity_timeline", "webhooks"} <= set(names)
