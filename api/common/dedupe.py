"""Duplicate detection by email, race-free: an advisory lock per (team, object, email)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.context import Actor
from api.common.errors import Problem


async def check_email_unique(
    conn: AsyncConnection,
    actor: Actor,
    table: Table,
    object_type: str,
    values: Mapping[str, Any],
    current: Mapping[str, Any] | None,
    *extra: Any,
) -> None:
    email = values.get("email")
    if not email or (current is not None and (current.get("email") or "").lower() == email.lower()):
        return
    await conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
        {"k": f"{actor.team_id}:{object_type}:{email.lower()}"},
    )
    q = select(table.c.id).where(
        table.c.team_id == actor.team_id,
        func.lower(table.c.email) == email.lower(),
        table.c.deleted_at.is_(None),
        *extra,
    )
    if current is not None:
        q = q.where(table.c.id != current["id"])
    existing = (await conn.execute(q.limit(1))).scalar_one_or_none()
    if existing:
        raise Problem(
            409,
            f"A {object_type} with email {email!r} already exists.",
            title="Conflict",
            existing_id=existing,
            errors=[{"field": "email", "message": "Already used by " + existing}],
        )
