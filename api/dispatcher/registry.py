"""Consumers of the event log and the registry the dispatcher worker runs.

A consumer is a name (its cursor's key: never rename a consumer that has run), an async handler
and an optional filter::

    from api.dispatcher import DispatchedEvent, consumer

    @consumer("timeline", filter=lambda e: e.object_type in {"lead", "contact"})
    async def timeline(event: DispatchedEvent) -> None:
        ...  # idempotent: the same event may be delivered more than once

The worker runs every consumer registered when it starts: the built-in ones (:data:`BUILTIN`)
and those named by ``LEADLY_WORKER_CONSUMERS`` (``module:attr`` paths, comma-separated; importing
the module registers its ``@consumer`` functions, and ``attr`` may also be a :class:`Consumer` or
a list of them that were not registered yet).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import msgspec

#: ``module:attr`` paths of the consumers that ship with Leadly (loaded by every worker).
BUILTIN: tuple[str, ...] = (
    "ingestion.consumer:imports_consumer",
    "api.activities.consumer:timeline_consumer",
    "api.notifications.producers:consumers",
    "api.deals.consumer:deal_progression_consumer",
    "api.webhooks.delivery:webhooks_consumer",
)


class DispatchedEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One row of ``app.events`` as a consumer receives it."""

    id: int
    team_id: str
    txid: int
    occurred_at: datetime
    actor_type: str
    actor_id: str | None
    object_type: str
    object_id: str
    action: str
    changes: dict[str, Any]
    data: dict[str, Any]
    request_id: str | None

    @classmethod
    def from_row(cls, row: Any) -> DispatchedEvent:
        m = row if isinstance(row, Mapping) else row._mapping
        return cls(
            id=int(m["id"]),
            team_id=m["team_id"],
            txid=int(m["txid"]),
            occurred_at=m["occurred_at"],
            actor_type=m["actor_type"],
            actor_id=m["actor_id"],
            object_type=m["object_type"],
            object_id=m["object_id"],
            action=m["action"],
            changes=m["changes"] or {},
            data=m["data"] or {},
            request_id=m["request_id"],
        )


#: Seconds a woken consumer waits before it reads, unless it sets its own ``linger``.
DEFAULT_LINGER = 0.05

Handler = Callable[[DispatchedEvent], Awaitable[None]]
Filter = Callable[[DispatchedEvent], bool]
Tick = Callable[[], Awaitable[bool]]
StartFrom = Literal["beginning", "now"]


def _is_async(fn: Any) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - an object with an async __call__
    )


@dataclass(frozen=True, eq=False)
class Consumer:
    """A named reader of the event log.

    - ``name``: key of the consumer's cursor and failures (``[a-z0-9_.:-]``, at most 100).
    - ``handler``: ``async def handle(event) -> None``; raising marks the delivery failed.
    - ``filter``: events it returns False for are skipped (the cursor still moves past them).
    - ``start_from``: where a consumer that never ran starts: ``"beginning"`` (every event ever
      written, the default) or ``"now"`` (only events written from its first run on, e.g. for
      outbound notifications that must not replay history).
    - ``timeout``: seconds one delivery may take before it counts as failed.
    - ``linger``: seconds a woken consumer waits before reading (:data:`DEFAULT_LINGER`), so
      the events of a burst come in one read and the consumers a person waits on
      (``linger=0``: the notifications) have the machine to themselves first.
    - ``tick``: ``async def tick() -> bool``, run after every batch and at every poll (work of
      the consumer's own that falls due with time, e.g. the webhooks' scheduled retries);
      True when it did something (the runner then looks again at once).
    """

    name: str
    handler: Handler
    filter: Filter | None = None
    start_from: StartFrom = "beginning"
    timeout: float = 60.0
    linger: float = DEFAULT_LINGER
    description: str = field(default="", compare=False)
    tick: Tick | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not _valid_name(self.name):
            raise ValueError(
                f"Consumer name {self.name!r} must be 1-100 characters of a-z, 0-9, '_', '.', "
                "':' or '-'."
            )
        if not _is_async(self.handler):
            raise TypeError(f"The handler of consumer {self.name!r} must be an async function.")
        if self.start_from not in ("beginning", "now"):
            raise ValueError(f"start_from must be 'beginning' or 'now', not {self.start_from!r}.")
        if self.timeout <= 0:
            raise ValueError("timeout must be positive.")
        if not 0 <= self.linger <= 10:
            raise ValueError("linger must be between 0 and 10 seconds.")

    def accepts(self, event: DispatchedEvent) -> bool:
        return self.filter is None or bool(self.filter(event))

    async def __call__(self, event: DispatchedEvent) -> None:
        await self.handler(event)


def _valid_name(name: str) -> bool:
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789_.:-")
    return 0 < len(name) <= 100 and set(name) <= allowed


class Registry:
    """Consumers by name. Registering the same object twice is a no-op; another consumer under a
    taken name is an error (two handlers must not share one cursor)."""

    def __init__(self) -> None:
        self._consumers: dict[str, Consumer] = {}

    def register(self, c: Consumer) -> Consumer:
        existing = self._consumers.get(c.name)
        if existing is not None and existing is not c:
            raise ValueError(f"A consumer named {c.name!r} is already registered.")
        self._consumers[c.name] = c
        return c

    def unregister(self, name: str) -> None:
        self._consumers.pop(name, None)

    def get(self, name: str) -> Consumer | None:
        return self._consumers.get(name)

    def all(self) -> list[Consumer]:
        return sorted(self._consumers.values(), key=lambda c: c.name)

    def __iter__(self) -> Iterator[Consumer]:
        return iter(self.all())

    def __len__(self) -> int:
        return len(self._consumers)

    def consumer(
        self,
        name: str,
        *,
        filter: Filter | None = None,
        start_from: StartFrom = "beginning",
        timeout: float = 60.0,
        linger: float = DEFAULT_LINGER,
    ) -> Callable[[Handler], Consumer]:
        def decorate(fn: Handler) -> Consumer:
            return self.register(
                Consumer(
                    name,
                    fn,
                    filter=filter,
                    start_from=start_from,
                    timeout=timeout,
                    linger=linger,
                    description=(inspect.getdoc(fn) or "").split("\n", 1)[0],
                )
            )

        return decorate

    def load(self, paths: str | Iterable[str]) -> list[Consumer]:
        """Import ``module:attr`` paths (a comma-separated string or a list) and register what
        they name; returns the consumers they named."""
        items = paths.split(",") if isinstance(paths, str) else list(paths)
        found: list[Consumer] = []
        for raw in items:
            path = raw.strip()
            if not path:
                continue
            module_name, sep, attr = path.partition(":")
            if not sep or not module_name or not attr:
                raise ValueError(f"Consumer path {path!r} must look like 'package.module:attr'.")
            try:
                obj: Any = importlib.import_module(module_name)
            except ImportError as e:
                raise ValueError(f"Cannot import {module_name!r} for consumer {path!r}: {e}") from e
            for part in attr.split("."):
                try:
                    obj = getattr(obj, part)
                except AttributeError:
                    raise ValueError(f"{module_name!r} has no attribute {attr!r}.") from None
            objs = obj if isinstance(obj, list | tuple) else [obj]
            for o in objs:
                if not isinstance(o, Consumer):
                    raise ValueError(
                        f"{path!r} is not a Consumer (decorate the handler with @consumer(...) "
                        "or point at a Consumer object)."
                    )
                found.append(self.register(o))
        return found


#: The process-wide registry the worker runs.
registry = Registry()
register = registry.register
consumer = registry.consumer


def load_consumers(extra: str | Iterable[str] = "") -> list[Consumer]:
    """Register the built-in consumers and ``extra`` paths; return everything registered."""
    registry.load(BUILTIN)
    registry.load(extra)
    return registry.all()
