"""The event log: append in the caller's transaction, read by cursor, replay history.

``changes`` maps each changed field to ``[before, after]`` (JSON values). A ``created`` event
carries every field with ``before`` = null, so replaying a record's events in order rebuilds
its state at any moment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import insert, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from warehouse.models import Event

events = Event.__table__


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


def diff(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    ignore: Iterable[str] = ("updated_at", "version"),
) -> dict[str, list[Any]]:
    """Changed fields as ``{field: [before, after]}`` (JSON-ready)."""
    ignored = set(ignore)
    keys = set(before or {}) | set(after or {})
    out: dict[str, list[Any]] = {}
    for k in sorted(keys - ignored):
        b = jsonable((before or {}).get(k))
        a = jsonable((after or {}).get(k))
        if b != a:
            out[k] = [b, a]
    return out


@dataclass(frozen=True, slots=True)
class EventRecord:
    team_id: str
    actor_type: str
    actor_id: str | None
    object_type: str
    object_id: str
    action: str
    changes: dict[str, list[Any]]
    request_id: str | None = None
    data: dict[str, Any] | None = None

    def row(self) -> dict[str, Any]:
        return {
            "team_id": self.team_id,
            "actor_type": self.actor_type,
            "actor_id": self.actor_id,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "action": self.action,
            "changes": self.changes,
            "request_id": self.request_id,
            "data": self.data or {},
        }


_INSERT = insert(events)

# --------------------------------------------------------------------------- commit signal
# The dispatcher sleeps until events arrive; polling alone would add up to its poll interval
# to every real-time path (an assignment → the assignee's notification). So a connection that
# appended events is marked; when it commits, the mark is kept; when the connection goes back
# to its pool after that commit, every listener registered with :func:`on_committed` is
# called (the transaction has ended, so a reader of :data:`READ_AFTER` sees the events). A
# rollback drops the mark. Hooked into every engine :func:`warehouse.db.make_async_engine`
# makes (see :func:`watch_commits`); writers on other engines are found by the poll.

_APPENDED = "leadly.events_appended"
_COMMITTED = "leadly.events_committed"
_listeners: list[Callable[[], None]] = []


def on_committed(listener: Callable[[], None]) -> Callable[[], None]:
    """Register ``listener()``: called in the event loop's thread, without waiting, after a
    transaction that appended events committed and its connection was released. It must not
    block (schedule the work)."""
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


def _info(conn: Any) -> dict[Any, Any] | None:
    try:
        return conn.info
    except SQLAlchemyError:  # invalidated: nothing of this transaction commits
        return None


def _on_commit(conn: Any) -> None:
    info = _info(conn)
    if info is not None and info.pop(_APPENDED, False):
        info[_COMMITTED] = True


def _on_rollback(conn: Any) -> None:
    info = _info(conn)
    if info is not None:
        info.pop(_APPENDED, None)


def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
    if record is not None and record.info.pop(_COMMITTED, False):
        for listener in list(_listeners):
            listener()


def watch_commits(sync_engine: Any) -> None:
    """Signal :func:`on_committed` listeners for transactions of ``sync_engine`` (the sync core
    of an async engine) that appended events."""
    sa_event.listen(sync_engine, "commit", _on_commit)
    sa_event.listen(sync_engine, "rollback", _on_rollback)
    sa_event.listen(sync_engine.pool, "checkin", _on_checkin)


async def append(conn: AsyncConnection, *records: EventRecord) -> None:
    """Append events in the caller's transaction (one round trip for many)."""
    if not records:
        return
    await conn.execute(_INSERT, [r.row() for r in records])
    conn.info[_APPENDED] = True


async def for_object(
    conn: AsyncConnection,
    object_type: str,
    object_id: str,
    *,
    after_id: int = 0,
    until: datetime | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    q = (
        select(events)
        .where(
            events.c.object_type == object_type,
            events.c.object_id == object_id,
            events.c.id > after_id,
        )
        .order_by(events.c.id)
    )
    if until is not None:
        q = q.where(events.c.occurred_at <= until)
    if limit is not None:
        q = q.limit(limit)
    return [dict(r._mapping) for r in await conn.execute(q)]


def replay(evts: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Fold a record's events into its state (None if it did not exist yet)."""
    state: dict[str, Any] | None = None
    for e in evts:
        if e["action"] == "created" or state is None:
            state = {}
        for field, (_before, after) in e["changes"].items():
            state[field] = after
    return state


# Cursor reads for the dispatcher: ordered by (txid, id) and only from transactions older than
# every transaction of this database still running, so an event that commits late is never
# skipped (app.event_horizon(): transactions of other databases, and of roles that cannot write
# events such as dbt's, do not count).
#
# ORDER BY names the columns through the table's alias: a bare ``txid`` there would be the
# select list's ``txid::text AS txid``, and text order puts '1000' before '999' (a batch read
# across a power of ten jumped the cursor past the events of the shorter txids, for good).
READ_AFTER = text(
    """
    SELECT e.id, e.team_id, e.txid::text AS txid, e.occurred_at, e.actor_type, e.actor_id,
           e.object_type, e.object_id, e.action, e.changes, e.data, e.request_id
    FROM app.events AS e
    WHERE (e.txid, e.id) > (CAST(:txid AS xid8), :id)
      AND e.txid < (SELECT app.event_horizon())
    ORDER BY e.txid, e.id
    LIMIT :limit
    """
)


async def read_after(
    conn: AsyncConnection, txid: int | str, event_id: int, limit: int
) -> list[dict[str, Any]]:
    """Up to ``limit`` events after the cursor ``(txid, event_id)``, in (txid, id) order, from
    finished transactions only (see :data:`READ_AFTER`). ``txid`` comes back as a string."""
    rows = await conn.execute(READ_AFTER, {"txid": str(txid), "id": event_id, "limit": limit})
    return [dict(r._mapping) for r in rows]


VISIBLE_HEAD = text(
    """
    SELECT e.txid::text AS txid, e.id
    FROM app.events AS e
    WHERE e.txid < (SELECT app.event_horizon())
    ORDER BY e.txid DESC, e.id DESC
    LIMIT 1
    """
)


async def visible_head(conn: AsyncConnection) -> tuple[int, int]:
    """The cursor just past the last event a :data:`READ_AFTER` reader can see now
    (``(0, 0)`` when there is none): events of transactions still running come after it."""
    row = (await conn.execute(VISIBLE_HEAD)).first()
    return (int(row.txid), int(row.id)) if row else (0, 0)
