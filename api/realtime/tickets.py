"""Single-use WebSocket tickets for browsers (which cannot set ``Authorization`` on a socket).

``POST /api/v1/realtime/tickets`` (authenticated like any request) returns
``rtk_<team id>.<secret>``, valid :data:`TICKET_TTL_SECONDS`; the socket connects with
``?ticket=``. Only a keyed hash of the ticket is stored. Redeeming it marks it used in the same
statement, so a ticket opens at most one socket. The team id in the ticket scopes the look-up
(row-level security), it is not a secret.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from api.auth import crypto
from leadly.actor import Actor
from leadly.ids import looks_like_id, new_id
from warehouse.db import api_engine, tenant_tx

TICKET_PREFIX = "rtk_"
TICKET_TTL_SECONDS = 60


async def issue(conn: AsyncConnection, actor: Actor) -> dict[str, object]:
    secret = secrets.token_urlsafe(32)
    ticket = f"{TICKET_PREFIX}{actor.team_id}.{secret}"
    row = (
        await conn.execute(
            text(
                "INSERT INTO app.realtime_tickets (team_id, id, member_id, token_hash, "
                "credential_type, credential_id, expires_at) "
                "VALUES (:t, :id, :m, :h, :ct, :ci, now() + make_interval(secs => :ttl)) "
                "RETURNING expires_at"
            ),
            {
                "t": actor.team_id,
                "id": new_id("rtk"),
                "m": actor.member_id,
                "h": crypto.token_hash(ticket),
                "ct": actor.actor_type,
                "ci": actor.credential_id,
                "ttl": TICKET_TTL_SECONDS,
            },
        )
    ).one()
    # Used and expired tickets of the member are of no further use.
    await conn.execute(
        text(
            "DELETE FROM app.realtime_tickets WHERE team_id = :t AND member_id = :m "
            "AND expires_at < now() - interval '1 hour'"
        ),
        {"t": actor.team_id, "m": actor.member_id},
    )
    return {"ticket": ticket, "expires_at": row.expires_at}


def team_of(ticket: str) -> str | None:
    if not ticket.startswith(TICKET_PREFIX):
        return None
    team_id, sep, secret = ticket[len(TICKET_PREFIX) :].partition(".")
    if not sep or not secret or len(ticket) > 200 or not looks_like_id(team_id):
        return None
    return team_id


async def redeem(ticket: str) -> Actor | None:
    """The member a valid, unused, unexpired ticket was issued to (and the ticket is spent);
    None otherwise."""
    team_id = team_of(ticket)
    if team_id is None:
        return None
    async with tenant_tx(api_engine(), team_id) as conn:
        row = (
            await conn.execute(
                text(
                    """
                    UPDATE app.realtime_tickets t SET used_at = now()
                    FROM app.team_members m JOIN app.roles r
                      ON r.team_id = m.team_id AND r.id = m.role_id
                    WHERE t.team_id = :t AND t.token_hash = :h AND t.used_at IS NULL
                      AND t.expires_at > now()
                      AND m.team_id = t.team_id AND m.id = t.member_id AND m.is_active
                    RETURNING t.member_id, r.key AS role_key, t.credential_type, t.credential_id,
                      (SELECT k.scopes FROM app.api_keys k
                       WHERE t.credential_type = 'api_key'
                         AND k.team_id = t.team_id AND k.id = t.credential_id) AS scopes
                    """
                ),
                {"t": team_id, "h": crypto.token_hash(ticket)},
            )
        ).first()
    if row is None:
        return None
    actor = Actor(
        team_id=team_id,
        member_id=row.member_id,
        role=row.role_key,
        actor_type=row.credential_type or "member",
        credential_id=row.credential_id,
        # A ticket carries its credential's scopes: a key's ticket is no wider than the key.
        scopes=frozenset(row.scopes or ()) if row.credential_type == "api_key" else None,
    )
    # A ticket dies with its session or key (logged out, revoked, expired, member deactivated).
    return actor if await still_valid(actor) else None


_STILL_VALID = text(
    """
    SELECT EXISTS (
      SELECT 1 FROM app.team_members m
      WHERE m.team_id = :t AND m.id = :m AND m.is_active
        AND CASE :kind
          WHEN 'api_key' THEN EXISTS (
            SELECT 1 FROM app.api_keys k WHERE k.team_id = :t AND k.id = :c
              AND k.member_id = m.id AND k.revoked_at IS NULL
              AND (k.expires_at IS NULL OR k.expires_at > now()))
          ELSE EXISTS (
            SELECT 1 FROM app.sessions s WHERE s.team_id = :t AND s.id = :c
              AND s.member_id = m.id AND s.revoked_at IS NULL AND s.expires_at > now())
        END)
    """
)


async def still_valid(actor: Actor) -> bool:
    """Whether the member is active and the session or API key a socket was opened with is
    neither revoked nor expired (an idle session's socket keeps it in use)."""
    if not actor.credential_id:
        return False
    async with tenant_tx(api_engine(), actor.team_id) as conn:
        ok = await conn.scalar(
            _STILL_VALID,
            {
                "t": actor.team_id,
                "m": actor.member_id,
                "c": actor.credential_id,
                "kind": "api_key" if actor.actor_type == "api_key" else "session",
            },
        )
    return bool(ok)


def expired(expires_at: datetime, now: datetime) -> bool:
    return expires_at <= now
