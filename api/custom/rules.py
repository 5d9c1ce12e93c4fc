"""Validation rules of an object (custom or standard): admins write them, the write path of the
object's records runs them (:func:`api.common.custom_formulas.check_rules`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from api import formulas
from api.common import custom_formulas
from api.common.records import RecordService
from api.common.refs import plausible_id
from api.custom import metadata
from leadly.actor import Actor
from leadly.ids import new_id
from leadly.problem import Problem

RULES = custom_formulas.RULES


class RuleService(RecordService):
    table = RULES
    object_type = "validation_rule"
    plural = "custom_validation_rules"
    prefix = "vrule"


rules = RuleService()


async def _checked(
    conn: AsyncConnection, actor: Actor, object: str, values: dict[str, Any]
) -> None:
    """The condition type-checks as a rule of ``object`` (422 naming its position)."""
    t = await custom_formulas.team(conn, actor)
    schema = t.schema(object)
    assert schema is not None
    try:
        formulas.check_rule(values["condition"], schema)
    except formulas.FormulaError as e:
        raise e.problem("condition") from None


async def list_rules(conn: AsyncConnection, actor: Actor, object: str) -> list[dict[str, Any]]:
    object_id, _ = await metadata.resolve(conn, actor, object)
    q = rules._scoped(actor).where(RULES.c.object_id == object_id).order_by(RULES.c.created_at)
    return [dict(r._mapping) for r in await conn.execute(q)]


async def get_rule(conn: AsyncConnection, actor: Actor, object: str, id: str) -> dict[str, Any]:
    object_id, _ = await metadata.resolve(conn, actor, object)
    if plausible_id(id):
        q = rules._scoped(actor).where(RULES.c.object_id == object_id, RULES.c.id == id)
        row = (await conn.execute(q)).first()
        if row is not None:
            return dict(row._mapping)
    raise Problem(404, f"No validation rule {id!r} on {object}.")


async def create_rule(
    conn: AsyncConnection, actor: Actor, object: str, values: dict[str, Any]
) -> dict[str, Any]:
    object_id, _ = await metadata.resolve(conn, actor, object)
    await _checked(conn, actor, object, values)
    taken = await conn.execute(
        select(RULES.c.id).where(
            RULES.c.team_id == actor.team_id,
            RULES.c.object_id == object_id,
            RULES.c.name == values["name"],
            RULES.c.deleted_at.is_(None),
        )
    )
    if taken.first() is not None:
        raise Problem(
            409, f"{object} has a rule named {values['name']!r} already.", title="Conflict"
        )
    return await rules.create(
        conn, actor, {**values, "object_id": object_id, "id": new_id("vrule")}
    )


async def update_rule(
    conn: AsyncConnection,
    actor: Actor,
    object: str,
    id: str,
    values: dict[str, Any],
    if_match: int | None,
) -> dict[str, Any]:
    current = await get_rule(conn, actor, object, id)
    if "condition" in values:
        await _checked(conn, actor, object, values)
    return await rules.update(conn, actor, current["id"], values, if_match=if_match)


async def delete_rule(
    conn: AsyncConnection, actor: Actor, object: str, id: str, if_match: int | None
) -> None:
    current = await get_rule(conn, actor, object, id)
    await rules.delete(conn, actor, current["id"], if_match=if_match)
