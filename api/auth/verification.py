"""Verifying a member's email: following the mailed link, and asking for another one.

An address becomes a login (password sign-in, and taken for everyone else's sign-up) only once
its member has verified it. One verified login per address across Leadly: verifying an address
that another member verified first is a 409."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text, update
from sqlalchemy.exc import IntegrityError

from api.auth import crypto, mailing, throttle
from api.auth.emails import normalize_email
from api.auth.service import _too_many, member_service
from api.common.scope import tenant_scope
from leadly import clock
from leadly.actor import Actor
from leadly.problem import Problem
from leadly.settings import get_settings
from warehouse.db import api_engine, tenant_tx

_LOOKUP = text("SELECT * FROM app.auth_email_verification_lookup(:h)")


def _taken() -> Problem:
    return Problem(
        409,
        "This email address is already verified for another Leadly login. Sign in with it, "
        "or ask an administrator of its team.",
        title="Conflict",
    )


async def verify_email(token: str, *, request_id: str | None = None) -> dict[str, Any]:
    """Mark the link's member verified (the link is used up); their profile in ``member``."""
    if not token.startswith(mailing.VERIFY_PREFIX):
        raise _unknown()
    engine = api_engine()
    async with engine.connect() as conn:
        v = (await conn.execute(_LOOKUP, {"h": crypto.token_hash(token)})).first()
        await conn.rollback()
    if v is None:
        raise _unknown()
    _check_usable(v.used_at, v.revoked_at, v.expires_at)
    actor = Actor(team_id=v.team_id, member_id=v.member_id, role="user", request_id=request_id)
    table = mailing.verifications
    try:
        async with tenant_tx(engine, v.team_id, v.member_id) as conn:
            claimed = (
                await conn.execute(
                    update(table)
                    .where(
                        table.c.team_id == v.team_id,
                        table.c.id == v.verification_id,
                        table.c.used_at.is_(None),
                        table.c.revoked_at.is_(None),
                    )
                    .values(used_at=clock.now())
                    .returning(table.c.id)
                )
            ).first()
            if claimed is None:  # a concurrent request used it first
                raise Problem(410, "This verification link was already used.", title="Gone")
            member = await member_service.get(conn, actor, v.member_id, for_update=True)
            if v.email_normalized != normalize_email(member["email"]):
                raise Problem(
                    410, "This link was sent to an address the member no longer has.", title="Gone"
                )
            if member["email_verified_at"] is None:
                owner = (
                    await conn.execute(
                        text("SELECT member_id FROM app.auth_login_lookup(:e)"),
                        {"e": v.email_normalized},
                    )
                ).first()
                if owner is not None:
                    raise _taken()
                member = await member_service.update(
                    conn,
                    actor,
                    v.member_id,
                    {"email_verified_at": clock.now()},
                    action="email_verified",
                )
            out = (await member_service.present(conn, actor, [member]))[0]
    except IntegrityError as e:  # another member verified the address at the same moment
        raise _taken() from e
    return {"member": out}


def _unknown() -> Problem:
    return Problem(404, "This verification link is not valid.", title="Not Found")


def _check_usable(used_at: Any, revoked_at: Any, expires_at: Any) -> None:
    if used_at is not None:
        raise Problem(410, "This verification link was already used.", title="Gone")
    if revoked_at is not None:
        raise Problem(
            410, "A newer verification link replaced this one; use the latest.", title="Gone"
        )
    if expires_at <= clock.now():
        raise Problem(410, "This verification link has expired; ask for a new one.", title="Gone")


async def resend(actor: Actor) -> dict[str, Any]:
    """Mail the signed-in member a new verification link (earlier ones stop working); at most
    ``LEADLY_VERIFICATION_RESEND_MAX_PER_HOUR`` an hour (429 after)."""
    async with tenant_scope(actor) as conn:
        member = await member_service.get(conn, actor, actor.member_id)
    if member["email_verified_at"] is not None:
        raise Problem(409, "Your email address is already verified.", title="Conflict")
    c = throttle.counter()
    key = throttle.resend_key(actor.team_id, actor.member_id)
    count, retry = await c.hit(key, 3600)
    if count > get_settings().verification_resend_max_per_hour:
        raise _too_many("Too many verification emails asked for. Try again later.", retry)
    try:
        async with tenant_scope(actor) as conn:
            pending = await mailing.issue_verification(
                conn, actor, actor.member_id, member["name"], member["email"]
            )
            # Sent before the commit: a link nobody received never replaces the previous one.
            await mailing.send(
                mailing.verification_message(pending, get_settings()), "verification email"
            )
    except Exception:
        await c.undo(key)  # nothing was sent: the attempt does not count
        raise
    return {"email": member["email"], "expires_at": pending.expires_at}
