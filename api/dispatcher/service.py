"""Dispatcher state: consumer cursors and dispatch failures.

The only code that writes ``app.consumer_cursors`` and ``app.dispatch_failures``. The worker
functions run as the worker role (every team); the ``*_for_team`` API functions run in the
caller's tenant transaction (row-level security shows one team).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.listing import Lister, ListParams
from api.dispatcher.registry import DispatchedEvent
from leadly import clock
from leadly.actor import Actor
from leadly.ids import new_id
from leadly.problem import Problem, bad_param, not_found
from warehouse import events
from warehouse.events import EventRecord
from warehouse.models import DispatchFailure, Event

failures = DispatchFailure.__table__
event_log = Event.__table__

STATUSES = ("retrying", "dead", "resolved")
MAX_ERROR_CHARS = 2000
LAG_CAP = 10_000

Position = tuple[int, int]  # (txid, event id)


# =========================================================================== worker side


async def ensure_cursor(conn: AsyncConnection, consumer: str, start_from: str) -> Position:
    """The consumer's cursor, created on its first run at the start of the log or at its
    visible head (``start_from="now"``)."""
    start = await events.visible_head(conn) if start_from == "now" else (0, 0)
    await conn.execute(
        text(
            "INSERT INTO app.consumer_cursors (consumer, last_txid, last_event_id) "
            "VALUES (:c, CAST(:t AS xid8), :i) ON CONFLICT (consumer) DO NOTHING"
        ),
        {"c": consumer, "t": str(start[0]), "i": start[1]},
    )
    return await read_cursor(conn, consumer)


async def read_cursor(conn: AsyncConnection, consumer: str) -> Position:
    row = (
        await conn.execute(
            text(
                "SELECT last_txid::text AS txid, last_event_id FROM app.consumer_cursors "
                "WHERE consumer = :c"
            ),
            {"c": consumer},
        )
    ).one()
    return int(row.txid), int(row.last_event_id)


async def held_after(conn: AsyncConnection, position: Position) -> bool:
    """Whether a committed event lies past ``position`` (whether :data:`events.READ_AFTER`
    shows it yet or not: one an older transaction still running holds behind the horizon)."""
    found = await conn.scalar(
        text("SELECT EXISTS (SELECT 1 FROM app.events WHERE (txid, id) > (CAST(:t AS xid8), :i))"),
        {"t": str(position[0]), "i": position[1]},
    )
    return bool(found)


class CursorMoved(Exception):
    """Someone else moved a consumer's cursor while this worker was delivering a batch."""


async def advance_cursor(
    conn: AsyncConnection, consumer: str, old: Position, new: Position
) -> None:
    """Move the cursor from ``old`` to ``new``; raise :class:`CursorMoved` if it is not at
    ``old`` any more (the caller's transaction must then roll back)."""
    res = await conn.execute(
        text(
            """
            UPDATE app.consumer_cursors
            SET last_txid = CAST(:new_txid AS xid8), last_event_id = :new_id, updated_at = now()
            WHERE consumer = :c AND last_txid = CAST(:old_txid AS xid8) AND last_event_id = :old_id
            """
        ),
        {
            "c": consumer,
            "new_txid": str(new[0]),
            "new_id": new[1],
            "old_txid": str(old[0]),
            "old_id": old[1],
        },
    )
    if res.rowcount != 1:
        raise CursorMoved(consumer)


def _error_text(error: str) -> str:
    return error if len(error) <= MAX_ERROR_CHARS else error[: MAX_ERROR_CHARS - 1] + "…"


def _due_at(delay: float) -> Any:
    """When a retry ``delay`` seconds from now is due: as of :func:`leadly.clock.now`, which also
    decides what is due (:func:`due_retries`), so tests move the clock instead of waiting."""
    return clock.now() + timedelta(seconds=float(delay))


def _next_state(attempts: int, max_attempts: int, delay: float) -> dict[str, Any]:
    if attempts >= max_attempts:
        return {"status": "dead", "next_attempt_at": None}
    return {"status": "retrying", "next_attempt_at": _due_at(delay)}


_RECORD_FAILURE = text(
    """
    INSERT INTO app.dispatch_failures AS f
        (team_id, id, consumer, event_id, status, attempts, last_error, next_attempt_at)
    VALUES (:team_id, :id, :consumer, :event_id,
            CASE WHEN 1 >= :max THEN 'dead' ELSE 'retrying' END, 1, :error,
            CASE WHEN 1 >= :max THEN NULL ELSE CAST(:due AS timestamptz) END)
    ON CONFLICT (team_id, consumer, event_id) DO UPDATE SET
        attempts = f.attempts + 1,
        last_error = excluded.last_error,
        status = CASE WHEN f.attempts + 1 >= :max THEN 'dead' ELSE 'retrying' END,
        next_attempt_at = CASE WHEN f.attempts + 1 >= :max THEN NULL
                               ELSE CAST(:due AS timestamptz) END,
        updated_at = now()
    """
)


async def record_failure(
    conn: AsyncConnection,
    consumer: str,
    event: DispatchedEvent,
    error: str,
    *,
    delay: float,
    max_attempts: int,
) -> None:
    """First failed delivery of ``event`` to ``consumer``: due again after ``delay`` seconds (or
    dead at once when ``max_attempts`` is 1). Failing again on a pair already recorded (its
    cursor was rewound) counts as one more attempt."""
    await conn.execute(
        _RECORD_FAILURE,
        {
            "team_id": event.team_id,
            "id": new_id("failure"),
            "consumer": consumer,
            "event_id": event.id,
            "error": _error_text(error),
            "due": _due_at(delay),
            "max": int(max_attempts),
        },
    )


async def due_retries(
    conn: AsyncConnection, consumer: str, limit: int
) -> list[tuple[dict[str, Any], DispatchedEvent]]:
    """The consumer's failures whose next attempt is due (as of :func:`leadly.clock.now`), oldest
    due first, with their events."""
    rows = await conn.execute(
        text(
            """
            SELECT f.team_id AS f_team_id, f.id AS f_id, f.attempts AS f_attempts,
                   e.id, e.team_id, e.txid::text AS txid, e.occurred_at, e.actor_type,
                   e.actor_id, e.object_type, e.object_id, e.action, e.changes, e.data,
                   e.request_id
            FROM app.dispatch_failures f
            JOIN app.events e ON e.team_id = f.team_id AND e.id = f.event_id
            WHERE f.consumer = :c AND f.status = 'retrying' AND f.next_attempt_at <= :now
            ORDER BY f.next_attempt_at, f.id
            LIMIT :limit
            """
        ),
        {"c": consumer, "limit": limit, "now": clock.now()},
    )
    out = []
    for r in rows:
        m = r._mapping
        key = {"team_id": m["f_team_id"], "id": m["f_id"], "attempts": m["f_attempts"]}
        out.append((key, DispatchedEvent.from_row(m)))
    return out


async def retry_outcome(
    conn: AsyncConnection,
    failure: dict[str, Any],
    error: str | None,
    *,
    delay: float,
    max_attempts: int,
) -> bool:
    """Record one retry: ``error`` None → resolved; else one more attempt (dead at the max).

    Only applies if the failure is still as the worker read it (still retrying, same attempts);
    returns False when it changed meanwhile (e.g. an admin acted on it)."""
    attempts = int(failure["attempts"]) + 1
    if error is None:
        values: dict[str, Any] = {"status": "resolved", "next_attempt_at": None}
    else:
        values = {"last_error": _error_text(error), **_next_state(attempts, max_attempts, delay)}
    f = failures.c
    res = await conn.execute(
        update(failures)
        .where(
            f.team_id == failure["team_id"],
            f.id == failure["id"],
            f.status == "retrying",
            f.attempts == failure["attempts"],
        )
        .values(attempts=attempts, updated_at=func.now(), **values)
    )
    return res.rowcount == 1


# =========================================================================== API side

PUBLIC = (
    "id",
    "consumer",
    "event_id",
    "status",
    "attempts",
    "last_error",
    "next_attempt_at",
    "created_at",
    "updated_at",
)
lister = Lister({name: failures.c[name] for name in PUBLIC}, failures.c.id)

_EVENT_SUMMARY = (
    event_log.c.object_type,
    event_log.c.object_id,
    event_log.c.action,
    event_log.c.occurred_at,
    event_log.c.actor_type,
    event_log.c.actor_id,
    event_log.c.request_id,
)
_EVENT_DETAIL = (*_EVENT_SUMMARY, event_log.c.changes, event_log.c.data)


def _select(detail: bool) -> Any:
    cols = _EVENT_DETAIL if detail else _EVENT_SUMMARY
    join = failures.join(
        event_log,
        and_(event_log.c.team_id == failures.c.team_id, event_log.c.id == failures.c.event_id),
    )
    return select(
        *[failures.c[n] for n in PUBLIC], *[c.label(f"event_{c.name}") for c in cols]
    ).select_from(join)


def _present(row: Any, detail: bool) -> dict[str, Any]:
    m = row._mapping
    out = {n: m[n] for n in PUBLIC}
    cols = _EVENT_DETAIL if detail else _EVENT_SUMMARY
    out["event"] = {"id": m["event_id"], **{c.name: m[f"event_{c.name}"] for c in cols}}
    return out


def parse_statuses(raw: str | None) -> tuple[str, ...]:
    if raw is None or raw == "":
        return ()
    values = tuple(v.strip() for v in raw.split(",") if v.strip())
    bad = [v for v in values if v not in STATUSES]
    if bad or not values:
        raise bad_param(
            "status",
            f"status must be one of {', '.join(STATUSES)} (comma-separated), not {raw!r}.",
            "Unknown status.",
        )
    return values


async def list_for_team(
    conn: AsyncConnection, actor: Actor, params: ListParams, statuses: Sequence[str] = ()
) -> dict[str, Any]:
    stmt = _select(detail=False).where(failures.c.team_id == actor.team_id)
    if statuses:
        stmt = stmt.where(failures.c.status.in_(list(statuses)))
    stmt, keys = lister.apply(stmt, params)
    rows = list(await conn.execute(stmt))
    return lister.page(rows, keys, params, lambda r: _present(r, detail=False))


async def get_for_team(
    conn: AsyncConnection, actor: Actor, failure_id: str, *, for_update: bool = False
) -> dict[str, Any]:
    q = _select(detail=True).where(failures.c.team_id == actor.team_id, failures.c.id == failure_id)
    if for_update:
        q = q.with_for_update(of=failures)
    row = (await conn.execute(q)).first()
    if row is None:
        raise not_found("dispatch failure", failure_id)
    return _present(row, detail=True)


async def retry_for_team(conn: AsyncConnection, actor: Actor, failure_id: str) -> dict[str, Any]:
    """Make a retrying or dead failure due now. A dead one gets one more attempt: if it fails
    again it is dead again (its attempts are kept)."""
    current = await get_for_team(conn, actor, failure_id, for_update=True)
    if current["status"] == "resolved":
        raise Problem(
            409,
            f"Dispatch failure {failure_id!r} is already resolved; there is nothing to retry.",
            title="Conflict",
        )
    f = failures.c
    row = (
        await conn.execute(
            update(failures)
            .where(f.team_id == actor.team_id, f.id == failure_id)
            .values(status="retrying", next_attempt_at=clock.now(), updated_at=func.now())
            .returning(f.next_attempt_at)
        )
    ).one()
    await events.append(
        conn,
        EventRecord(
            team_id=actor.team_id,
            actor_type=actor.actor_type,
            actor_id=actor.member_id,
            object_type="dispatch_failure",
            object_id=failure_id,
            action="retried",
            changes=events.diff(
                {"status": current["status"], "next_attempt_at": current["next_attempt_at"]},
                {"status": "retrying", "next_attempt_at": row.next_attempt_at},
            ),
            request_id=actor.request_id,
            data={"consumer": current["consumer"], "event_id": current["event_id"]},
        ),
    )
    return await get_for_team(conn, actor, failure_id)


# The cursor itself is a position in every team's log (its txid and event id tell how busy the
# whole platform is): a team sees instead the newest of its own events the consumer has passed.
_CONSUMERS = text(
    """
    SELECT c.consumer AS name, c.updated_at,
      coalesce(mine.txid::text, '0') AS last_txid, coalesce(mine.id, 0) AS last_event_id,
      (SELECT count(*) FROM (
         SELECT 1 FROM app.events e
         WHERE e.team_id = :t AND (e.txid, e.id) > (c.last_txid, c.last_event_id)
         LIMIT :cap) s) AS lag,
      (SELECT e.occurred_at FROM app.events e
       WHERE e.team_id = :t AND (e.txid, e.id) > (c.last_txid, c.last_event_id)
       ORDER BY e.txid, e.id LIMIT 1) AS oldest_pending_at,
      (SELECT count(*) FROM app.dispatch_failures f
       WHERE f.team_id = :t AND f.consumer = c.consumer AND f.status = 'retrying') AS retrying,
      (SELECT count(*) FROM app.dispatch_failures f
       WHERE f.team_id = :t AND f.consumer = c.consumer AND f.status = 'dead') AS dead
    FROM app.consumer_cursors c
    LEFT JOIN LATERAL (
      SELECT e.txid, e.id FROM app.events e
      WHERE e.team_id = :t AND (e.txid, e.id) <= (c.last_txid, c.last_event_id)
      ORDER BY e.txid DESC, e.id DESC
      LIMIT 1) mine ON true
    ORDER BY c.consumer
    """
)


async def consumers_for_team(conn: AsyncConnection, actor: Actor) -> dict[str, Any]:
    """Every consumer the worker has run, as far as the caller's team is concerned: the newest
    of the team's events it has passed (``0`` when none), how many of the team's events wait
    behind it (counted up to :data:`LAG_CAP`) and its open failures for the team."""
    rows = await conn.execute(_CONSUMERS, {"t": actor.team_id, "cap": LAG_CAP})
    data = [
        {
            "name": r.name,
            "last_txid": r.last_txid,
            "last_event_id": r.last_event_id,
            "updated_at": r.updated_at,
            "lag": r.lag,
            "lag_capped": r.lag >= LAG_CAP,
            "oldest_pending_at": r.oldest_pending_at,
            "failures": {"retrying": r.retrying, "dead": r.dead},
        }
        for r in rows
    ]
    return {"data": data, "next_cursor": None, "has_more": False}


__all__ = [
    "STATUSES",
    "CursorMoved",
    "Position",
    "advance_cursor",
    "consumers_for_team",
    "due_retries",
    "ensure_cursor",
    "get_for_team",
    "held_after",
    "list_for_team",
    "parse_statuses",
    "read_cursor",
    "record_failure",
    "retry_for_team",
    "retry_outcome",
]
