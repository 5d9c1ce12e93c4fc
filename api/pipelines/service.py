"""Pipelines: ordered stage definitions per team (one default), and the builder operations.

Stages live in the pipeline row as a validated JSON array; a stage's ``key`` is what deals,
moves, the board and the stage history name. Removing a stage that holds deals moves them to a
target stage through the deal service (history, events, the gate), in the same transaction:
:func:`api.deals.service.remove_stage` runs :meth:`PipelineService.stage_removal`, moves the
deals, then :meth:`PipelineService.drop_stage` (pipelines know nothing of deals but their
counts per stage).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.records import RecordService, check_version
from api.pipelines import rules
from api.pipelines.rules import REQUIRABLE
from api.pipelines.schemas import StageIn
from leadly.actor import Actor
from leadly.problem import Problem, not_found, validation
from warehouse.models.deals import Deal, Pipeline

DEFAULT_NAME = "Sales pipeline"
MEETING_RULE = {
    "all": [
        {"field": "next_step", "op": "is_set"},
        {"activity": "call", "outcome": "meeting_booked", "min_count": 1},
    ]
}


def default_stages() -> list[dict[str, Any]]:
    """The stages every new team's default pipeline starts with."""
    rows = [
        ("qualified", "Qualified", 10, "pipeline", [], 14, None),
        ("contact_made", "Contact made", 20, "pipeline", [], 14, None),
        ("demo_scheduled", "Demo scheduled", 40, "best_case", [], 14, MEETING_RULE),
        ("proposal_made", "Proposal made", 60, "best_case", ["value"], 21, None),
        ("negotiation", "Negotiation", 80, "commit", ["value", "expected_close_date"], 21, None),
    ]
    stages = [
        {
            "key": k,
            "name": n,
            "probability": p,
            "forecast_category": c,
            "is_won": False,
            "is_lost": False,
            "required_fields": r,
            "rot_days": rot,
            "auto_advance": rule,
        }
        for k, n, p, c, r, rot, rule in rows
    ]
    stages.append(_closed("won", "Won", 100, "closed", won=True))
    stages.append(_closed("lost", "Lost", 0, "omitted", won=False))
    return stages


def _closed(key: str, name: str, prob: int, cat: str, *, won: bool) -> dict[str, Any]:
    return {
        "key": key,
        "name": name,
        "probability": prob,
        "forecast_category": cat,
        "is_won": won,
        "is_lost": not won,
        "required_fields": [],
        "rot_days": None,
        "auto_advance": None,
    }


def is_closed(stage: Mapping[str, Any]) -> bool:
    return bool(stage["is_won"] or stage["is_lost"])


def stage_of(pipeline: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    return next((s for s in pipeline["stages"] if s["key"] == key), None)


def normalise_stage(stage: StageIn | Mapping[str, Any]) -> dict[str, Any]:
    s = msgspec.to_builtins(stage) if isinstance(stage, msgspec.Struct) else dict(stage)
    s.pop("position", None)
    s.setdefault("is_won", False)
    s.setdefault("is_lost", False)
    s.setdefault("required_fields", [])
    s.setdefault("rot_days", None)
    s.setdefault("auto_advance", None)
    if s.get("forecast_category") is None:
        s["forecast_category"] = (
            "closed" if s["is_won"] else "omitted" if s["is_lost"] else "pipeline"
        )
    s["required_fields"] = list(dict.fromkeys(s["required_fields"]))
    return {k: s[k] for k in StageIn.__struct_fields__}


def stage_errors(stages: list[dict[str, Any]], field: str = "stages") -> list[dict[str, Any]]:
    """Every rule a list of stages breaks (unique keys, flags, known fields, valid rules)."""
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, s in enumerate(stages):
        at = f"{field}[{i}]"
        if s["key"] in seen:
            errors.append({"field": f"{at}.key", "message": f"Stage key {s['key']!r} repeats."})
        seen.add(s["key"])
        if s["is_won"] and s["is_lost"]:
            errors.append({"field": f"{at}.is_won", "message": "A stage is won or lost, not both."})
        for j, f in enumerate(s["required_fields"]):
            if f not in REQUIRABLE and not f.startswith("custom."):
                errors.append(
                    {"field": f"{at}.required_fields[{j}]", "message": f"No deal field {f!r}."}
                )
        if s["auto_advance"] is not None:
            if is_closed(s):
                errors.append(
                    {
                        "field": f"{at}.auto_advance",
                        "message": "Deals advance automatically into open stages only.",
                    }
                )
            errors += rules.rule_errors(s["auto_advance"], f"{at}.auto_advance")
    if stages and all(is_closed(s) for s in stages):
        errors.append({"field": field, "message": "A pipeline needs at least one open stage."})
    return errors


def admin_only(actor: Actor) -> None:
    """Pipelines are set up by admins (and the system, at sign-up)."""
    if not actor.at_least("admin"):
        raise Problem(403, "Changing pipelines needs the admin role or higher.", title="Forbidden")


class PipelineService(RecordService):
    table = Pipeline.__table__
    object_type = "pipeline"
    plural = "pipelines"
    prefix = "pipe"

    async def validate(
        self,
        conn: AsyncConnection,
        actor: Actor,
        values: dict[str, Any],
        current: Mapping[str, Any] | None,
    ) -> None:
        admin_only(actor)
        if "stages" in values:
            values["stages"] = [normalise_stage(s) for s in values["stages"]]
            errors = stage_errors(values["stages"])
            if errors:
                raise validation(errors, "The stages are not valid.")
            if current is not None:
                await self._check_stage_changes(conn, actor, current, values["stages"])
        if current is not None and current["is_default"] and values.get("is_default") is False:
            raise validation(
                [
                    {
                        "field": "is_default",
                        "message": "Make another pipeline the default instead.",
                    }
                ]
            )
        if values.get("is_default") and not (current or {}).get("is_default"):
            await self._clear_default(conn, actor, except_id=(current or {}).get("id"))

    async def _clear_default(
        self, conn: AsyncConnection, actor: Actor, except_id: str | None
    ) -> None:
        t = self.table
        q = select(t.c.id).where(
            t.c.team_id == actor.team_id, t.c.is_default, t.c.deleted_at.is_(None)
        )
        for pid in (await conn.execute(q)).scalars():
            if pid != except_id:
                cur = await self.get(conn, actor, pid, for_update=True)
                await self.apply(conn, actor, cur, {"is_default": False}, "updated")

    async def _check_stage_changes(
        self,
        conn: AsyncConnection,
        actor: Actor,
        current: Mapping[str, Any],
        stages: list[dict[str, Any]],
    ) -> None:
        """A stage holding deals cannot disappear (use the remove operation with a target) or
        switch between open, won and lost (its deals' status would lie)."""
        counts = await stage_counts(conn, actor, current["id"])
        new = {s["key"]: s for s in stages}
        errors = []
        for old in current["stages"]:
            n = counts.get(old["key"], 0)
            if not n:
                continue
            if old["key"] not in new:
                errors.append(
                    {
                        "field": "stages",
                        "message": f"Stage {old['key']!r} holds {n} deal(s): remove it with "
                        f"DELETE /api/v1/pipelines/{current['id']}/stages/{old['key']}"
                        "?target_stage=<key>.",
                    }
                )
            elif (new[old["key"]]["is_won"], new[old["key"]]["is_lost"]) != (
                old["is_won"],
                old["is_lost"],
            ):
                errors.append(
                    {
                        "field": "stages",
                        "message": f"Stage {old['key']!r} holds {n} deal(s): its won/lost "
                        "flags cannot change.",
                    }
                )
        if errors:
            raise Problem(
                409,
                "These stage changes would strand deals.",
                title="Conflict",
                errors=errors,
            )

    async def delete(
        self, conn: AsyncConnection, actor: Actor, id: str, *, if_match: int | None = None
    ) -> None:
        admin_only(actor)
        current = await self._locked(conn, actor, id, if_match)
        if current["is_default"]:
            raise Problem(
                409,
                "The default pipeline cannot be deleted: make another pipeline the default first.",
                title="Conflict",
            )
        held = sum((await stage_counts(conn, actor, id)).values())
        if held:
            raise Problem(
                409,
                f"Pipeline {id!r} holds {held} deal(s): move or delete them first.",
                title="Conflict",
                deals=held,
            )
        await super().delete(conn, actor, id, if_match=if_match)

    async def before_restore(
        self, conn: AsyncConnection, actor: Actor, row: Mapping[str, Any]
    ) -> None:
        admin_only(actor)
        if row["is_default"]:  # another pipeline became the default meanwhile
            t = self.table
            taken = (
                await conn.execute(
                    select(t.c.id).where(
                        t.c.team_id == actor.team_id, t.c.is_default, t.c.deleted_at.is_(None)
                    )
                )
            ).first()
            if taken is not None:
                raise Problem(
                    409, "Another pipeline is the default now.", title="Conflict", default=taken.id
                )

    # ------------------------------------------------------------------ defaults

    async def create_default(self, conn: AsyncConnection, actor: Actor) -> dict[str, Any]:
        """The team's first pipeline (called at sign-up)."""
        return await self.create(
            conn, actor, {"name": DEFAULT_NAME, "is_default": True, "stages": default_stages()}
        )

    async def default_for(self, conn: AsyncConnection, actor: Actor) -> dict[str, Any] | None:
        t = self.table
        row = (
            await conn.execute(
                self._scoped(actor).where(t.c.is_default).order_by(t.c.created_at).limit(1)
            )
        ).first()
        return dict(row._mapping) if row else None

    # ------------------------------------------------------------------ builder

    async def _locked(
        self, conn: AsyncConnection, actor: Actor, id: str, if_match: int | None
    ) -> dict[str, Any]:
        current = await self.get(conn, actor, id, for_update=True)
        check_version(current, if_match)
        return current

    async def _save_stages(
        self,
        conn: AsyncConnection,
        actor: Actor,
        current: Mapping[str, Any],
        stages: list[dict[str, Any]],
        op: dict[str, Any],
    ) -> dict[str, Any]:
        errors = stage_errors(stages)
        if errors:
            raise validation(errors, "The stages are not valid.")
        await self._check_stage_changes(conn, actor, current, stages)
        return await self.apply(conn, actor, current, {"stages": stages}, "updated", op)

    async def add_stage(
        self,
        conn: AsyncConnection,
        actor: Actor,
        id: str,
        stage: StageIn,
        position: int | None,
        if_match: int | None,
    ) -> dict[str, Any]:
        current = await self._locked(conn, actor, id, if_match)
        new = normalise_stage(stage)
        if stage_of(current, new["key"]) is not None:
            raise Problem(
                409, f"Pipeline {id!r} already has a stage {new['key']!r}.", title="Conflict"
            )
        stages = list(current["stages"])
        if position is None:  # before the closed stages
            position = next((i for i, s in enumerate(stages) if is_closed(s)), len(stages))
        stages.insert(min(position, len(stages)), new)
        op = {"op": "add_stage", "stage": new["key"]}
        return await self._save_stages(conn, actor, current, stages, op)

    async def update_stage(
        self,
        conn: AsyncConnection,
        actor: Actor,
        id: str,
        key: str,
        changes: dict[str, Any],
        if_match: int | None,
    ) -> dict[str, Any]:
        current = await self._locked(conn, actor, id, if_match)
        old = stage_of(current, key)
        if old is None:
            raise not_found(f"stage in pipeline {id}", key)
        changes = msgspec.to_builtins(changes)
        stages = [
            normalise_stage({**s, **changes}) if s["key"] == key else s for s in current["stages"]
        ]
        op = {"op": "update_stage", "stage": key, "fields": sorted(changes)}
        return await self._save_stages(conn, actor, current, stages, op)

    async def reorder(
        self, conn: AsyncConnection, actor: Actor, id: str, keys: list[str], if_match: int | None
    ) -> dict[str, Any]:
        current = await self._locked(conn, actor, id, if_match)
        have = [s["key"] for s in current["stages"]]
        if sorted(keys) != sorted(have) or len(set(keys)) != len(keys):
            raise validation(
                [
                    {
                        "field": "keys",
                        "message": f"Name every stage exactly once: {', '.join(have)}.",
                    }
                ]
            )
        by_key = {s["key"]: s for s in current["stages"]}
        stages = [by_key[k] for k in keys]
        op = {"op": "reorder_stages", "keys": keys}
        return await self._save_stages(conn, actor, current, stages, op)

    async def stage_removal(
        self,
        conn: AsyncConnection,
        actor: Actor,
        id: str,
        key: str,
        target: str | None,
        if_match: int | None,
    ) -> tuple[dict[str, Any], int]:
        """Lock the pipeline for removing stage ``key`` and check the removal: the pipeline
        and how many deals the stage holds (each to move to ``target``, a stage of it)."""
        current = await self._locked(conn, actor, id, if_match)
        if stage_of(current, key) is None:
            raise not_found(f"stage in pipeline {id}", key)
        held = (await stage_counts(conn, actor, id)).get(key, 0)
        if held and target is None:
            raise validation(
                [
                    {
                        "field": "target_stage",
                        "message": f"Stage {key!r} holds {held} deal(s): name the stage "
                        "they move to.",
                    }
                ],
                f"Stage {key!r} holds {held} deal(s): give target_stage.",
            )
        if held and (target == key or stage_of(current, target) is None):
            raise validation(
                [
                    {
                        "field": "target_stage",
                        "message": f"No other stage {target!r} in this pipeline.",
                    }
                ]
            )
        return current, held

    async def drop_stage(
        self,
        conn: AsyncConnection,
        actor: Actor,
        current: Mapping[str, Any],
        key: str,
        target: str | None,
        moved: int,
    ) -> dict[str, Any]:
        """Remove stage ``key`` of the locked pipeline ``current`` once its ``moved`` deals
        are in ``target``."""
        stages = [s for s in current["stages"] if s["key"] != key]
        if not stages:
            raise validation([{"field": "stages", "message": "A pipeline keeps one stage."}])
        op = {"op": "remove_stage", "stage": key, "target_stage": target, "moved": moved}
        return await self._save_stages(conn, actor, current, stages, op)


async def stage_counts(conn: AsyncConnection, actor: Actor, pipeline_id: str) -> dict[str, int]:
    d = Deal.__table__
    rows = await conn.execute(
        select(d.c.stage, func.count())
        .where(
            d.c.team_id == actor.team_id, d.c.pipeline_id == pipeline_id, d.c.deleted_at.is_(None)
        )
        .group_by(d.c.stage)
    )
    return {r[0]: int(r[1]) for r in rows}


pipeline_service = PipelineService()
