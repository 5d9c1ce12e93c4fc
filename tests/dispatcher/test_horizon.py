"""The event log's visibility horizon is per database and per writer: a transaction left open in
another database on the same server, or by a role that cannot write events (dbt's analytics
role), does not hold the dispatcher back; a writer's open transaction in this database does."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from leadly.settings import get_settings
from tests.conftest import Team
from tests.dispatcher.conftest import append_events
from tests.plugin import eventually
from warehouse import events
from warehouse.db import connect_as


def _libpq(url: str, database: str | None = None) -> str:
    u = make_url(url).set(drivername="postgresql")
    if database:
        u = u.set(database=database)
    return u.render_as_string(hide_password=False)


def _open_write_tx(conninfo: str) -> psycopg.Connection:
    """A connection inside a transaction that holds a transaction id (as a writer does)."""
    conn = psycopg.connect(conninfo)
    conn.execute("SELECT pg_current_xact_id()")
    return conn


@pytest.fixture
def other_database_tx(database_url: str) -> Iterator[psycopg.Connection]:
    admin_db = make_url(database_url).set(database="postgres")
    conn = _open_write_tx(_libpq(admin_db.render_as_string(hide_password=False)))
    try:
        yield conn
    finally:
        conn.rollback()
        conn.close()


async def _visible(worker_engine: AsyncEngine, position: tuple[int, int]) -> bool:
    async with worker_engine.connect() as conn:
        return await events.visible_head(conn) >= position


async def _becomes_visible(worker_engine: AsyncEngine, position: tuple[int, int]) -> None:
    """While the other transaction stays open (a short one of this database, e.g. another
    test's worker committing its cursor, may hold the horizon a moment)."""
    await eventually(lambda: _visible(worker_engine, position), what="event to be visible")


async def test_a_transaction_open_in_another_database_does_not_hold_the_horizon(
    team: Team, worker_engine: AsyncEngine, other_database_tx: psycopg.Connection
) -> None:
    [*_, last] = await append_events(team.team_id, 2)
    await _becomes_visible(worker_engine, last)
    async with worker_engine.connect() as conn:
        rows = await events.read_after(conn, last[0] - 1, 0, 1000)
    assert any(int(r["id"]) == last[1] for r in rows)


async def test_a_transaction_of_the_analytics_role_does_not_hold_the_horizon(
    team: Team, worker_engine: AsyncEngine, database_url: str
) -> None:
    dbt_like = connect_as(database_url, get_settings().analytics_db_role)
    try:
        dbt_like.execute("SELECT pg_current_xact_id()")  # a build holds a transaction id
        [*_, last] = await append_events(team.team_id, 2)
        await _becomes_visible(worker_engine, last)
    finally:
        dbt_like.rollback()
        dbt_like.close()


async def test_a_transaction_open_in_this_database_holds_the_horizon(
    team: Team, worker_engine: AsyncEngine, database_url: str
) -> None:
    holder = _open_write_tx(_libpq(database_url))
    try:
        [*_, last] = await append_events(team.team_id, 2)
        assert not await _visible(worker_engine, last)
        async with worker_engine.connect() as conn:
            horizon = (await conn.execute(text("SELECT app.event_horizon()::text"))).scalar_one()
        assert int(horizon) <= int(
            holder.execute("SELECT pg_current_xact_id()::text").fetchone()[0]
        )
    finally:
        holder.rollback()
        holder.close()
    await _becomes_visible(worker_engine, last)
