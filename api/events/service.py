"""Reading the team's public events in commit order, by cursor (the event stream).

A cursor is ``<txid>-<event id>``: the position just past the last event read, like the
dispatcher's. Only events of finished transactions are read (``app.event_horizon()``), so an
event that commits late is never skipped by a reader that moved on.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from api.events.envelope import PUBLIC_OBJECTS, envelopes, event_type, matches, objects_of
from leadly.problem import Problem, bad_param

MAX_LIMIT = 500
DEFAULT_LIMIT = 100
#: Events looked at per request at most: a rare type does not make one request read the whole
#: history (the page comes back short, with ``has_more`` and a cursor further on).
SCAN_LIMIT = 5000
_CURSOR = re.compile(r"^(\d{1,20})-(\d{1,20})$")
_TYPE = re.compile(r"^(\*|[a-z_]+\.(\*|[a-z_]+))$")

Position = tuple[int, int]

_READ = text(
    """
    SELECT e.id, e.team_id, e.txid::text AS txid, e.occurred_at, e.object_type, e.object_id,
           e.action, e.changes
    FROM app.events AS e
    WHERE e.team_id = :t
      AND (e.txid, e.id) > (CAST(:txid AS xid8), :id)
      AND e.txid < (SELECT app.event_horizon())
      AND e.object_type = ANY(CAST(:objects AS text[]))
    ORDER BY e.txid, e.id
    LIMIT :limit
    """
)


def encode_cursor(position: Position) -> str:
    return f"{position[0]}-{position[1]}"


def decode_cursor(raw: str | None, field: str = "after") -> Position:
    if not raw:
        return (0, 0)
    m = _CURSOR.match(raw.strip())
    if m is None:
        raise Problem(
            400,
            f"{field} must be a cursor returned by this endpoint (next_cursor or an event's id "
            "in the stream), not {raw!r}.",
            errors=[{"field": field, "message": "Not a cursor."}],
        )
    return int(m.group(1)), int(m.group(2))


def parse_types(raw: str | None) -> list[str]:
    """``types=deal.*,lead.created`` → the patterns (empty: every type)."""
    if not raw:
        return []
    items = [t.strip() for t in raw.split(",") if t.strip()]
    bad = [t for t in items if not _TYPE.match(t)]
    if bad or len(items) > 50:
        raise bad_param(
            "types",
            "types must be event types such as lead.created or deal.* (comma-separated, at most "
            f"50), not {raw!r}.",
            "Not an event type pattern.",
        )
    return items


def parse_limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_LIMIT:
        raise bad_param(
            "limit", f"limit must be an integer from 1 to {MAX_LIMIT}.", "Out of range."
        )
    return n


async def read_page(
    conn: AsyncConnection,
    team_id: str,
    after: Position,
    types: Sequence[str],
    limit: int,
) -> tuple[list[tuple[Position, dict[str, Any]]], Position, bool]:
    """Up to ``limit`` envelopes after ``after`` (with each one's position), the position the
    reader got to (past events it skipped too), and whether more events are there now."""
    objects = objects_of(types) if types else None
    wanted = sorted(PUBLIC_OBJECTS) if objects is None else objects
    picked: list[dict[str, Any]] = []
    position = after
    scanned = 0
    more = False
    while wanted and len(picked) < limit and scanned < SCAN_LIMIT:
        want = min(SCAN_LIMIT - scanned, (limit - len(picked)) * (4 if types else 1))
        rows = await conn.execute(
            _READ,
            {
                "t": team_id,
                "txid": str(position[0]),
                "id": position[1],
                "objects": wanted,
                "limit": want + 1,
            },
        )
        batch = [dict(r._mapping) for r in rows]
        more = len(batch) > want
        for r in batch[:want]:
            if len(picked) == limit:
                more = True
                break
            position = (int(r["txid"]), int(r["id"]))
            scanned += 1
            if not types or matches(types, event_type(r["object_type"], r["action"], r["changes"])):
                picked.append(r)
        if not more:
            break
    made = await envelopes(conn, team_id, picked)
    items = [((int(r["txid"]), int(r["id"])), env) for r, env in zip(picked, made, strict=True)]
    return items, position, more
