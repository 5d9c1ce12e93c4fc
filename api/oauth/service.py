"""OAuth clients, the apps a member authorised, bearer access tokens, and the purge of expired
codes, tokens and request-log rows: the only writers of the OAuth tables besides the token
endpoint (``api.oauth.server``, which runs authlib's synchronous grants in a worker thread)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from api.auth import crypto
from api.auth.service import CREDENTIALS, TOUCH_EVERY, check_scope
from api.common.guards import require_role
from api.common.records import actor_event
from leadly import clock
from leadly.actor import Actor
from leadly.ids import new_id
from leadly.problem import Problem, not_found
from warehouse import events
from warehouse.db import engine
from warehouse.events import diff
from warehouse.models import ApiRequest, OAuthClient, OAuthCode, OAuthToken

clients, codes, tokens = OAuthClient.__table__, OAuthCode.__table__, OAuthToken.__table__
requests_log = ApiRequest.__table__

CLIENT_PREFIX = "oac_"
SECRET_PREFIX = "ocs_"
ACCESS_PREFIX = "ldo_"
REFRESH_PREFIX = "ldr_"
CODE_PREFIX = "ldc_"
OAUTH_ACTOR = "oauth_client"
REQUEST_LOG_DAYS = 30

CLIENT_COLUMNS = (
    clients.c.id.label("client_id"),
    clients.c.name,
    clients.c.redirect_uris,
    clients.c.scopes,
    clients.c.type,
    clients.c.created_at,
    clients.c.created_by,
)


def _require_admin_session(actor: Actor, what: str) -> None:
    check_scope(actor, "oauth_clients:write" if what == "write" else "oauth_clients:read")
    require_role(actor, "admin")


async def create_client(
    conn: AsyncConnection,
    actor: Actor,
    name: str,
    redirect_uris: list[str],
    scopes: list[str],
    type_: str,
) -> dict[str, Any]:
    _require_admin_session(actor, "write")
    if actor.actor_type != "member":
        raise Problem(403, "Register OAuth clients from a signed-in session.", title="Forbidden")
    if not redirect_uris and type_ == "public":
        raise Problem(
            422,
            "A public client needs at least one redirect URI.",
            title="Unprocessable Entity",
            errors=[{"field": "redirect_uris", "message": "At least one is required."}],
        )
    client_id = new_id(CLIENT_PREFIX.rstrip("_"))
    secret = crypto.new_token(SECRET_PREFIX) if type_ == "confidential" else None
    row = (
        await conn.execute(
            insert(clients)
            .values(
                team_id=actor.team_id,
                id=client_id,
                name=name,
                type=type_,
                secret_hash=crypto.token_hash(secret) if secret else None,
                redirect_uris=list(dict.fromkeys(redirect_uris)),
                scopes=sorted(set(scopes)),
                created_by=actor.member_id,
            )
            .returning(*CLIENT_COLUMNS)
        )
    ).one()
    out = dict(row._mapping)
    changes = diff(None, {k: out[k] for k in ("name", "redirect_uris", "scopes", "type")})
    await events.append(conn, actor_event(actor, "oauth_client", client_id, "created", changes))
    if secret:
        out["client_secret"] = secret
    return out


async def list_clients(conn: AsyncConnection, actor: Actor) -> list[dict[str, Any]]:
    _require_admin_session(actor, "read")
    q = select(*CLIENT_COLUMNS).where(clients.c.team_id == actor.team_id)
    return [dict(r._mapping) for r in await conn.execute(q.order_by(clients.c.created_at.desc()))]


async def get_client(conn: AsyncConnection, actor: Actor, client_id: str) -> dict[str, Any]:
    _require_admin_session(actor, "read")
    row = (
        await conn.execute(
            select(*CLIENT_COLUMNS).where(
                clients.c.team_id == actor.team_id, clients.c.id == client_id
            )
        )
    ).first()
    if row is None:
        raise not_found("oauth client", client_id)
    return dict(row._mapping)


async def delete_client(conn: AsyncConnection, actor: Actor, client_id: str) -> None:
    """Every code and token of the client goes with it (the foreign keys cascade)."""
    _require_admin_session(actor, "write")
    gone = (
        await conn.execute(
            delete(clients)
            .where(clients.c.team_id == actor.team_id, clients.c.id == client_id)
            .returning(clients.c.name)
        )
    ).first()
    if gone is None:
        raise not_found("oauth client", client_id)
    await events.append(
        conn, actor_event(actor, "oauth_client", client_id, "deleted", {"name": [gone.name, None]})
    )


# ----------------------------------------------------------------------------- authorised apps


def _live(now: Any) -> Any:
    return (tokens.c.revoked_at.is_(None)) & (
        (tokens.c.expires_at > now) | (tokens.c.refresh_expires_at > now)
    )


async def list_authorizations(conn: AsyncConnection, actor: Actor) -> list[dict[str, Any]]:
    """The apps holding live tokens that act as the calling member."""
    now = clock.now()
    q = (
        select(
            tokens.c.client_id,
            clients.c.name,
            func.min(tokens.c.created_at).label("authorized_at"),
            func.max(tokens.c.last_used_at).label("last_used_at"),
        )
        .join(
            clients, (clients.c.team_id == tokens.c.team_id) & (clients.c.id == tokens.c.client_id)
        )
        .where(
            tokens.c.team_id == actor.team_id,
            tokens.c.member_id == actor.member_id,
            tokens.c.grant_type != "client_credentials",
            _live(now),
        )
        .group_by(tokens.c.client_id, clients.c.name)
        .order_by(tokens.c.client_id)
    )
    out = []
    for r in await conn.execute(q):
        scopes = (
            await conn.execute(
                text(
                    "SELECT coalesce(array_agg(DISTINCT s ORDER BY s), '{}') FROM app.oauth_tokens t,"
                    " unnest(t.scopes) s WHERE t.team_id = :t AND t.member_id = :m"
                    " AND t.client_id = :c AND t.revoked_at IS NULL"
                ),
                {"t": actor.team_id, "m": actor.member_id, "c": r.client_id},
            )
        ).scalar_one()
        out.append({**dict(r._mapping), "scopes": list(scopes)})
    return out


async def revoke_authorization(conn: AsyncConnection, actor: Actor, client_id: str) -> None:
    """The member withdraws an app: every token it holds for them stops at once."""
    if actor.actor_type != "member":
        raise Problem(403, "Revoke an app's access from a signed-in session.", title="Forbidden")
    res = await conn.execute(
        update(tokens)
        .where(
            tokens.c.team_id == actor.team_id,
            tokens.c.member_id == actor.member_id,
            tokens.c.client_id == client_id,
            tokens.c.grant_type != "client_credentials",
            tokens.c.revoked_at.is_(None),
        )
        .values(revoked_at=func.now())
        .returning(tokens.c.id)
    )
    if not res.all():
        raise not_found("authorization", client_id)
    await events.append(conn, actor_event(actor, "oauth_client", client_id, "access_revoked", {}))


# ----------------------------------------------------------------------------- bearer tokens

_TOKEN_AUTH = text(
    "SELECT a.*, set_config('app.team_id', a.team_id, true) AS _t, "
    "set_config('app.member_id', a.member_id, true) AS _m "
    "FROM app.auth_oauth_token_lookup(:h) a"
)


async def authenticate_token(
    conn: AsyncConnection, token: str, request_id: str | None
) -> Actor | None:
    """An OAuth access token → the member it acts as, with the token's scopes and the member's
    *current* role and activity (a member demoted or deactivated is so at once)."""
    row = (await conn.execute(_TOKEN_AUTH, {"h": crypto.token_hash(token)})).first()
    now = clock.now()
    if row is None or not row.is_active or row.revoked_at is not None or row.expires_at <= now:
        await conn.rollback()
        return None
    if row.last_used_at is None or now - row.last_used_at > TOUCH_EVERY:
        await conn.execute(
            update(tokens)
            .where(tokens.c.team_id == row.team_id, tokens.c.id == row.token_id)
            .values(last_used_at=func.now())
        )
    return Actor(
        team_id=row.team_id,
        member_id=row.member_id,
        role=row.role_key,
        actor_type=OAUTH_ACTOR,
        credential_id=row.client_id,
        scopes=frozenset(row.scopes),
        request_id=request_id,
    )


CREDENTIALS[ACCESS_PREFIX] = authenticate_token


# ----------------------------------------------------------------------------- purge


async def purge_expired(conn: AsyncConnection) -> dict[str, int]:
    """Delete expired codes, tokens past every use, and request-log rows older than 30 days
    (the worker role, across teams). Returns the counts."""
    now = clock.now()
    n_codes = (await conn.execute(delete(codes).where(codes.c.expires_at <= now))).rowcount
    # A rotated refresh token is kept until it would have expired: presenting it again before
    # then is a reuse, and revokes its family.
    dead = or_(
        tokens.c.refresh_expires_at.is_(None),
        tokens.c.refresh_expires_at <= now,
        tokens.c.revoked_at.is_not(None),
    )
    n_tokens = (await conn.execute(delete(tokens).where(tokens.c.expires_at <= now, dead))).rowcount
    cutoff = now - timedelta(days=REQUEST_LOG_DAYS)
    n_log = (
        await conn.execute(delete(requests_log).where(requests_log.c.created_at < cutoff))
    ).rowcount
    return {"codes": n_codes, "tokens": n_tokens, "requests": n_log}


async def purge() -> dict[str, int]:
    """:func:`purge_expired` in one transaction of the worker role (every team)."""
    async with engine("worker").begin() as conn:
        return await purge_expired(conn)
