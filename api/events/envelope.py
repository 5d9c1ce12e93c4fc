"""The public event envelope, one builder for webhooks and the event stream:

``{id, type, occurred_at, team_id, data: {object, id, changes, record}}``

- ``id``: ``evt_<event id>``, the same on every delivery and retry (the ``webhook-id``);
- ``type``: ``<object>.<action>`` (``lead.created``, ``deal.stage_changed``, ...);
- ``data.changes``: ``{field: [before, after]}`` as the event log holds them;
- ``data.record``: the record as of this event (its events folded up to and including it), so
  a reader that applies the envelopes in order holds every record's current state.

Only the objects of :data:`PUBLIC_OBJECTS` are published (not members, notifications, the
platform's own bookkeeping).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from warehouse.events import jsonable

PUBLIC_OBJECTS = frozenset(
    {"lead", "contact", "account", "deal", "task", "activity", "call_log", "pipeline"}
)
#: The event types beside ``<object>.<action>``: a deal update that moves the stage.
DERIVED_TYPES = frozenset({"deal.stage_changed"})


def envelope_id(event_id: int) -> str:
    return f"evt_{event_id}"


def event_type(object_type: str, action: str, changes: Mapping[str, Any]) -> str:
    if object_type == "deal" and action == "updated" and "stage" in changes:
        return "deal.stage_changed"
    return f"{object_type}.{action}"


def is_public(e: Mapping[str, Any]) -> bool:
    return e["object_type"] in PUBLIC_OBJECTS


def matches(patterns: Iterable[str], type_: str) -> bool:
    """Whether ``type_`` is one of ``patterns``: ``*``, ``deal.*`` or an exact type."""
    obj = type_.split(".", 1)[0]
    return any(p == "*" or p == type_ or p == f"{obj}.*" for p in patterns)


def objects_of(patterns: Iterable[str]) -> list[str] | None:
    """The object types ``patterns`` can match (None: every one)."""
    out: set[str] = set()
    for p in patterns:
        if p == "*":
            return None
        out.add(p.split(".", 1)[0])
    return sorted(out & PUBLIC_OBJECTS)


_HISTORY = text(
    """
    SELECT e.object_type, e.object_id, e.id, e.action, e.changes
    FROM app.events AS e
    WHERE e.team_id = :t AND e.id <= :upto
      AND (e.object_type, e.object_id) IN (SELECT * FROM unnest(CAST(:types AS text[]),
                                                                CAST(:ids AS text[])))
    ORDER BY e.object_type, e.object_id, e.id
    """
)


async def records_as_of(
    conn: AsyncConnection, team_id: str, evts: Sequence[Mapping[str, Any]]
) -> dict[int, dict[str, Any] | None]:
    """Each event's record as of that event (by event id), from one read of the history of the
    records involved."""
    out: dict[int, dict[str, Any] | None] = {}
    # A record's first event holds all of it: no history to read.
    later = [e for e in evts if e["action"] != "created"]
    for e in evts:
        if e["action"] == "created":
            out[int(e["id"])] = {"id": e["object_id"]} | {
                k: after for k, (_before, after) in (e["changes"] or {}).items()
            }
    if not later:
        return out
    evts = later
    keys = sorted({(e["object_type"], e["object_id"]) for e in evts})
    wanted: dict[tuple[str, str], set[int]] = {}
    for e in evts:
        wanted.setdefault((e["object_type"], e["object_id"]), set()).add(int(e["id"]))
    rows = await conn.execute(
        _HISTORY,
        {
            "t": team_id,
            "upto": max(int(e["id"]) for e in evts),
            "types": [k[0] for k in keys],
            "ids": [k[1] for k in keys],
        },
    )
    state: dict[str, Any] | None = None
    current: tuple[str, str] | None = None
    for r in rows:
        key = (r.object_type, r.object_id)
        if key != current:
            current, state = key, None
        if r.action == "created" or state is None:
            state = {"id": r.object_id}
        for field, (_before, after) in (r.changes or {}).items():
            state[field] = after
        if r.id in wanted.get(key, ()):
            out[int(r.id)] = dict(state)
    return out


def envelope(e: Mapping[str, Any], record: dict[str, Any] | None) -> dict[str, Any]:
    """The public envelope of event row ``e`` (``record``: from :func:`records_as_of`)."""
    changes = e["changes"] or {}
    return {
        "id": envelope_id(int(e["id"])),
        "type": event_type(e["object_type"], e["action"], changes),
        "occurred_at": jsonable(e["occurred_at"]),
        "team_id": e["team_id"],
        "data": {
            "object": e["object_type"],
            "id": e["object_id"],
            "changes": changes,
            "record": record,
        },
    }


async def envelopes(
    conn: AsyncConnection, team_id: str, evts: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The envelopes of ``evts`` (one team's), in their order."""
    records = await records_as_of(conn, team_id, evts)
    return [envelope(e, records.get(int(e["id"]))) for e in evts]
