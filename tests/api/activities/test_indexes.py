"""The timeline's queries are backed by indexes that lead with team_id, under row-level security
(checked by EXPLAIN on a team with a few thousand analysed rows)."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from sqlalchemy.dialects.postgresql import psycopg as pg_dialect

from api.activities.service import TimelineQuery, activity_service, timeline_statement
from api.common.context import Actor
from api.common.listing import parse_params
from api.settings import get_settings

TEAM = f"team_tl_explain_{secrets.token_hex(4)}"
ACTOR = Actor(team_id=TEAM, member_id="mem_tl_explain", role="owner")
TABLES = ("activities", "activity_comments", "mentions")


@pytest.fixture(scope="module")
async def db(database_url: str) -> AsyncIterator[psycopg.AsyncConnection[dict[str, Any]]]:
    """A superuser connection and a team with 20,000 analysed activities over 200 leads."""
    conn = await psycopg.AsyncConnection.connect(
        os.environ["LEADLY_DATABASE_URL"], autocommit=True, row_factory=dict_row
    )
    await conn.execute("INSERT INTO app.teams (id, name, slug) VALUES (%s, 'X', %s)", (TEAM, TEAM))
    await conn.execute(
        """INSERT INTO app.activities (team_id, id, type, subject, description, related_to_type,
               related_to_id, occurred_at, metadata)
        SELECT %s, 'act_x' || g, (ARRAY['call','note','email','system'])[1 + g %% 4],
               'Subject ' || g || CASE WHEN g %% 1000 = 0 THEN ' zanzibar' ELSE '' END,
               'words about pricing and the roadmap ' || (g %% 97), 'lead', 'lead_x' || (g %% 200),
               now() - g * interval '1 min', '{}'
        FROM generate_series(1, 20000) g""",
        (TEAM,),
    )
    await conn.execute("ANALYZE app.activities")
    try:
        yield conn
    finally:
        await conn.close()


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    out = [plan]
    for child in plan.get("Plans", []):
        out += _nodes(child)
    return out


async def explain(
    conn: psycopg.AsyncConnection[dict[str, Any]], stmt: Any, role: str | None = None
) -> list[dict[str, Any]]:
    """EXPLAIN as the API runs it: its role, its team, row-level security on."""
    compiled = (
        stmt.compile(dialect=pg_dialect.dialect(), compile_kwargs={"render_postcompile": True})
        if not isinstance(stmt, str)
        else None
    )
    sql, params = (str(compiled), compiled.params) if compiled is not None else (stmt, {})
    async with conn.transaction():
        await conn.execute(f"SET LOCAL ROLE {role or get_settings().api_db_role}")
        await conn.execute("SELECT set_config('app.team_id', %s, true)", (TEAM,))
        await conn.execute("SET LOCAL enable_seqscan = off")
        cur = await conn.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        row = await cur.fetchone()
    assert row is not None
    return _nodes(next(iter(row.values()))[0]["Plan"])


def used(nodes: list[dict[str, Any]], index: str) -> dict[str, Any]:
    found = [n for n in nodes if n.get("Index Name") == index]
    assert found, [(n["Node Type"], n.get("Index Name")) for n in nodes]
    assert "team_id" in found[0].get("Index Cond", ""), found[0]
    return found[0]


async def test_a_timeline_page_walks_the_timeline_index(db: Any) -> None:
    for q in (TimelineQuery(), TimelineQuery(types=["call"]), TimelineQuery(limit=10)):
        stmt = timeline_statement(ACTOR, {"lead": ["lead_x7"]}, q)
        nodes = await explain(db, stmt)
        node = used(nodes, "ix_activities_team_related_occurred")
        assert "related_to_id" in node["Index Cond"]
        assert not any(n["Node Type"] == "Sort" for n in nodes), nodes


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ({}, "ix_activities_team_created"),
        ({"filter[type]": "call"}, "ix_activities_team_type_occurred"),
        ({"filter[member_id]": "mem_x"}, "ix_activities_team_member_occurred"),
        ({"filter[related_to_id]": "lead_x1"}, "ix_activities_team_related_occurred"),
    ],
)
async def test_activity_lists_use_team_indexes(db: Any, query: dict, index: str) -> None:
    stmt, _ = activity_service.lister.apply(activity_service._scoped(ACTOR), parse_params(query))
    if query:
        stmt = stmt.order_by(None).limit(None)
    used(await explain(db, stmt), index)


async def test_search_uses_the_full_text_index_in_the_look_up(db: Any) -> None:
    """Under the API role's row-level security @@ cannot be an index condition (not
    leakproof); the look-up's owner (the auth role) reads with the GIN index."""
    query = (
        f"SELECT id FROM app.activities WHERE team_id = '{TEAM}' AND deleted_at IS NULL "
        "AND search_vector @@ websearch_to_tsquery('english', 'zanzibar')"
    )
    nodes = await explain(db, query, role=get_settings().owner_db_role + "_auth")
    node = used(nodes, "ix_activities_team_search")
    assert "search_vector" in node["Index Cond"]


async def test_every_index_leads_with_team_id(db: Any) -> None:
    cur = await db.execute(
        """
        SELECT c.relname AS table, i.relname AS index, a.attname AS first_column
        FROM pg_index x
        JOIN pg_class c ON c.oid = x.indrelid
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = x.indkey[0]
        WHERE n.nspname = 'app' AND c.relname = ANY(%s)
        """,
        (list(TABLES),),
    )
    rows = await cur.fetchall()
    assert len(rows) >= 15
    assert [r for r in rows if r["first_column"] != "team_id"] == []
