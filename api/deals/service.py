"""Deals: the single gate for every deal rule.

Every write to a deal (the API's create, PATCH, batch and move, lead conversion, the stage
removal of the pipeline builder, progression rules, and later imports, workflows and
sequences) goes through :class:`DealService`, which enforces:

* a deal sits on a stage of its pipeline (default pipeline and its first stage unless given);
* entering a stage needs that stage's ``required_fields`` (422 naming each missing one); a lost
  stage needs ``loss_reason``, a won stage ``win_reason``;
* a won or lost deal leaves its stage only with ``reopen: true``;
* entering a stage sets ``probability`` to the stage's default unless the same request gives
  one, ``stage_changed_at`` to now, ``status`` (open/won/lost), and for a won or lost stage
  ``actual_close_date`` to today (UTC) unless given (reopening clears it);
* every stage change writes a stage-history row (time spent in the previous stage) and an
  ``updated`` event whose ``changes.stage`` is ``[old, new]``;
* after a change that did not pick a stage, the pipeline's progression rules
  (:mod:`api.pipelines.rules`) may advance an open deal (a second event, by the system actor).

The board is :mod:`api.deals.board`, velocity and the weighted pipeline
:mod:`api.deals.analytics`, card order within a column :mod:`api.deals.positions`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import msgspec
from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.listing import ListParams, pick
from api.common.records import READ_ONLY, RecordService, check_version, execute
from api.common.refs import check_refs
from api.deals.positions import position
from api.pipelines import rules
from api.pipelines.service import pipeline_service, stage_of
from leadly.actor import Actor, system_actor
from leadly.ids import new_id
from leadly.problem import Problem, validation
from warehouse import events
from warehouse.events import EventRecord, diff, jsonable
from warehouse.models import Account, Contact, Lead, TeamMember
from warehouse.models.deals import Deal, DealContact, DealStageHistory, Pipeline

REFS = {
    "owner_id": (TeamMember.__table__, "member"),
    "lead_id": (Lead.__table__, "lead"),
    "account_id": (Account.__table__, "account"),
}
# Below 10^13 a value with cents has at most 15 significant digits, so the event log (JSON
# numbers) and everything rebuilt from it (as_of, history, dbt) hold it exactly.
MAX_VALUE = Decimal(10) ** 13
CENT = Decimal("0.01")
DAY = 86400

dc = DealContact.__table__
history = DealStageHistory.__table__
pipelines = Pipeline.__table__


def money(v: Decimal | None) -> str | None:
    return None if v is None else str(Decimal(v).quantize(CENT, rounding=ROUND_HALF_UP))


def weighted(value: Decimal | None, probability: int) -> Decimal | None:
    if value is None:
        return None
    return (Decimal(value) * probability / 100).quantize(CENT, rounding=ROUND_HALF_UP)


def value_totals() -> tuple[Any, Any, Any]:
    """Aggregates of a group of deals: how many, their total value and their weighted value
    (value x probability, to the cent)."""
    t = Deal.__table__
    return (
        func.count(),
        func.coalesce(func.sum(t.c.value), 0),
        func.coalesce(func.round(func.sum(t.c.value * t.c.probability) / 100, 2), 0),
    )


def entry_errors(
    stage: Mapping[str, Any], state: Mapping[str, Any], contacts: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The fields ``state`` lacks to be in ``stage`` (required fields, win/loss reason)."""
    wanted = list(stage["required_fields"])
    if stage["is_lost"]:
        wanted.append("loss_reason")
    if stage["is_won"]:
        wanted.append("win_reason")
    missing = []
    for f in dict.fromkeys(wanted):
        v = contacts if f == "contacts" else rules.field_value(state, f)
        if rules.is_empty(v):
            missing.append(f)
    return [
        {"field": f, "message": f"Required to enter stage {stage['name']!r} ({stage['key']})."}
        for f in missing
    ]


def gate_problem(stage: Mapping[str, Any], errors: list[dict[str, Any]]) -> Problem:
    """422 naming every field ``errors`` lists as missing to be in ``stage``."""
    names = ", ".join(e["field"] for e in errors)
    return validation(errors, f"Stage {stage['name']!r} ({stage['key']}) needs: {names}.")


def _check_money(values: Mapping[str, Any]) -> None:
    v = values.get("value")
    if v is None:
        return
    message = None
    try:
        if not v.is_finite() or v < 0:
            message = "A deal's value is a finite amount of 0 or more."
        elif v >= MAX_VALUE:
            message = "A deal's value is below 10^13."
        elif v != v.quantize(CENT):
            message = "A deal's value has at most 2 decimal places."
    except InvalidOperation:
        message = "Not a decimal amount."
    if message:
        raise validation([{"field": "value", "message": message}])


def _contacts_in(raw: Iterable[Any]) -> list[dict[str, Any]]:
    out = []
    for c in raw:
        c = msgspec.to_builtins(c) if isinstance(c, msgspec.Struct) else dict(c)
        out.append({"contact_id": c["contact_id"], "role": c.get("role")})
    return sorted(out, key=lambda c: c["contact_id"])


class DealService(RecordService):
    table = Deal.__table__
    object_type = "deal"
    plural = "deals"
    prefix = "deal"

    # ------------------------------------------------------------------ reads

    async def present(
        self,
        conn: AsyncConnection,
        actor: Actor,
        rows: Sequence[Mapping[str, Any]],
        contacts: Mapping[str, list[dict[str, Any]]] | None = None,
        *,
        pipelines: Sequence[Mapping[str, Any]] | None = None,
        now: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Rows as the API shows them: money as strings, contacts, weighted value, aging at
        ``now`` (default: now; ``pipelines``: the rows' pipelines when the caller has them)."""
        if not rows:
            return []
        ids = [r["id"] for r in rows]
        if contacts is None:
            contacts = await self.contacts_of(conn, actor, ids)
        if pipelines is not None and {r["pipeline_id"] for r in rows} <= {
            p["id"] for p in pipelines
        }:
            stages = {(p["id"], s["key"]): s for p in pipelines for s in p["stages"]}
        else:
            stages = await self._stage_map(conn, actor, {r["pipeline_id"] for r in rows})
        now = now or datetime.now(UTC)
        out = []
        for r in rows:
            row = dict(r)
            days = max(0, int((now - r["stage_changed_at"]).total_seconds() // DAY))
            stage = stages.get((r["pipeline_id"], r["stage"])) or {}
            rot = stage.get("rot_days")
            row["value"] = money(r["value"])
            row["weighted_value"] = money(weighted(r["value"], r["probability"]))
            row["days_in_stage"] = days
            row["is_rotting"] = bool(r["status"] == "open" and rot is not None and days > rot)
            row["contacts"] = contacts.get(r["id"], [])
            out.append(row)
        return out

    async def _stage_map(
        self, conn: AsyncConnection, actor: Actor, pipeline_ids: Iterable[str]
    ) -> dict[tuple[str, str], dict[str, Any]]:
        rows = await conn.execute(
            select(pipelines.c.id, pipelines.c.stages).where(
                pipelines.c.team_id == actor.team_id, pipelines.c.id.in_(list(pipeline_ids))
            )
        )
        return {(r.id, s["key"]): s for r in rows for s in r.stages}

    async def contacts_of(
        self, conn: AsyncConnection, actor: Actor, deal_ids: Sequence[str]
    ) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {i: [] for i in deal_ids}
        rows = await conn.execute(
            select(dc.c.deal_id, dc.c.id, dc.c.role)
            .where(dc.c.team_id == actor.team_id, dc.c.deal_id.in_(list(deal_ids)))
            .order_by(dc.c.deal_id, dc.c.id)
        )
        for r in rows:
            out.setdefault(r.deal_id, []).append({"contact_id": r.id, "role": r.role})
        return out

    async def get(
        self, conn: AsyncConnection, actor: Actor, id: str, *, for_update: bool = False
    ) -> dict[str, Any]:
        row = await super().get(conn, actor, id, for_update=for_update)
        return row if for_update else (await self.present(conn, actor, [row]))[0]

    async def list(
        self, conn: AsyncConnection, actor: Actor, params: ListParams, extra: Iterable[Any] = ()
    ) -> dict[str, Any]:
        fields = self.lister.fields(params.fields)
        out = await super().list(conn, actor, dataclasses.replace(params, fields=None), extra)
        data = await self.present(conn, actor, out["data"])
        if fields is not None:
            data = [pick(r, [*fields, *params.expand]) for r in data]
        return {**out, "data": data}

    async def as_of(
        self, conn: AsyncConnection, actor: Actor, id: str, moment: datetime
    ) -> dict[str, Any]:
        row = await super().as_of(conn, actor, id, moment)
        state = events.replay(await events.for_object(conn, self.object_type, id, until=moment))
        contacts = (state or {}).get("contacts") or []
        return (await self.present(conn, actor, [row], {id: contacts}, now=moment))[0]

    async def before_restore(
        self, conn: AsyncConnection, actor: Actor, row: Mapping[str, Any]
    ) -> None:
        """A deal comes back only into a live pipeline (and onto one of its stages)."""
        pipeline = (await pipeline_service.get_many(conn, actor, [row["pipeline_id"]])).get(
            row["pipeline_id"]
        )
        if pipeline is None or all(s["key"] != row["stage"] for s in pipeline["stages"]):
            raise Problem(
                409,
                f"Deal {row['id']!r} was in a pipeline or stage that no longer exists.",
                title="Conflict",
            )

    async def restore(self, conn: AsyncConnection, actor: Actor, id: str) -> dict[str, Any]:
        return (await self.present(conn, actor, [await super().restore(conn, actor, id)]))[0]

    async def stage_history(
        self, conn: AsyncConnection, actor: Actor, id: str
    ) -> dict[str, list[dict[str, Any]]]:
        await super().get(conn, actor, id)
        rows = await conn.execute(
            select(
                history.c.from_stage,
                history.c.to_stage,
                history.c.changed_at,
                history.c.changed_by,
                history.c.duration_in_stage,
            )
            .where(history.c.team_id == actor.team_id, history.c.deal_id == id)
            .order_by(history.c.changed_at, history.c.id)
        )
        return {"data": [dict(r._mapping) for r in rows]}

    # ------------------------------------------------------------------ pipeline look-ups

    async def _pipeline(
        self, conn: AsyncConnection, actor: Actor, pipeline_id: str | None
    ) -> dict[str, Any]:
        if pipeline_id is None:
            found = await pipeline_service.default_for(conn, actor)
            if found is None:
                raise validation(
                    [{"field": "pipeline_id", "message": "Your team has no default pipeline."}]
                )
            return found
        found = (await pipeline_service.get_many(conn, actor, [pipeline_id])).get(pipeline_id)
        if found is None:
            raise validation(
                [{"field": "pipeline_id", "message": "No pipeline with this id in your team."}]
            )
        return found

    @staticmethod
    def _stage(pipeline: Mapping[str, Any], key: str) -> dict[str, Any]:
        stage = stage_of(pipeline, key)
        if stage is None:
            keys = ", ".join(s["key"] for s in pipeline["stages"])
            raise validation(
                [
                    {
                        "field": "stage",
                        "message": f"No stage {key!r} in pipeline {pipeline['name']!r} "
                        f"(stages: {keys}).",
                    }
                ]
            )
        return stage

    # ------------------------------------------------------------------ checks

    async def _check_contacts(
        self, conn: AsyncConnection, actor: Actor, contacts: list[dict[str, Any]]
    ) -> None:
        if not contacts:
            return
        ids = [c["contact_id"] for c in contacts]
        errors = []
        seen: set[str] = set()
        for i, cid in enumerate(ids):
            if cid in seen:
                errors.append(
                    {"field": f"contacts[{i}].contact_id", "message": "This contact repeats."}
                )
            seen.add(cid)
        t = Contact.__table__
        live = set(
            (
                await conn.execute(
                    select(t.c.id).where(
                        t.c.team_id == actor.team_id, t.c.id.in_(ids), t.c.deleted_at.is_(None)
                    )
                )
            ).scalars()
        )
        errors += [
            {
                "field": f"contacts[{i}].contact_id",
                "message": "No contact with this id in your team.",
            }
            for i, cid in enumerate(ids)
            if cid not in live
        ]
        if errors:
            raise validation(errors, "contacts: check the contact ids.")

    @staticmethod
    async def _now(conn: AsyncConnection) -> datetime:
        return (await conn.execute(select(func.now()))).scalar_one()

    # ------------------------------------------------------------------ writes

    async def create(
        self,
        conn: AsyncConnection,
        actor: Actor,
        values: dict[str, Any],
        *,
        extra_events: Iterable[EventRecord] = (),
        data: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        row, contacts = await self.create_raw(
            conn, actor, values, extra_events=extra_events, data=data
        )
        return (await self.present(conn, actor, [row], {row["id"]: contacts}))[0]

    async def create_raw(
        self,
        conn: AsyncConnection,
        actor: Actor,
        values: dict[str, Any],
        *,
        extra_events: Iterable[EventRecord] = (),
        progress: bool = True,
        data: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Insert a deal through the stage gate; its ``created`` event carries ``data``."""
        values = dict(values)
        values.pop("reopen", None)
        contacts = _contacts_in(values.pop("contacts", None) or [])
        pipeline = await self._pipeline(conn, actor, values.get("pipeline_id"))
        values["pipeline_id"] = pipeline["id"]
        key = values.get("stage") or pipeline["stages"][0]["key"]
        stage = self._stage(pipeline, key)
        now = await self._now(conn)
        values["stage"] = key
        values.update(self._entering(stage, values, now))
        errors = entry_errors(stage, values, contacts)
        if errors:
            raise gate_problem(stage, errors)
        _check_money(values)
        await check_refs(conn, actor, values, None, REFS)
        await self._check_contacts(conn, actor, contacts)
        values["position"] = await position(conn, actor, pipeline["id"], key, None, None)
        row_values = {**values, "team_id": actor.team_id, "id": values.get("id") or new_id("deal")}
        if actor.actor_type != "system":
            row_values["created_by"] = actor.member_id
        row = dict((await execute(conn, self._insert, row_values)).one()._mapping)
        await self._write_contacts(conn, actor, row["id"], contacts)
        await self._history(conn, actor, row, None, None, now)
        await events.append(
            conn,
            self._event(
                actor, row["id"], "created", diff(None, {**row, "contacts": contacts}), data
            ),
            *extra_events,
        )
        if progress:
            row = await self._progress(conn, actor, row, contacts, pipeline)
        return row, contacts

    @staticmethod
    def _entering(stage: Mapping[str, Any], values: Mapping[str, Any], now: datetime) -> dict:
        """What entering ``stage`` sets (the request's own values win)."""
        closed = stage["is_won"] or stage["is_lost"]
        out: dict[str, Any] = {
            "probability": values.get("probability")
            if values.get("probability") is not None
            else stage["probability"],
            "status": "won" if stage["is_won"] else "lost" if stage["is_lost"] else "open",
            "stage_changed_at": now,
        }
        given = values.get("actual_close_date")  # null (a create's default) is "not given"
        if given is not None:
            out["actual_close_date"] = given
        else:
            out["actual_close_date"] = now.astimezone(UTC).date() if closed else None
        return out

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
        values = dict(values)
        reopen = bool(values.pop("reopen", False))
        current = await super().get(conn, actor, id, for_update=True)
        check_version(current, if_match)
        blocked = (set(values) & (READ_ONLY | {"status", "stage_changed_at", "position"})) - set(
            allow
        )
        if blocked:
            raise validation(
                [{"field": f, "message": "Read-only field."} for f in sorted(blocked)],
                "Read-only fields cannot be changed.",
            )
        row, contacts = await self.change(conn, actor, current, values, reopen=reopen)
        return (await self.present(conn, actor, [row], {row["id"]: contacts}))[0]

    async def move(
        self,
        conn: AsyncConnection,
        actor: Actor,
        id: str,
        values: dict[str, Any],
        position: int | None,
        *,
        reopen: bool = False,
        if_match: int | None = None,
    ) -> dict[str, Any]:
        """Kanban move: into ``values['stage']`` at ``position`` of its column (None: the end)."""
        current = await super().get(conn, actor, id, for_update=True)
        check_version(current, if_match)
        row, contacts = await self.change(
            conn, actor, current, values, reopen=reopen, index=position, moved=True
        )
        return (await self.present(conn, actor, [row], {row["id"]: contacts}))[0]

    async def change(
        self,
        conn: AsyncConnection,
        actor: Actor,
        current: Mapping[str, Any],
        values: dict[str, Any],
        *,
        reopen: bool = False,
        index: int | None = None,
        moved: bool = False,
        progress: bool = True,
        pipeline: Mapping[str, Any] | None = None,
        data: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Apply ``values`` to the locked deal ``current`` through every rule of the gate."""
        values = dict(values)
        id = current["id"]
        old_contacts = (await self.contacts_of(conn, actor, [id]))[id]
        new_contacts = (
            _contacts_in(values.pop("contacts")) if values.get("contacts") is not None else None
        )
        values.pop("contacts", None)
        contacts = new_contacts if new_contacts is not None else old_contacts
        pid = values.get("pipeline_id") or current["pipeline_id"]
        if pipeline is None or pipeline["id"] != pid:
            pipeline = await self._pipeline(conn, actor, pid)
        changed_pipeline = pid != current["pipeline_id"]
        if "stage" in values:
            key = values["stage"]
        elif changed_pipeline:
            key = pipeline["stages"][0]["key"]
        else:
            key = current["stage"]
        stage = self._stage(pipeline, key)
        entering = changed_pipeline or key != current["stage"]
        now = await self._now(conn)
        if entering:
            if current["status"] != "open" and not reopen:
                raise Problem(
                    409,
                    f"Deal {id!r} is {current['status']}: send reopen: true to move it out of "
                    f"stage {current['stage']!r}.",
                    title="Conflict",
                    errors=[{"field": "reopen", "message": "A closed deal reopens explicitly."}],
                )
            values["stage"] = key
            values.update(self._entering(stage, values, now))
            values["position"] = await position(conn, actor, pid, key, index, id)
        elif moved:
            values["position"] = await position(conn, actor, pid, key, index, id)
        state = {**current, **values}
        # Entering checks every requirement; staying checks that a closed deal keeps its reason.
        errors = entry_errors(stage, state, contacts)
        if not entering:
            errors = [e for e in errors if e["field"] in ("win_reason", "loss_reason")]
        if errors:
            raise gate_problem(stage, errors)
        _check_money(values)
        await check_refs(conn, actor, values, current, REFS)
        if new_contacts is not None:
            await self._check_contacts(conn, actor, new_contacts)
        contacts_changed = new_contacts is not None and new_contacts != old_contacts
        if not diff(current, state) and not contacts_changed:
            return dict(current), old_contacts
        t = self.table
        row = dict(
            (
                await execute(
                    conn,
                    update(t)
                    .where(t.c.team_id == actor.team_id, t.c.id == id)
                    .values(**values, version=t.c.version + 1, updated_at=func.now())
                    .returning(*self.public_columns.values()),
                )
            )
            .one()
            ._mapping
        )
        changes = diff(current, row)
        if contacts_changed:
            await conn.execute(delete(dc).where(dc.c.team_id == actor.team_id, dc.c.deal_id == id))
            await self._write_contacts(conn, actor, id, contacts)
            changes["contacts"] = [jsonable(old_contacts), jsonable(contacts)]
        await events.append(conn, self._event(actor, id, "updated", changes, data))
        if entering:
            await self._history(
                conn, actor, row, current["stage"], current["stage_changed_at"], now
            )
        if progress and not entering:
            row = await self._progress(conn, actor, row, contacts, pipeline)
        return row, contacts

    async def _write_contacts(
        self, conn: AsyncConnection, actor: Actor, deal_id: str, contacts: list[dict[str, Any]]
    ) -> None:
        if contacts:
            await execute(
                conn,
                insert(dc),
                [
                    {
                        "team_id": actor.team_id,
                        "deal_id": deal_id,
                        "id": c["contact_id"],
                        "role": c["role"],
                    }
                    for c in contacts
                ],
            )

    async def _history(
        self,
        conn: AsyncConnection,
        actor: Actor,
        row: Mapping[str, Any],
        from_stage: str | None,
        since: datetime | None,
        now: datetime,
    ) -> None:
        await conn.execute(
            insert(history).values(
                team_id=actor.team_id,
                id=new_id("dsh"),
                deal_id=row["id"],
                pipeline_id=row["pipeline_id"],
                from_stage=from_stage,
                to_stage=row["stage"],
                changed_at=now,
                changed_by=actor.member_id,
                duration_in_stage=None
                if since is None
                else max(0, int((now - since).total_seconds())),
                owner_id=row["owner_id"],
            )
        )

    # ------------------------------------------------------------------ progression

    async def _progress(
        self,
        conn: AsyncConnection,
        actor: Actor,
        row: dict[str, Any],
        contacts: list[dict[str, Any]],
        pipeline: Mapping[str, Any],
    ) -> dict[str, Any]:
        """Advance an open deal into the furthest later stage whose rule holds (and whose
        required fields it has)."""
        if row["status"] != "open" or row["pipeline_id"] != pipeline["id"]:
            return row
        keys = [s["key"] for s in pipeline["stages"]]
        if row["stage"] not in keys:
            return row
        later = pipeline["stages"][keys.index(row["stage"]) + 1 :]
        ctx = {**row, "contacts": contacts, "contact_ids": [c["contact_id"] for c in contacts]}
        for stage in reversed(later):
            rule = stage.get("auto_advance")
            if not rule or stage["is_won"] or stage["is_lost"]:
                continue
            if entry_errors(stage, ctx, contacts):
                continue
            if await rules.holds(conn, actor, ctx, rule):
                robot = system_actor(actor.team_id, actor.request_id)
                new, _ = await self.change(
                    conn,
                    robot,
                    row,
                    {"stage": stage["key"]},
                    progress=False,
                    pipeline=pipeline,
                    data={"auto_advance": True, "rule_stage": stage["key"]},
                )
                return new
        return row

    async def reevaluate(
        self,
        conn: AsyncConnection,
        actor: Actor,
        *,
        deal_ids: Sequence[str] = (),
        lead_ids: Sequence[str] = (),
        contact_ids: Sequence[str] = (),
        account_ids: Sequence[str] = (),
    ) -> list[str]:
        """Run the progression rules of the open deals linked to these records (after their
        activity changed); returns the ids of the deals that advanced."""
        t = self.table
        conds = []
        if deal_ids:
            conds.append(t.c.id.in_(list(deal_ids)))
        if lead_ids:
            conds.append(t.c.lead_id.in_(list(lead_ids)))
        if account_ids:
            conds.append(t.c.account_id.in_(list(account_ids)))
        if contact_ids:
            conds.append(
                t.c.id.in_(
                    select(dc.c.deal_id).where(
                        dc.c.team_id == actor.team_id, dc.c.id.in_(list(contact_ids))
                    )
                )
            )
        if not conds:
            return []
        ids = (
            await conn.execute(
                select(t.c.id)
                .where(
                    t.c.team_id == actor.team_id,
                    t.c.deleted_at.is_(None),
                    t.c.status == "open",
                    or_(*conds),
                )
                .order_by(t.c.id)
            )
        ).scalars()
        advanced = []
        for deal_id in list(ids):
            row = await super().get(conn, actor, deal_id, for_update=True)
            contacts = (await self.contacts_of(conn, actor, [deal_id]))[deal_id]
            pipeline = await self._pipeline(conn, actor, row["pipeline_id"])
            new = await self._progress(conn, actor, row, contacts, pipeline)
            if new["stage"] != row["stage"]:
                advanced.append(deal_id)
        return advanced

    # ------------------------------------------------------------------ pipeline builder

    async def move_stage_out(
        self,
        conn: AsyncConnection,
        actor: Actor,
        pipeline: Mapping[str, Any],
        key: str,
        target: str,
    ) -> list[str]:
        """Move every deal of stage ``key`` into ``target`` (a stage being removed): each move
        passes the gate (closed deals reopen: the admin's removal is the explicit act)."""
        t = self.table
        rows = [
            dict(r._mapping)
            for r in await conn.execute(
                self._scoped(actor)
                .where(t.c.pipeline_id == pipeline["id"], t.c.stage == key)
                .order_by(t.c.position, t.c.id)
                .with_for_update()
            )
        ]
        errors: list[dict[str, Any]] = []
        moved = []
        for row in rows:
            try:
                async with conn.begin_nested():
                    await self.change(
                        conn,
                        actor,
                        row,
                        {"stage": target},
                        reopen=True,
                        progress=False,
                        pipeline=pipeline,
                        data={"stage_removed": key},
                    )
                moved.append(row["id"])
            except Problem as p:
                for e in p.errors or [{"field": None, "message": p.detail}]:
                    errors.append(
                        {"field": f"deals[{row['id']}].{e['field']}", "message": e["message"]}
                    )
        if errors:
            raise validation(
                errors, f"Some deals of stage {key!r} cannot enter {target!r}: see errors."
            )
        return moved


deal_service = DealService()


async def remove_stage(
    conn: AsyncConnection,
    actor: Actor,
    pipeline_id: str,
    key: str,
    target: str | None,
    if_match: int | None,
) -> dict[str, Any]:
    """The pipeline builder's stage removal: the stage's deals move to ``target`` (each through
    the gate), then the stage goes, in the caller's transaction."""
    pipeline, held = await pipeline_service.stage_removal(
        conn, actor, pipeline_id, key, target, if_match
    )
    moved: list[str] = []
    if held and target is not None:  # (stage_removal refuses a stage holding deals without one)
        moved = await deal_service.move_stage_out(conn, actor, pipeline, key, target)
    return await pipeline_service.drop_stage(conn, actor, pipeline, key, target, len(moved))


__all__ = ["deal_service", "remove_stage"]
