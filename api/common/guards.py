"""Checks on who is calling (scopes, roles, authorship), framework-free: they raise Problem."""

from __future__ import annotations

from typing import Any

import msgspec

from leadly.actor import Actor
from leadly.problem import Problem


def require_scope(actor: Actor, scope: str) -> None:
    if not actor.has_scope(scope):
        raise Problem(
            403, f"This API key lacks the scope {scope!r}.", title="Forbidden", required_scope=scope
        )


def require_role(actor: Actor, role: str) -> None:
    if not actor.at_least(role):
        raise Problem(403, f"This action needs the {role} role or higher.", title="Forbidden")


def require_author(actor: Actor, author_id: str | None, what: str) -> None:
    """Only the member who logged ``what`` (an activity, a time log), or a manager and above,
    may change or delete it (403)."""
    if author_id != actor.member_id and not actor.at_least("manager"):
        raise Problem(
            403,
            f"Only the member who logged this {what} (or a manager) can change it.",
            title="Forbidden",
        )


def values_of(struct: msgspec.Struct) -> dict[str, Any]:
    """The fields a client actually sent (UNSET ones dropped)."""
    return {k: v for k, v in msgspec.structs.asdict(struct).items() if v is not msgspec.UNSET}
