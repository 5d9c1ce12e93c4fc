"""Duplicate detection by email, race-free: an advisory lock per (team, object, email)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.context import Actor
from api.common.errors import Problem


async def lock_email(conn: AsyncConnection, actor: Actor, object_type: str, email: str) -> None:
    """Serialise every writer of ``email`` for ``object_type`` until this transaction ends."""
    await conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
        {"k": f"{actor.team_id}:{object_type}:{email.lower()}"},
    )


async def find_by_email(
    conn: AsyncConnection,
    actor: Actor,
    table: Table,
    object_type: str,
    email: str,
    *extra: Any,
    exclude_id: str | None = None,
) -> str | None:
    """The id of a live record with ``email`` (case-insensitive), holding the email's lock."""
    await lock_email(conn, actor, object_type, email)
    q = select(table.c.id).where(
        table.c.team_id == actor.team_id,
        func.lower(table.c.email) == email.lower(),
        table.c.deleted_at.is_(None),
        *extra,
    )
    if exclude_id is not None:
        q = q.where(table.c.id != exclude_id)
    return (await conn.execute(q.order_by(table.c.created_at).limit(1))).scalar_one_or_none()


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
    existing = await find_by_email(
        conn,
        actor,
        table,
        object_type,
        email,
        *extra,
        exclude_id=current["id"] if current is not None else None,
    )
    if existing:
        raise Problem(
            409,
            f"A {object_type} with email {email!r} already exists.",
            title="Conflict",
            existing_id=existing,
            errors=[{"field": "email", "message": "Already used by " + existing}],
        )
