"""The timeline's queries are backed by indexes that lead with team_id, under row-level security
(checked by EXPLAIN on a team with a few thousand analysed rows); the full-text indexes hold
team-tagged lexemes instead, and the search look-up's paths are checked by the plans of the
statements it runs (auto_explain)."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from api.activities.service import activity_service
from api.activities.timeline import TimelineQuery, timeline_statement
from api.common.listing import parse_params
from leadly.actor import Actor
from leadly.settings import get_settings
from tests.plugin import explain_as_api, index_first_columns

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


async def explain(
    conn: psycopg.AsyncConnection[dict[str, Any]], stmt: Any, role: str | None = None
) -> list[dict[str, Any]]:
    """EXPLAIN as the API runs it: its role, its team, row-level security on."""
    return await explain_as_api(conn, stmt, TEAM, role=role)


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


LOOK_UP = (
    "SELECT activity_id, comment_id, rank FROM app.activity_search(to_tsquery('english', %s), 5000, "
    "NULL, NULL, NULL, NULL, {start}, {end}, NULL, NULL, %s)"
)


async def look_up(
    conn: psycopg.AsyncConnection[dict[str, Any]],
    query: str,
    cap: int,
    team: str = TEAM,
    analyze: bool = False,
    window: tuple[str | None, str | None] = (None, None),
) -> tuple[list[dict[str, Any]], str]:
    """app.activity_search as the API calls it (its role, its team), with the plan of every
    statement the look-up runs (auto_explain, sent back as notices; with ``analyze``, the rows
    each node returned). ``window``: SQL for p_from and p_to."""
    plans: list[str] = []

    def keep(d: psycopg.errors.Diagnostic) -> None:
        plans.append(d.message_primary or "")

    start, end = (w or "NULL" for w in window)
    conn.add_notice_handler(keep)
    try:
        async with conn.transaction():
            await conn.execute("LOAD 'auto_explain'")
            await conn.execute("SET LOCAL auto_explain.log_min_duration = 0")
            await conn.execute("SET LOCAL auto_explain.log_nested_statements = on")
            await conn.execute("SET LOCAL auto_explain.log_level = notice")
            if analyze:
                await conn.execute("SET LOCAL auto_explain.log_analyze = on")
            await conn.execute(f"SET LOCAL ROLE {get_settings().api_db_role}")
            await conn.execute("SELECT set_config('app.team_id', %s, true)", (team,))
            sql = LOOK_UP.format(start=start, end=end)
            rows = await (await conn.execute(sql, (query, cap))).fetchall()
    finally:
        conn.remove_notice_handler(keep)
    return rows, "\n".join(plans)


def matching(g: range, test: Any) -> list[str]:
    """Ids of the fixture's activities g (most recent first) that ``test`` accepts."""
    return [f"act_x{i}" for i in g if test(i)]


async def test_search_uses_the_full_text_index_in_the_look_up(db: Any) -> None:
    """Under the API role's row-level security @@ cannot be an index condition (not
    leakproof); the look-up's owner (the auth role) reads with the GIN index, whose lexemes
    carry the team's tag (so its posting lists are the team's alone)."""
    query = (
        f"SELECT id FROM app.activities WHERE team_id = '{TEAM}' AND deleted_at IS NULL "
        f"AND search_vector @@ app.team_tsquery('{TEAM}', "
        "websearch_to_tsquery('english', 'zanzibar'))"
    )
    nodes = await explain(db, query, role=get_settings().owner_db_role + "_auth")
    [node] = [n for n in nodes if n.get("Index Name") == "ix_activities_search"]
    assert node["Node Type"] == "Bitmap Index Scan" and "search_vector" in node["Index Cond"]
    # Through the look-up: the 5 x 5 most recent entries hold no match, so windows back in
    # time through the GIN index (words and periods in one scan): the 5 most recent matches.
    rows, plans = await look_up(db, "zanzibar", cap=5, analyze=True)
    assert {r["activity_id"] for r in rows} == set(
        matching(range(1, 20001), lambda g: g % 1000 == 0)[:5]
    )
    # The walk first: the 5 x p_cap most recent entries.
    assert re.search(
        r"Index Scan Backward using ix_activities_team_occurred .*"
        r"\(actual time=\S+ rows=25(\.00)? ",  # PostgreSQL 18 prints rows=25.00
        plans,
    ), plans
    assert "Bitmap Index Scan on ix_activities_search" in plans
    assert re.search(
        r"Index Cond: \(\(search_vector @@ .*\) AND \(activity_periods\(team_id, occurred_at\) @@",
        plans,
    )
    # Fewer matches than p_cap: the windows reach the team's first entry, every match is found.
    rows, _ = await look_up(db, "zanzibar", cap=50)
    assert len(rows) == 20


async def test_a_common_word_is_settled_by_the_recent_walk(db: Any) -> None:
    rows, plans = await look_up(db, "roadmap", cap=50)
    assert [r["activity_id"] for r in sorted(rows, key=lambda r: int(r["activity_id"][5:]))] == [
        f"act_x{g}" for g in range(1, 51)
    ]
    assert "ix_activities_search" not in plans


def heap_rows(plans: str, table: str = "activities a") -> list[int]:
    """Rows each window's bitmap heap scan of ``table`` returned (auto_explain, ANALYZE)."""
    return [
        int(m) for m in re.findall(rf"Bitmap Heap Scan on {table} .*?rows=\d+ .*?rows=(\d+)", plans)
    ]


async def test_windows_back_in_time_rank_the_most_recent_matches(db: Any) -> None:
    """'roadmap & 50' matches the 206 entries with g % 97 = 50, one every 97 minutes over two
    weeks. The look-up ranks the p_cap most recent (every one when there are fewer), each as
    ts_rank ranks it, and reads the heap only for the matches of the windows it needed."""
    recent = matching(range(1, 20001), lambda g: g % 97 == 50)
    assert len(recent) == 206
    for cap, expected_ids in ((5, recent[:5]), (11, recent[:11]), (300, recent)):
        rows, plans = await look_up(db, "roadmap & 50", cap=cap, analyze=True)
        assert sorted(r["activity_id"] for r in rows) == sorted(expected_ids), cap
        assert plans.count("Index Scan Backward using ix_activities_team_occurred") == 1
        read = heap_rows(plans)
        assert read, plans
        if cap < 20:  # a day or two of windows, not the two weeks of matches
            assert sum(read) < 206 / 3, (cap, read)
        cur = await db.execute(
            "SELECT id, ts_rank(search_vector, app.team_tsquery(team_id, "
            "to_tsquery('english', 'roadmap & 50'))) AS rank FROM app.activities "
            "WHERE team_id = %s AND id = ANY(%s)",
            (TEAM, expected_ids),
        )
        expected = {r["id"]: r["rank"] for r in await cur.fetchall()}
        assert {r["activity_id"]: r["rank"] for r in rows} == expected
        assert all(rank > 0 for rank in expected.values())


async def test_an_entry_far_in_the_future_does_not_widen_the_windows(db: Any) -> None:
    """The walk's time span counts up to now: a meeting booked a year ahead must not make the
    first window years wide (which would read every one of the 62 matches)."""
    team = f"team_tl_future_{secrets.token_hex(4)}"
    await db.execute("INSERT INTO app.teams (id, name, slug) VALUES (%s, 'F', %s)", (team, team))
    await db.execute(
        """INSERT INTO app.activities (team_id, id, type, subject, description, related_to_type,
               related_to_id, occurred_at)
        SELECT %s, 'act_f' || g, 'note', 'Subject ' || g, 'about the roadmap ' || (g %% 97),
               'lead', 'lead_f', now() - g * interval '1 min'
        FROM generate_series(1, 6000) g
        UNION ALL
        SELECT %s, 'act_f_next_year', 'meeting', 'Kick-off', 'plan', 'lead', 'lead_f',
               now() + interval '1 year'""",
        (team, team),
    )
    rows, plans = await look_up(db, "roadmap & 50", cap=5, team=team, analyze=True)
    expected = [f"act_f{g}" for g in range(1, 6001) if g % 97 == 50]
    assert len(expected) == 62
    assert sorted(r["activity_id"] for r in rows) == sorted(expected[:5])
    assert 0 < sum(heap_rows(plans)) < 40, heap_rows(plans)


@pytest.mark.parametrize("ago", ["0", "3 years"])
async def test_comments_are_read_back_in_windows_too(db: Any, ago: str) -> None:
    """Comments match through their own GIN index (words and creation dates): the p_cap most
    recent matching comments, read in windows back from the newest comment (however long ago
    it was written), not every match."""
    team = f"team_tl_cmt_{secrets.token_hex(4)}"
    await db.execute("INSERT INTO app.teams (id, name, slug) VALUES (%s, 'C', %s)", (team, team))
    await db.execute(
        "INSERT INTO app.roles (team_id, id, key, name, is_system) "
        "VALUES (%s, 'rol_c', 'owner', 'Owner', true)",
        (team,),
    )
    await db.execute(
        "INSERT INTO app.team_members (team_id, id, email, email_normalized, name, role_id) "
        "VALUES (%s, 'mem_c', %s, %s, 'C', 'rol_c')",
        (team, f"{team}@example.com", f"{team}@example.com"),
    )
    await db.execute(
        """INSERT INTO app.activities (team_id, id, type, subject, related_to_type,
               related_to_id, occurred_at)
        SELECT %s, 'act_c' || g, 'note', 'Subject ' || g, 'lead', 'lead_c',
               now() - g * interval '6 min'
        FROM generate_series(1, 4000) g""",
        (team,),
    )
    await db.execute(
        """INSERT INTO app.activity_comments (team_id, id, activity_id, author_id, text,
               created_at)
        SELECT %s, 'cmt_c' || g, 'act_c' || g, 'mem_c', 'about the budget ' || (g %% 89),
               now() - %s::interval - g * interval '6 min'
        FROM generate_series(1, 4000) g""",
        (team, ago),
    )
    expected = [g for g in range(1, 4001) if g % 89 == 17]
    assert len(expected) == 45
    rows, plans = await look_up(db, "budget & 17", cap=5, team=team, analyze=True)
    assert sorted(r["comment_id"] for r in rows) == sorted(f"cmt_c{g}" for g in expected[:5])
    assert {r["activity_id"] for r in rows} == {f"act_c{g}" for g in expected[:5]}
    read = heap_rows(plans, "activity_comments c")
    assert read and sum(read) < 45 / 2, read
    assert re.search(
        r"Index Cond: \(\(search_vector @@ .*\) AND \(activity_periods\(team_id, created_at\) @@",
        plans,
    )
    rows, _ = await look_up(db, "budget & 17", cap=100, team=team)  # fewer: every one
    assert sorted(r["comment_id"] for r in rows) == sorted(f"cmt_c{g}" for g in expected)


async def test_windows_keep_within_the_date_filters(db: Any) -> None:
    """p_to: the windows start there (not at the walk's end); p_from: they stop there."""
    recent = matching(range(1, 20001), lambda g: g % 97 == 50)
    rows, _ = await look_up(db, "roadmap & 50", cap=3, window=(None, "now() - interval '5000 min'"))
    assert sorted(r["activity_id"] for r in rows) == sorted(
        [g for g in recent if int(g[5:]) > 5000][:3]
    )
    rows, _ = await look_up(
        db, "roadmap & 50", cap=100, window=("now() - interval '3000 min'", None)
    )
    assert sorted(r["activity_id"] for r in rows) == sorted(g for g in recent if int(g[5:]) < 3000)


async def test_period_lexemes_match_the_days_of_a_window(db: Any) -> None:
    """An entry's periods match a window's query exactly when its UTC day lies in the window's
    days (whole blocks of 7, 56 and 448 days by their lexeme), before 1970 too; another team's
    never match; a window of decades takes a few dozen lexemes."""
    cur = await db.execute(
        """
        WITH ts AS (
            SELECT timestamptz '1969-12-20 00:00Z' + g * interval '7 hours 13 min' AS at
            FROM generate_series(0, 400) g
            UNION ALL
            SELECT timestamptz '1966-03-01 05:00Z' + g * interval '3 days 5 hours 7 min'
            FROM generate_series(0, 1000) g
        ), w AS (
            SELECT timestamptz '1969-12-24 23:59:59.999999Z' AS lo,
                   timestamptz '1970-02-11 00:00Z' AS hi
            UNION ALL SELECT timestamptz '1970-01-05 12:00Z', timestamptz '1970-01-05 13:00Z'
            UNION ALL SELECT timestamptz '1970-01-01 00:00Z', timestamptz '1970-01-14 23:00Z'
            UNION ALL SELECT timestamptz '1966-07-03 10:00Z', timestamptz '1972-11-20 03:00Z'
            UNION ALL SELECT timestamptz '1968-01-09 00:00Z', timestamptz '1969-06-30 00:00Z'
        )
        SELECT w.lo, w.hi, ts.at,
               app.activity_periods('t1', ts.at) @@ app.activity_periods_query('t1', w.lo, w.hi)
                 AS hit,
               app.activity_periods('t2', ts.at) @@ app.activity_periods_query('t1', w.lo, w.hi)
                 AS other,
               (ts.at AT TIME ZONE 'UTC')::date
                 BETWEEN (w.lo AT TIME ZONE 'UTC')::date AND (w.hi AT TIME ZONE 'UTC')::date
                 AS expected
        FROM ts CROSS JOIN w
        """
    )
    rows = await cur.fetchall()
    assert [r for r in rows if r["hit"] != r["expected"]] == []
    assert not any(r["other"] for r in rows)
    assert sum(r["hit"] for r in rows) > 1000
    cur = await db.execute(
        "SELECT numnode(app.activity_periods_query('t1', now() - interval '30 years', now())) "
        "AS nodes"
    )
    row = await cur.fetchone()
    assert row is not None and row["nodes"] < 2 * 60  # lexemes and the | between them
    with pytest.raises(psycopg.errors.RaiseException):
        await db.execute("SELECT app.activity_periods_query('t1', now(), now() - interval '2 d')")
    cur = await db.execute(
        "SELECT app.activity_periods('t1', 'infinity') AS inf, "
        "app.activity_periods('t1', NULL) AS missing"
    )
    assert await cur.fetchone() == {"inf": "", "missing": ""}


async def test_a_small_team_never_reads_the_full_text_index(db: Any) -> None:
    """The recent walk read fewer entries than its limit: it saw the whole team, every match
    is known."""
    small = f"team_tl_small_{secrets.token_hex(4)}"
    await db.execute("INSERT INTO app.teams (id, name, slug) VALUES (%s, 'S', %s)", (small, small))
    await db.execute(
        """INSERT INTO app.activities (team_id, id, type, subject, related_to_type,
               related_to_id, occurred_at)
        SELECT %s, 'act_s' || g, 'note', 'Subject ' || CASE WHEN g %% 3 = 0 AND g > 30 THEN 'zanzibar'
               ELSE 'other' END, 'lead', 'lead_s', now() - g * interval '1 min'
        FROM generate_series(1, 60) g""",
        (small,),
    )
    rows, plans = await look_up(db, "zanzibar", cap=1000, team=small)
    assert sorted(r["activity_id"] for r in rows) == sorted(f"act_s{g}" for g in range(33, 61, 3))
    assert "ix_activities_search" not in plans
    # A cap whose walk (the 5 x 1 most recent) stops short of the team's 60 entries: windows
    # through the GIN index, which leave deleted entries out.
    rows, plans = await look_up(db, "zanzibar", cap=1, team=small)
    assert [r["activity_id"] for r in rows] == ["act_s33"]
    assert "Bitmap Index Scan on ix_activities_search" in plans
    await db.execute(
        "UPDATE app.activities SET deleted_at = now() WHERE team_id = %s AND id = 'act_s33'",
        (small,),
    )
    rows, _ = await look_up(db, "zanzibar", cap=1, team=small)
    assert [r["activity_id"] for r in rows] == ["act_s36"]


async def test_every_index_leads_with_team_id(db: Any) -> None:
    rows = await index_first_columns(db, TABLES)
    assert len(rows) >= 15
    # The full-text indexes are the exception: their column's lexemes carry the team's tag.
    assert sorted(r["index"] for r in rows if r["first_column"] != "team_id") == [
        "ix_activities_search",
        "ix_activity_comments_search",
    ]
    cur = await db.execute(
        """
        SELECT c.relname AS table, pg_get_expr(d.adbin, d.adrelid) AS expr
        FROM pg_attrdef d
        JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
        JOIN pg_class c ON c.oid = d.adrelid
        WHERE a.attname = 'search_vector' AND c.relname = ANY(%s)
        """,
        (list(TABLES),),
    )
    exprs = await cur.fetchall()
    assert len(exprs) == 2
    assert all(r["expr"].startswith("app.team_tsvector(team_id, ") for r in exprs), exprs
