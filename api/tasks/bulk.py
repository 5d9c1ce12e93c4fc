"""Bulk actions on tasks: assign, reschedule, complete or delete many tasks at once, all or
nothing, through the same rules as one task at a time.

No savepoint per id: more than 64 subtransactions in one transaction overflow PostgreSQL's
snapshot cache and slow down every session of the server. A rule that refuses an id raises
before writing, so the transaction stays usable and the next ids are still tried; after a
database error (the transaction is aborted) the remaining ids are reported as not attempted
(424).

Without a round trip per id: what the rules read (members' zones, each id's blockers, subtasks
to delete) is read for all ids at the start, each id goes through the same rules in order (an id
finished earlier in the call no longer blocks a later one), and the rows are written at the end
with one statement per kind of change. Only what a row truly needs runs on its own (the next
occurrence of a recurring task). Should the database refuse one of those statements (a
constraint), the call is redone row by row (one savepoint around it) so that the answer names
the row, as it always did.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from psycopg.pq import TransactionStatus
from sqlalchemy import bindparam, column, func, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.records import plausible_id
from api.common.validate import RANGE_MESSAGE, in_range
from api.tasks.basics import DONE, local_shift, tx_now, zone
from api.tasks.service import TASKS, TaskService, task_service
from leadly.actor import Actor
from leadly.problem import Problem, validation
from warehouse import events
from warehouse.errors import db_problem
from warehouse.events import EventRecord, diff

_DURATION = re.compile(
    r"^(?P<sign>[+-])?P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?$"
)


def parse_shift(raw: str) -> tuple[timedelta, timedelta]:
    """ISO 8601 duration → (calendar part: weeks/days, exact part: hours/minutes/seconds)."""
    m = _DURATION.match(raw.strip().upper())
    if not m or raw.strip().upper().rstrip("T").endswith(("P", "-P", "+P")) or raw.endswith("T"):
        raise validation(
            [{"field": "shift_by", "message": "Not an ISO 8601 duration such as P1D or -PT2H."}]
        )
    g = {k: int(v) if v and k != "sign" else 0 for k, v in m.groupdict().items()}
    sign = -1 if m.group("sign") == "-" else 1
    try:
        cal = timedelta(weeks=g["w"], days=g["d"]) * sign
        exact = timedelta(hours=g["h"], minutes=g["m"], seconds=g["s"]) * sign
    except OverflowError:  # more days than a timedelta holds (about 2.7 million years)
        cal = exact = timedelta.max
    if abs(cal) > timedelta(days=3660) or abs(exact) > timedelta(days=3660):
        raise validation([{"field": "shift_by", "message": "Shift by at most ten years."}])
    if not cal and not exact:
        raise validation([{"field": "shift_by", "message": "The duration is zero."}])
    return cal, exact


# Every id's unfinished blockers, read once by a bulk complete (as BLOCKERS per id).
BULK_BLOCKERS = text(
    """
    SELECT d.task_id, d.depends_on_task_id, d.type, p.status, p.started_at
    FROM app.task_dependencies d
    JOIN app.tasks p ON p.team_id = d.team_id AND p.id = d.depends_on_task_id
    WHERE d.team_id = :team AND d.task_id = ANY(:tasks)
      AND p.deleted_at IS NULL AND p.status NOT IN ('completed', 'cancelled')
    ORDER BY d.task_id, d.created_at, d.id
    """
)

# The tasks of a bulk delete and their live subtasks, any depth (through live tasks, as
# TaskService.delete walks them), locked in id order.
BULK_TREE = text(
    """
    WITH RECURSIVE tree(id) AS (
      SELECT unnest(CAST(:ids AS text[]))
      UNION
      SELECT c.id FROM app.tasks c
      JOIN tree ON c.team_id = :team AND c.parent_task_id = tree.id
      WHERE c.deleted_at IS NULL
    )
    SELECT t.id, t.parent_task_id FROM app.tasks t
    WHERE t.team_id = :team AND t.id IN (SELECT id FROM tree) AND t.deleted_at IS NULL
    ORDER BY t.id
    FOR UPDATE OF t
    """
)


async def bulk_action(
    conn: AsyncConnection, actor: Actor, action: str, ids: list[str], opts: dict[str, Any]
) -> tuple[list[dict[str, Any]], bool]:
    """Apply ``action`` to every id; returns (results, all succeeded). The caller rolls
    everything back when one failed."""
    wanted = [i for i in ids if plausible_id(i)]
    rows = await conn.execute(
        task_service._scoped(actor)
        .where(TASKS.c.id.in_(wanted))
        .order_by(TASKS.c.id)  # one lock order: two bulks cannot deadlock
        .with_for_update()
    )
    visible = {r.id: dict(r._mapping) for r in rows}
    call = _BulkCall(defer=True)
    await call.prefetch(conn, actor, action, opts, visible)
    savepoint = await conn.begin_nested()
    results, ok = await call.run(conn, actor, action, ids, opts, visible)
    if ok:
        try:
            await call.flush(conn, actor)
        except DBAPIError as e:
            if db_problem(e) is None:
                raise
            # A rule the database enforces refused a row: redo it row by row.
            await savepoint.rollback()
            savepoint = await conn.begin_nested()
            call = _BulkCall(defer=False)
            results, ok = await call.run(conn, actor, action, ids, opts, visible)
    if not ok:
        await savepoint.rollback()
        return results, False
    await events.append(conn, *call.queued_events)
    await savepoint.commit()
    return results, True


@dataclass(eq=False)
class _BulkCall(TaskService):
    """One bulk call: the task service whose rules use what the call read at its start
    (members and dependencies do not change during it) and whose writes wait for its end
    (:meth:`flush`). ``defer=False``: the row-by-row path (each row written as it goes)."""

    defer: bool
    queued_events: list[EventRecord] = field(default_factory=list)
    pending: list[tuple[dict[str, Any], dict[str, Any], str, dict[str, Any] | None]] = field(
        default_factory=list
    )
    zones: dict[str, str] = field(default_factory=dict)
    looked_up: set[str] = field(default_factory=set)
    blockers: dict[str, list[Any]] | None = None
    finished: set[str] = field(default_factory=set)
    children: dict[str, list[str]] | None = None
    deleted: dict[str, None] = field(default_factory=dict)

    # ------------------------------------------------------------------ the rules' reads

    async def member_zones(
        self, conn: AsyncConnection, actor: Actor, ids: Iterable[str]
    ) -> dict[str, str]:
        wanted = [i for i in ids if plausible_id(i)]
        if self.looked_up.issuperset(wanted):
            return {i: self.zones[i] for i in wanted if i in self.zones}
        found = await super().member_zones(conn, actor, wanted)
        self.zones.update(found)
        self.looked_up.update(wanted)
        return found

    async def unfinished_blockers(
        self, conn: AsyncConnection, actor: Actor, task_id: str
    ) -> Iterable[Any]:
        if self.defer and self.blockers is not None and task_id in self.blockers:
            # Read for every id at the start; the ones the call has finished since (earlier
            # ids of the call) no longer block, as a fresh read would show.
            return [r for r in self.blockers[task_id] if r.depends_on_task_id not in self.finished]
        return await super().unfinished_blockers(conn, actor, task_id)

    async def prefetch(
        self,
        conn: AsyncConnection,
        actor: Actor,
        action: str,
        opts: dict[str, Any],
        visible: dict[str, dict[str, Any]],
    ) -> None:
        """Read once what the rules of ``action`` would read for each id."""
        if action == "delete":
            await self._read_tree(conn, actor, list(visible))
            return
        members: set[str] = set()
        if action == "assign":
            members.update(opts["assignee_ids"])
            for row in visible.values():
                members.update(row["assignee_ids"])
                members.add(row.get("created_by") or actor.member_id)
        elif action == "complete":
            for row in visible.values():
                if row["recurrence_rule"]:  # its next occurrence is created for its assignees
                    members.update(row["assignee_ids"])
                    members.add(actor.member_id)
            self.blockers = {id: [] for id in visible}
            if visible:
                found = await conn.execute(
                    BULK_BLOCKERS, {"team": actor.team_id, "tasks": list(visible)}
                )
                for r in found:
                    self.blockers[r.task_id].append(r)
        if members:
            await self.member_zones(conn, actor, sorted(members))
        await tx_now(conn)

    async def _read_tree(self, conn: AsyncConnection, actor: Actor, ids: list[str]) -> None:
        """Lock the live subtasks (any depth) of ``ids`` in id order and keep who is whose
        child: a delete takes them along."""
        self.children = {}
        if not ids:
            return
        rows = await conn.execute(BULK_TREE, {"team": actor.team_id, "ids": ids})
        for r in rows:
            if r.parent_task_id is not None:
                self.children.setdefault(r.parent_task_id, []).append(r.id)

    # ------------------------------------------------------------------ the writes

    async def apply(
        self,
        conn: AsyncConnection,
        actor: Actor,
        current: Mapping[str, Any],
        values: Mapping[str, Any],
        action: str,
        data: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Deferred: keep the change for :meth:`flush` (the answer is the row as it will be)."""
        if not self.defer:
            return await super().apply(conn, actor, current, values, action, data)
        self.pending.append((dict(current), dict(values), action, data))
        if values.get("status") in DONE:
            self.finished.add(current["id"])
        return {**current, **values}

    def _defer_delete(self, actor: Actor, id: str, now: datetime) -> None:
        """:meth:`delete` of ``id`` and its live subtasks, depth first, one event each; the
        rows are written by :meth:`flush`."""
        assert self.children is not None
        stack = [id]
        while stack:
            task_id = stack.pop()
            if task_id in self.deleted:
                continue
            self.deleted[task_id] = None
            self.queued_events.append(
                self._event(actor, task_id, "deleted", {"deleted_at": [None, now.isoformat()]})
            )
            kids = [c for c in self.children.get(task_id, ()) if c not in self.deleted]
            stack.extend(reversed(kids))

    async def flush(self, conn: AsyncConnection, actor: Actor) -> None:
        """Write what the call decided: the deletions in one statement; the other changes in
        one statement per set of changed columns (``UPDATE ... FROM jsonb_to_recordset``),
        whose returned rows give each task's event, in the order of the ids."""
        if self.deleted:
            now = await tx_now(conn)
            await conn.execute(
                update(TASKS)
                .where(TASKS.c.team_id == actor.team_id, TASKS.c.id.in_(list(self.deleted)))
                .values(deleted_at=now, version=TASKS.c.version + 1, updated_at=now)
            )
        if not self.pending:
            return
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for current, values, _action, _data in self.pending:
            cols = tuple(sorted(values))
            groups.setdefault(cols, []).append(
                {"id": current["id"], **{c: _json_value(values[c]) for c in cols}}
            )
        written: dict[str, dict[str, Any]] = {}
        for cols, payload in groups.items():
            v = (
                func.jsonb_to_recordset(bindparam("rows", payload, type_=JSONB))
                .table_valued(
                    column("id", TASKS.c.id.type), *[column(c, TASKS.c[c].type) for c in cols]
                )
                .render_derived(name="v", with_types=True)
            )
            stmt = (
                update(TASKS)
                .where(TASKS.c.team_id == actor.team_id, TASKS.c.id == v.c.id)
                .values(
                    {
                        **{c: v.c[c] for c in cols},
                        "version": TASKS.c.version + 1,
                        "updated_at": func.now(),
                    }
                )
                .returning(*self.public_columns.values())
            )
            for r in await conn.execute(stmt):
                written[r.id] = dict(r._mapping)
        for current, _values, action, data in self.pending:
            row = written[current["id"]]
            self.queued_events.append(
                self._event(actor, current["id"], action, diff(current, row), data)
            )

    # ------------------------------------------------------------------ each id

    async def run(
        self,
        conn: AsyncConnection,
        actor: Actor,
        action: str,
        ids: list[str],
        opts: dict[str, Any],
        visible: dict[str, dict[str, Any]],
    ) -> tuple[list[dict[str, Any]], bool]:
        """Each id in order: its result, and whether all succeeded."""
        results: list[dict[str, Any]] = []
        ok = True
        for n, id in enumerate(ids):
            if id not in visible:
                ok = False
                results.append({"id": id, "status": 404, "detail": f"No task with id {id!r}."})
                continue
            try:
                status = await self._one(conn, actor, action, id, opts, visible[id])
                results.append({"id": id, "status": status})
            except Problem as p:
                ok = False
                r = {"id": id, "status": p.status, "detail": p.detail}
                if "blocking_task_id" in p.extra:
                    r["blocking_task_id"] = p.extra["blocking_task_id"]
                if p.errors:
                    r["detail"] = "; ".join(f"{e['field']}: {e['message']}" for e in p.errors)
                results.append(r)
                if not await _usable(conn):
                    results += [
                        {"id": rest, "status": 424, "detail": "Not attempted."}
                        for rest in ids[n + 1 :]
                    ]
                    break
        return results, ok

    async def _one(
        self,
        conn: AsyncConnection,
        actor: Actor,
        action: str,
        id: str,
        opts: dict[str, Any],
        current: dict[str, Any],
    ) -> int:
        """One id of the call; ``current`` is its row as locked at the start (only a delete
        changes other rows of the call: its subtasks)."""
        if action == "delete":
            if self.defer:
                self._defer_delete(actor, id, await tx_now(conn))
            elif await self.exists(conn, actor, id):
                await self.delete(conn, actor, id)
            # else: a subtask already deleted with its parent earlier in this call.
            return 200
        if action == "complete":
            values: dict[str, Any] = {"status": "completed"}
        elif action == "assign":
            given = list(opts["assignee_ids"])
            have = list(current["assignee_ids"])
            mode = opts.get("mode", "replace")
            new = (
                given
                if mode == "replace"
                else have + [m for m in given if m not in have]
                if mode == "add"
                else [m for m in have if m not in given]
            )
            values = {"assignee_ids": new}
        elif "due_at" in opts:  # reschedule to a date
            values = {"due_at": opts["due_at"]}
        else:  # reschedule by a duration
            values = {"due_at": _shifted(current, opts["shift"])}
        await self.update(conn, actor, id, values, rollup=False, current=current)
        return 200


def _shifted(task: Mapping[str, Any], shift: tuple[timedelta, timedelta]) -> datetime:
    """The task's due date moved by (calendar part, exact part) in its time zone."""
    if task["due_at"] is None:
        raise validation([{"field": "shift_by", "message": "The task has no due_at to shift."}])
    cal, exact = shift
    tz = zone(task["time_zone"])
    try:
        moved = local_shift(task["due_at"], cal, tz, calendar=True) if cal else task["due_at"]
        moved = (moved + exact).astimezone(UTC)
    except OverflowError:  # beyond year 9999: out of range as well
        moved = None
    if moved is None or not in_range(moved):
        raise validation([{"field": "shift_by", "message": f"Shifted: {RANGE_MESSAGE}"}])
    return moved


def _json_value(value: Any) -> Any:
    """A column value for ``jsonb_to_recordset`` (read back exactly by the column's type)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return value


async def _usable(conn: AsyncConnection) -> bool:
    """False when a database error aborted the transaction (read from the driver's state: no
    round trip)."""
    raw = await conn.get_raw_connection()
    status = raw.driver_connection.info.transaction_status  # type: ignore[union-attr]
    return status not in (TransactionStatus.INERROR, TransactionStatus.UNKNOWN)
