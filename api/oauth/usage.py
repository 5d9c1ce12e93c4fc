"""The request log of API keys and OAuth clients: one row per request (endpoint, status,
latency, credential), kept 30 days (``api.oauth.service.purge_expired``), read by admins."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from api.auth.service import api_keys, check_scope
from api.common.guards import require_role
from api.oauth.service import OAUTH_ACTOR, clients, requests_log
from leadly.actor import Actor
from leadly.ids import new_id
from leadly.problem import not_found, validation
from warehouse.db import api_engine, tenant_tx

LOGGED = {"api_key": "api_key", OAUTH_ACTOR: "oauth_client"}
MAX_PAGE = 200


def logged(actor: Any) -> bool:
    """Whether requests of ``actor`` are logged (API keys and OAuth clients)."""
    return getattr(actor, "actor_type", None) in LOGGED and actor.credential_id is not None


async def record(actor: Actor, method: str, endpoint: str, status: int, duration_ms: int) -> None:
    """Append one request of an API key or an OAuth client (its own short transaction)."""
    async with tenant_tx(api_engine(), actor.team_id, actor.member_id) as conn:
        await conn.execute(
            insert(requests_log).values(
                team_id=actor.team_id,
                id=new_id("req"),
                credential_type=LOGGED[actor.actor_type],
                credential_id=actor.credential_id,
                member_id=actor.member_id,
                method=method[:10],
                endpoint=endpoint[:300],
                status=status,
                duration_ms=max(0, min(duration_ms, 2**31 - 1)),
            )
        )


async def list_requests(
    conn: AsyncConnection,
    actor: Actor,
    credential: str,
    credential_id: str,
    cursor: str | None,
    limit: int,
) -> dict[str, Any]:
    """Newest first, ``limit`` a page (``cursor``: the ``next_cursor`` of the page before).
    Admins only; another team's key or client is unknown (404)."""
    check_scope(actor, "api_keys:read")
    require_role(actor, "admin")
    if not 1 <= limit <= MAX_PAGE:
        raise validation([{"field": "limit", "message": f"Between 1 and {MAX_PAGE}."}])
    table = api_keys if credential == "api_key" else clients
    exists = (
        await conn.execute(
            select(table.c.id).where(table.c.team_id == actor.team_id, table.c.id == credential_id)
        )
    ).first()
    if exists is None:
        raise not_found(credential.replace("_", " "), credential_id)
    q = (
        select(
            requests_log.c.id,
            requests_log.c.method,
            requests_log.c.endpoint,
            requests_log.c.status,
            requests_log.c.duration_ms,
            requests_log.c.member_id,
            requests_log.c.created_at,
        )
        .where(
            requests_log.c.team_id == actor.team_id,
            requests_log.c.credential_id == credential_id,
        )
        .order_by(requests_log.c.created_at.desc(), requests_log.c.id.desc())
        .limit(limit + 1)
    )
    if cursor:
        at = (
            await conn.execute(
                select(requests_log.c.created_at).where(
                    requests_log.c.team_id == actor.team_id, requests_log.c.id == cursor
                )
            )
        ).scalar()
        if at is None:
            raise validation([{"field": "cursor", "message": "Not a cursor of this list."}])
        q = q.where(
            (requests_log.c.created_at < at)
            | ((requests_log.c.created_at == at) & (requests_log.c.id < cursor))
        )
    rows = [dict(r._mapping) for r in await conn.execute(q)]
    more = len(rows) > limit
    rows = rows[:limit]
    return {"data": rows, "next_cursor": rows[-1]["id"] if more else None, "has_more": more}
