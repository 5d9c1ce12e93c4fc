"""Duplicates by email. A unique partial index on ``(team_id, lower(email))`` of live records is
what guarantees them (inserts use ``ON CONFLICT DO NOTHING`` and answer 409); the look-ups here
name the existing record and check updates and restores before they write."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from leadly.actor import Actor
from leadly.problem import Problem


async def find_by_email(
    conn: AsyncConnection,
    actor: Actor,
    table: Table,
    email: str,
    *extra: Any,
    exclude_id: str | None = None,
) -> str | None:
    """The id of a live record with ``email`` (case-insensitive)."""
    q = select(table.c.id).where(
        table.c.team_id == actor.team_id,
        table.c.email_normalized == func.lower(email),
        table.c.deleted_at.is_(None),
        *extra,
    )
    if exclude_id is not None:
        q = q.where(table.c.id != exclude_id)
    return (await conn.execute(q.order_by(table.c.created_at).limit(1))).scalar_one_or_none()


def duplicate_problem(object_type: str, email: str, existing: str | None) -> Problem:
    extra = {"existing_id": existing} if existing else {}
    return Problem(
        409,
        f"A {object_type} with email {email!r} already exists.",
        title="Conflict",
        errors=[{"field": "email", "message": f"Already used by {existing or 'another record'}"}],
        **extra,
    )


async def check_email_unique(
    conn: AsyncConnection,
    actor: Actor,
    table: Table,
    object_type: str,
    values: Mapping[str, Any],
    current: Mapping[str, Any] | None,
    *extra: Any,
) -> None:
    """409 naming the existing record when an update (or restore) would duplicate an email.

    Creates need no look-up: the unique index refuses them. A race between two updates is
    still caught by the index (a 409 without ``existing_id``)."""
    email = values.get("email")
    if not email or (current is not None and (current.get("email") or "").lower() == email.lower()):
        return
    existing = await find_by_email(
        conn,
        actor,
        table,
        email,
        *extra,
        exclude_id=current["id"] if current is not None else None,
    )
    if existing:
        raise duplicate_problem(object_type, email, existing)
