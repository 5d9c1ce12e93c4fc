"""The transaction a service works in: the request's own (opened and authenticated by the auth
middleware, scoped to the caller's team) when there is one, else a new tenant transaction."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextvars import ContextVar

from sqlalchemy.ext.asyncio import AsyncConnection

from leadly.actor import Actor
from warehouse.db import api_engine, set_tenant, tenant_tx

# The connection the auth middleware opened for this request; its transaction is already
# authenticated and scoped to the caller's team.
REQUEST_CONN: ContextVar[AsyncConnection | None] = ContextVar("leadly_request_conn", default=None)


@contextlib.asynccontextmanager
async def tenant_scope(actor: Actor) -> AsyncIterator[AsyncConnection]:
    """One transaction scoped to the actor's team: the request's own when the auth middleware
    opened one (no extra round trips), else a new one. Commits on success, rolls back on error."""
    conn = REQUEST_CONN.get()
    if conn is None:
        async with tenant_tx(api_engine(), actor.team_id, actor.member_id) as fresh:
            yield fresh
        return
    if not conn.in_transaction():
        await conn.begin()
        await set_tenant(conn, actor.team_id, actor.member_id)
    try:
        yield conn
    except BaseException:
        await conn.rollback()
        raise
    await conn.commit()
