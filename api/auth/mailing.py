"""The emails that prove a member reads mail at their address: the verification link (sign-up,
resend) and the invitation (its token goes only to the invitee's mailbox).

Tokens are stored as HMAC hashes (``api.auth.crypto.token_hash``), live
``LEADLY_EMAIL_VERIFICATION_TTL_HOURS`` and work once. Mail goes through the operator's SMTP
server (``api.common.mail``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from urllib.parse import urlencode

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncConnection

from api.auth import crypto
from api.auth.emails import normalize_email
from api.common import mail
from api.common.records import actor_event
from leadly import clock
from leadly.actor import Actor
from leadly.ids import new_id
from leadly.problem import Problem
from leadly.settings import Settings, get_settings
from warehouse import events
from warehouse.models import EmailVerification

log = logging.getLogger("leadly.auth.mailing")

VERIFY_PREFIX = "ldv_"
verifications = EmailVerification.__table__


@dataclass(frozen=True)
class Pending:
    """A verification link issued in a transaction, to be mailed (its token exists only here)."""

    verification_id: str
    name: str
    email: str
    token: str
    expires_at: datetime


def _link(s: Settings, path: str, token: str) -> str:
    return f"{s.public_url.rstrip('/')}/{path}?{urlencode({'token': token})}"


def _expiry(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


async def issue_verification(
    conn: AsyncConnection, actor: Actor, member_id: str, name: str, email: str
) -> Pending:
    """A new verification link for ``member_id`` (``email``, its current address); the member's
    earlier links stop working. Appends ``verification_sent`` to the member's events."""
    now = clock.now()
    await conn.execute(
        update(verifications)
        .where(
            verifications.c.team_id == actor.team_id,
            verifications.c.member_id == member_id,
            verifications.c.used_at.is_(None),
            verifications.c.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    token = crypto.new_token(VERIFY_PREFIX)
    vid = new_id("evf")
    expires = now + timedelta(hours=get_settings().email_verification_ttl_hours)
    await conn.execute(
        insert(verifications).values(
            team_id=actor.team_id,
            id=vid,
            member_id=member_id,
            email_normalized=normalize_email(email),
            token_hash=crypto.token_hash(token),
            expires_at=expires,
        )
    )
    await events.append(
        conn,
        actor_event(actor, "member", member_id, "verification_sent", {}, {"verification_id": vid}),
    )
    return Pending(vid, name, email, token, expires)


def verification_message(p: Pending, s: Settings) -> EmailMessage:
    link = _link(s, "verify-email", p.token)
    text = (
        f"Hello {p.name},\n\n"
        f"Confirm that {p.email} is your address, so you can sign in to Leadly with it:\n\n"
        f"{link}\n\n"
        f"(An app or script can send this token to POST /api/v1/auth/verify-email: {p.token})\n\n"
        f"The link works once, until {_expiry(p.expires_at)}. If you did not sign up for Leadly, "
        "ignore this email: nobody can sign in with your address without it.\n"
    )
    return mail.message(
        s, p.name, p.email, "Confirm your email address for Leadly", text, None, p.verification_id
    )


def invitation_message(
    s: Settings,
    *,
    invitation_id: str,
    email: str,
    token: str,
    team_name: str,
    inviter: str,
    role: str,
    expires_at: datetime,
) -> EmailMessage:
    link = _link(s, "accept-invitation", token)
    text = (
        f"{inviter} invited you to join the team {team_name} on Leadly as {role}.\n\n"
        f"Accept the invitation and choose your password here:\n\n{link}\n\n"
        f"(An app or script can send this token to "
        f"POST /api/v1/invitations/{{token}}/accept: {token})\n\n"
        f"The invitation works once, until {_expiry(expires_at)}. If you did not expect it, "
        "ignore this email.\n"
    )
    return mail.message(
        s, "", email, f"{inviter} invited you to {team_name} on Leadly", text, None, invitation_id
    )


async def send(msg: EmailMessage, what: str) -> None:
    """Hand ``msg`` to SMTP or answer 503 naming ``what`` could not be sent (the caller's
    transaction then rolls back: no invitation or link exists that nobody received)."""
    try:
        await mail.send(msg, get_settings())
    except mail.MailError as e:
        log.warning("%s not sent to %s: %s", what, msg["To"], e)
        reason = str(e) if e.permanent else "the mail server could not be reached"
        raise Problem(
            503,
            f"The {what} could not be sent ({reason}). Try again later.",
            title="Service Unavailable",
        ) from e


async def send_verification(p: Pending) -> bool:
    """Mail a verification link after its transaction committed (sign-up); a failure is logged,
    not raised: the member asks for another link with ``POST /api/v1/auth/verify-email/resend``."""
    try:
        await mail.send(verification_message(p, get_settings()), get_settings())
    except Exception as e:  # the sign-up is committed: answer it whatever the mail did
        log.warning("verification email not sent to %s: %s", p.email, e)
        return False
    return True
