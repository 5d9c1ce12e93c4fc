"""Schema changes made at run time: the expression indexes of custom fields.

``CREATE INDEX CONCURRENTLY`` neither rewrites nor blocks writes to the table, but it cannot run
inside a transaction and only the owner of the table may run it: it runs here on its own
autocommit connection (the admin URL, as the owner role), after the request's transaction has
committed. A build that fails (a unique index over values that already clash) leaves an invalid
index behind, which is dropped before the error is raised.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from leadly.settings import get_settings
from warehouse.db import database_url, libpq_url


async def _owner_connection() -> psycopg.AsyncConnection:
    s = get_settings()
    conn = await psycopg.AsyncConnection.connect(
        libpq_url(database_url(s)), autocommit=True, options="-c TimeZone=UTC"
    )
    await conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(s.owner_db_role)))
    return conn


async def create_index(ddl: str, name: str) -> None:
    """Run ``ddl`` (a ``CREATE [UNIQUE] INDEX CONCURRENTLY`` naming index ``app.<name>``);
    on failure drop what it left and re-raise the database's error."""
    async with await _owner_connection() as conn:
        try:
            await conn.execute(ddl.encode())
        except psycopg.Error:
            await conn.execute(
                sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS app.{}").format(sql.Identifier(name))
            )
            raise


async def drop_index(name: str) -> None:
    async with await _owner_connection() as conn:
        await conn.execute(
            sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS app.{}").format(sql.Identifier(name))
        )
