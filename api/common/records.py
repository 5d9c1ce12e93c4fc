"""The one write path for standard records (leads, contacts, accounts, call logs, ...).

A :class:`RecordService` owns one table. Every create, update, delete, restore and merge goes
through it and appends its event in the same transaction. Domain services subclass it and add
their rules in the ``validate``/``before_*`` hooks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import Column, DateTime, Numeric, Table, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common import custom_fields, custom_formulas
from api.common.dedupe import check_email_unique, duplicate_problem, find_by_email
from api.common.listing import Lister, ListParams, pick
from api.common.refs import check_refs, plausible_id
from api.common.visibility import restriction
from leadly.actor import Actor
from leadly.ids import new_id
from leadly.problem import Problem, not_found, validation
from warehouse import events
from warehouse.errors import db_problem
from warehouse.events import EventRecord, diff
from warehouse.models import Account, TeamMember

HIDDEN = frozenset({"team_id", "deleted_at"})

#: ``expand=<name>``: the record named by ``<name>_id`` and the columns shown of it.
EXPANSIONS: dict[str, tuple[Table, tuple[str, ...]]] = {
    "owner": (TeamMember.__table__, ("id", "name", "email")),
    "account": (Account.__table__, ("id", "name", "domain")),
}


def require_any(
    values: Mapping[str, Any],
    current: Mapping[str, Any] | None,
    fields: Iterable[str],
    *,
    field: str,
    message: str,
) -> None:
    """A 422 naming ``field`` unless one of ``fields`` has a value once ``values`` are applied
    over ``current`` (None: a create), e.g. a contact needs a name or an email."""
    merged = {**(current or {}), **values}
    if not any(merged.get(f) for f in fields):
        raise validation([{"field": field, "message": message}])


@dataclass(frozen=True, slots=True)
class OneOf:
    """A record needs a value in one of ``fields``: else a 422 naming ``field`` (``message``)."""

    fields: tuple[str, ...]
    field: str
    message: str


READ_ONLY = frozenset(
    {"id", "team_id", "created_at", "updated_at", "version", "deleted_at", "created_by"}
)


def check_writable(
    values: Mapping[str, Any], allow: Iterable[str] = (), read_only: Iterable[str] = READ_ONLY
) -> None:
    """A 422 naming every field of ``values`` that is ``read_only`` (system-managed) unless the
    caller may set it (``allow``: a merge, a conversion)."""
    blocked = (set(values) & set(read_only)) - set(allow)
    if blocked:
        raise validation(
            [{"field": f, "message": "Read-only field."} for f in sorted(blocked)],
            "Read-only fields cannot be changed.",
        )


def actor_event(
    actor: Actor,
    object_type: str,
    object_id: str,
    action: str,
    changes: dict[str, list[Any]],
    data: dict[str, Any] | None = None,
) -> EventRecord:
    """The event of a change ``actor`` made (team, actor and request id from the actor)."""
    return EventRecord(
        team_id=actor.team_id,
        actor_type=actor.actor_type,
        actor_id=actor.member_id,
        object_type=object_type,
        object_id=object_id,
        action=action,
        changes=changes,
        request_id=actor.request_id,
        data=data,
    )


class RecordService:
    table: ClassVar[Table]
    object_type: ClassVar[str]  # singular: "lead"
    plural: ClassVar[str]  # "leads"
    prefix: ClassVar[str]  # id prefix: "lead"
    soft_delete: ClassVar[bool] = True
    extra_hidden: ClassVar[frozenset[str]] = frozenset()
    unique_email: ClassVar[bool] = False  # a live record's email is unique in the team
    required: ClassVar[OneOf | None] = None  # what a record cannot be without
    refs: ClassVar[Mapping[str, tuple[Table, str]]] = {}  # fields naming another record

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if not hasattr(cls, "table"):
            return
        cols = cls.table.c
        hidden = HIDDEN | cls.extra_hidden
        cls.public_columns: dict[str, Column[Any]] = {"id": cols.id} | {
            c.name: c for c in cols if c.name not in hidden and not c.name.endswith("_normalized")
        }
        twins = {
            c.name.removesuffix("_normalized"): c for c in cols if c.name.endswith("_normalized")
        }
        cls.lister = Lister(cls.public_columns, cols.id, twins)
        cls._select = select(*cls.public_columns.values())
        stmt = insert(cls.table)
        if cls.unique_email:
            # Enforced by the unique partial index (team_id, email_normalized) of live records.
            stmt = stmt.on_conflict_do_nothing(
                index_elements=[cols.team_id, cols.email_normalized],
                index_where=cols.deleted_at.is_(None),
            )
        cls._insert = stmt.returning(*cls.public_columns.values())

    # ------------------------------------------------------------------ hooks

    async def validate(
        self,
        conn: AsyncConnection,
        actor: Actor,
        values: dict[str, Any],
        current: Mapping[str, Any] | None,
    ) -> None:
        """Domain rules before a create (``current`` None) or an update; raise Problem. Here, in
        this order: ``required``, the domain's own :meth:`rules`, ``refs`` (each names a live
        record of the team) and, with ``unique_email``, an update's email is not another live
        record's (creates: the unique index answers, see :meth:`create`)."""
        if self.required is not None:
            need = self.required
            require_any(values, current, need.fields, field=need.field, message=need.message)
        self.rules(actor, values, current)
        if self.refs:
            await check_refs(conn, actor, values, current, self.refs)
        if self.unique_email and current is not None:
            await check_email_unique(conn, actor, self.table, self.object_type, values, current)
        if "custom" in self.table.c:
            if current is None or "custom" in values:
                await custom_fields.check_standard(conn, actor, self.plural, values, current)
            await custom_formulas.check_standard_rules(conn, actor, self.plural, values, current)

    def rules(
        self, actor: Actor, values: dict[str, Any], current: Mapping[str, Any] | None
    ) -> None:
        """A domain's own checks (raise Problem) and defaults (fill ``values``) of a write,
        after ``required``, before ``refs``."""

    async def before_restore(
        self, conn: AsyncConnection, actor: Actor, row: Mapping[str, Any]
    ) -> None:
        """Domain rules before a soft-deleted record comes back. Here: with ``unique_email``,
        the email may have been taken by another record while this one was deleted."""
        if self.unique_email:
            email = {"email": row["email"]}
            await check_email_unique(conn, actor, self.table, self.object_type, email, None)

    async def missing(self, conn: AsyncConnection, actor: Actor, id: str) -> Problem:
        """The problem for an id that names no live record (domains may say more)."""
        return not_found(self.object_type, id)

    async def duplicate(
        self, conn: AsyncConnection, actor: Actor, values: Mapping[str, Any]
    ) -> Problem:
        """409 for a create refused by the unique email index, naming the existing record."""
        existing = await find_by_email(conn, actor, self.table, values["email"])
        return duplicate_problem(self.object_type, values["email"], existing)

    # ------------------------------------------------------------------ reads

    def _scoped(self, actor: Actor, *, include_deleted: bool = False) -> Any:
        """The records ``actor`` may read (``api.common.visibility``), live ones unless
        ``include_deleted``: every read path starts here."""
        t = self.table
        q = self._select.where(t.c.team_id == actor.team_id)
        cond = restriction(actor, self.object_type, t.c.id)
        if cond is not None:
            q = q.where(cond)
        if self.soft_delete and not include_deleted:
            q = q.where(t.c.deleted_at.is_(None))
        return q

    async def _check_visible(self, conn: AsyncConnection, actor: Actor, id: str) -> None:
        """404 unless ``actor`` may read the record (deleted or not): ``as_of`` and history
        follow the record read, they are not a way around it."""
        if restriction(actor, self.object_type, self.table.c.id) is None:
            return
        q = self._scoped(actor, include_deleted=True).where(self.table.c.id == id)
        if (await conn.execute(q)).first() is None:
            raise not_found(self.object_type, id)

    async def get(
        self, conn: AsyncConnection, actor: Actor, id: str, *, for_update: bool = False
    ) -> dict[str, Any]:
        if not plausible_id(id):
            raise not_found(self.object_type, id)
        q = self._scoped(actor).where(self.table.c.id == id)
        if for_update:
            q = q.with_for_update()
        row = (await conn.execute(q)).first()
        if row is None:
            raise await self.missing(conn, actor, id)
        return dict(row._mapping)

    async def get_many(
        self, conn: AsyncConnection, actor: Actor, ids: Iterable[str]
    ) -> dict[str, dict[str, Any]]:
        wanted = [i for i in ids if plausible_id(i)]
        rows = await conn.execute(self._scoped(actor).where(self.table.c.id.in_(wanted)))
        return {r.id: dict(r._mapping) for r in rows}

    async def list(
        self, conn: AsyncConnection, actor: Actor, params: ListParams, extra: Iterable[Any] = ()
    ) -> dict[str, Any]:
        lister, stmt = self.lister, self._scoped(actor).where(*extra)
        typed = "custom" in self.public_columns and custom_fields.mentioned(params)
        if typed:  # filter[custom.x] / sort=custom.x compare the field's typed value
            lister, columns = await custom_fields.lister(conn, actor, self.plural, lister)
            stmt = stmt.add_columns(*columns)
        stmt, keys = lister.apply(stmt, params)
        rows = [dict(r._mapping) for r in await conn.execute(stmt)]
        has_more = len(rows) > params.limit
        rows = rows[: params.limit]
        next_cursor = lister.encode_cursor(keys, rows[-1]) if has_more and rows else None
        if typed:
            rows = [{k: v for k, v in r.items() if not k.startswith("custom.")} for r in rows]
        rows = await self.shape(conn, actor, rows, params)
        return {"data": rows, "next_cursor": next_cursor, "has_more": has_more}

    async def shape(
        self,
        conn: AsyncConnection,
        actor: Actor,
        rows: list[dict[str, Any]],
        params: ListParams,
        *,
        fields: bool = True,
    ) -> list[dict[str, Any]]:
        """``expand=`` (one level: ``owner`` → ``{id, name, email}`` beside ``owner_id``,
        ``account`` → ``{id, name, domain}`` beside ``account_id``; null when there is none)
        and, unless ``fields`` is False, the sparse fieldset ``fields=`` (``custom.x`` keeps
        ``custom`` nested), for a list or one record (400 for what the object does not have)."""
        chosen = self.lister.fields(params.fields) if fields else None
        for name in params.expand:
            if name not in EXPANSIONS or f"{name}_id" not in self.public_columns:
                raise Problem(
                    400,
                    f"{self.plural} cannot expand {name!r} (expand takes: "
                    f"{', '.join(n for n in EXPANSIONS if f'{n}_id' in self.public_columns)}).",
                    errors=[{"field": "expand", "message": f"Cannot expand {name!r}."}],
                )
        for name in params.expand:
            table, columns = EXPANSIONS[name]
            ids = sorted({r[f"{name}_id"] for r in rows if r.get(f"{name}_id")})
            found: dict[str, dict[str, Any]] = {}
            if ids:
                q = select(*[table.c[c] for c in columns]).where(
                    table.c.team_id == actor.team_id, table.c.id.in_(ids)
                )
                if "deleted_at" in table.c:
                    q = q.where(table.c.deleted_at.is_(None))
                found = {r.id: dict(r._mapping) for r in await conn.execute(q)}
            for r in rows:
                r[name] = found.get(r.get(f"{name}_id"))
        if chosen is not None:
            keep = [*chosen, *params.expand]
            rows = [pick(r, keep) for r in rows]
        return rows

    async def as_of(
        self, conn: AsyncConnection, actor: Actor, id: str, moment: datetime
    ) -> dict[str, Any]:
        if not plausible_id(id):
            raise not_found(self.object_type, id)
        await self._check_visible(conn, actor, id)
        evts = await events.for_object(conn, self.object_type, id, until=moment)
        state = events.replay(evts)
        if state is None or state.get("deleted_at"):
            raise Problem(
                404, f"No {self.object_type} with id {id!r} existed at {moment.isoformat()}."
            )
        state.setdefault("id", id)
        state["created_at"] = evts[0]["occurred_at"]
        state["updated_at"] = evts[-1]["occurred_at"]
        # Every event that changed a field bumped the version once (a merge that filled nothing
        # records an event without changes and leaves the version alone).
        state["version"] = sum(1 for e in evts if e["action"] != "created" and e["changes"]) + 1
        return self.from_state(state)

    def from_state(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """A record's state replayed from its events as the API shows it (a hook: custom
        objects rebuild their fields from the per-field changes)."""
        return {k: _typed(c, state.get(k)) for k, c in self.public_columns.items()}

    async def history(
        self, conn: AsyncConnection, actor: Actor, id: str, *, after_id: int = 0, limit: int = 100
    ) -> dict[str, Any]:
        if not plausible_id(id):
            raise not_found(self.object_type, id)
        await self._check_visible(conn, actor, id)
        evts = await events.for_object(
            conn, self.object_type, id, after_id=after_id, limit=limit + 1
        )
        if not evts and after_id == 0:
            raise not_found(self.object_type, id)
        has_more = len(evts) > limit
        evts = evts[:limit]
        data = [
            {
                "event_id": e["id"],
                "action": e["action"],
                "field": field,
                "old": old,
                "new": new,
                "changed_at": e["occurred_at"],
                "changed_by": e["actor_id"],
                "actor_type": e["actor_type"],
                "request_id": e["request_id"],
            }
            for e in evts
            for field, (old, new) in (e["changes"].items() or [(None, (None, None))])
        ]
        return {
            "data": data,
            "next_cursor": str(evts[-1]["id"]) if has_more else None,
            "has_more": has_more,
        }

    # ------------------------------------------------------------------ writes

    def _event(
        self,
        actor: Actor,
        id: str,
        action: str,
        changes: dict[str, list[Any]],
        data: dict[str, Any] | None = None,
    ) -> EventRecord:
        return actor_event(actor, self.object_type, id, action, changes, data)

    async def create(
        self,
        conn: AsyncConnection,
        actor: Actor,
        values: dict[str, Any],
        *,
        extra_events: Iterable[EventRecord] = (),
        data: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Insert a record and its ``created`` event (``data``: the event's context)."""
        values = dict(values)
        await self.validate(conn, actor, values, None)
        row_values = {
            **values,
            "team_id": actor.team_id,
            "id": values.get("id") or new_id(self.prefix),
        }
        if "created_by" in self.table.c and actor.actor_type != "system":
            row_values["created_by"] = actor.member_id
        result = (await execute(conn, self._insert, row_values)).first()
        if result is None:  # ON CONFLICT DO NOTHING: a live record already has this email
            raise await self.duplicate(conn, actor, row_values)
        row = dict(result._mapping)
        await events.append(
            conn, self._event(actor, row["id"], "created", diff(None, row), data), *extra_events
        )
        return row

    async def update(
        self,
        conn: AsyncConnection,
        actor: Actor,
        id: str,
        values: dict[str, Any],
        *,
        if_match: int | None = None,
        action: str = "updated",
        allow: Iterable[str] = (),
    ) -> dict[str, Any]:
        current = await self.get(conn, actor, id, for_update=True)
        check_version(current, if_match)
        check_writable(values, allow)
        await self.validate(conn, actor, values, current)
        if not diff(current, {**current, **values}):
            return current
        return await self.apply(conn, actor, current, values, action)

    async def apply(
        self,
        conn: AsyncConnection,
        actor: Actor,
        current: Mapping[str, Any],
        values: Mapping[str, Any],
        action: str,
        data: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Write ``values`` onto the locked row ``current`` (version + 1) and append the
        ``action`` event with the before/after of what changed. Callers have checked the rules."""
        t = self.table
        stmt = (
            update(t)
            .where(t.c.team_id == actor.team_id, t.c.id == current["id"])
            .values(**values, version=t.c.version + 1, updated_at=func.now())
            .returning(*self.public_columns.values())
        )
        row = dict((await execute(conn, stmt)).one()._mapping)
        await events.append(
            conn, self._event(actor, current["id"], action, diff(current, row), data)
        )
        return row

    async def delete(
        self, conn: AsyncConnection, actor: Actor, id: str, *, if_match: int | None = None
    ) -> None:
        current = await self.get(conn, actor, id, for_update=True)
        check_version(current, if_match)
        t = self.table
        now = (await conn.execute(select(func.now()))).scalar_one()
        await conn.execute(
            update(t)
            .where(t.c.team_id == actor.team_id, t.c.id == id)
            .values(deleted_at=now, version=t.c.version + 1, updated_at=now)
        )
        await events.append(
            conn, self._event(actor, id, "deleted", {"deleted_at": [None, now.isoformat()]})
        )

    async def restore(self, conn: AsyncConnection, actor: Actor, id: str) -> dict[str, Any]:
        t = self.table
        if not plausible_id(id):
            raise not_found(f"deleted {self.object_type}", id)
        found = (
            await conn.execute(
                select(*self.public_columns.values(), t.c.deleted_at)
                .where(t.c.team_id == actor.team_id, t.c.id == id, t.c.deleted_at.is_not(None))
                .with_for_update()
            )
        ).first()
        if found is None:
            raise not_found(f"deleted {self.object_type}", id)
        current = dict(found._mapping)
        await self.before_restore(conn, actor, current)
        res = await execute(
            conn,
            update(t)
            .where(t.c.team_id == actor.team_id, t.c.id == id)
            .values(deleted_at=None, version=t.c.version + 1, updated_at=func.now())
            .returning(*self.public_columns.values()),
        )
        await events.append(
            conn,
            self._event(
                actor,
                id,
                "restored",
                {"deleted_at": [current["deleted_at"].isoformat(), None]},
            ),
        )
        return dict(res.one()._mapping)


async def execute(conn: AsyncConnection, stmt: Any, params: Any = None) -> Any:
    """Execute a write; constraint violations become 409/422 problems."""
    try:
        return await conn.execute(stmt, params)
    except DBAPIError as e:
        problem = db_problem(e)
        if problem is None:
            raise
        raise problem from None


def _typed(column: Column[Any], value: Any) -> Any:
    """A value replayed from the event log (JSON) back to the column's Python type, so a
    record read ``as_of`` is encoded exactly like a live one."""
    if value is None:
        return None
    try:
        if isinstance(column.type, DateTime) and isinstance(value, str):
            return datetime.fromisoformat(value)
        if isinstance(column.type, Numeric) and not isinstance(value, Decimal):
            return Decimal(str(value))
    except (ValueError, ArithmeticError):
        return value
    return value


def check_version(current: Mapping[str, Any], if_match: int | None) -> None:
    if if_match is not None and current["version"] != if_match:
        raise Problem(
            412,
            f"The record changed since you read it (version {current['version']}, "
            f"If-Match {if_match}). Fetch it again and retry.",
            title="Precondition Failed",
            current_version=current["version"],
        )
