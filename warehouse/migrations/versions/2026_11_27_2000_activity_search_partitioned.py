"""activity search: team-tagged lexemes, a plain GIN index, a bounded look-up

Revision ID: e7f8a9b0c1d2
Revises: d1e2a3b4c5f6
Create Date: 2026-11-27 20:00:00.000000

The GIN indexes of f6c3d4e5a7b8 were ``(team_id, search_vector)`` (btree_gin): every search
intersected the team's posting list (millions of entries for a large team) with the words', which
cost most of a search at 10M activities. Now every lexeme of ``search_vector`` carries a tag of
its team (the first 8 hex digits of ``md5(team_id)`` and ``|``: ``'1a2b3c4d|renew':3A``), so a
plain ``gin (search_vector)`` keeps one posting list per team and word: a search touches only its
team's entries, and other teams' rows never reach the heap. ``app.team_tsvector(team_id,
tsvector)`` tags the generated columns, ``app.team_tsquery(team_id, tsquery)`` the caller's
query inside ``app.activity_search`` (which still filters on ``team_id``: two teams whose tags
collide only share posting lists). Weights, positions, prefix (``:*``) and phrase operators are
untouched, so ``@@`` and ``ts_rank`` give what the untagged vector and query give; snippets
(``ts_headline``) keep reading the raw text with the untagged query. Lexemes longer than 2,038
bytes (2,047 less the tag) are left out of the tagged vector; a query's too-long lexeme becomes one
that matches nothing.

``app.activity_search`` (same signature, owner and grants): the recent walk first (a common
word); a team whose walk saw all its activities is done (every match is known); else one pass over
the GIN index collects up to 50 x p_cap matches and ranks every one up to 20 x p_cap, else the
p_cap most recent; beyond 50 x p_cap (a word dense enough) the walk back along (team_id,
occurred_at) to the p_cap most recent.

Upgrade rewrites the two tables (the generated columns are dropped and added again) and builds
the new indexes: minutes for millions of activities, under an exclusive lock.
"""

from __future__ import annotations

from alembic import op

from warehouse.migrate import migration_module

revision = "e7f8a9b0c1d2"
down_revision = "d1e2a3b4c5f6"
branch_labels = None
depends_on = None

# f6c3d4e5a7b8, whose untagged search expressions the new columns wrap and whose look-up the
# downgrade restores.
PREVIOUS = migration_module("2026_11_27_1802_activities_timeline.py")
ACTIVITY_SEARCH: str = PREVIOUS.ACTIVITY_SEARCH
COMMENT_SEARCH: str = PREVIOUS.COMMENT_SEARCH

# The tag: 8 hex digits and '|' (9 bytes); a lexeme may hold 2,047 bytes, so longer ones than
# 2,038 bytes stay out of the tagged vector. Fast path (no quote in any lexeme, no lexeme ending
# in a space: every " '" opens a lexeme): one replace() of the text form; otherwise a regular
# expression over the quoted lexemes ('...' with '' for a quote, \\ for a backslash).
TEAM_TSVECTOR = r"""
CREATE FUNCTION app.team_tsvector(p_team text, p_vector tsvector) RETURNS tsvector
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  tag text := pg_catalog.substr(pg_catalog.md5(p_team), 1, 8) || '|';
  n integer := pg_catalog.length(p_vector);
  txt text := p_vector::text;
  r text;
BEGIN
  IF n = 0 THEN
    RETURN p_vector;
  END IF;
  IF pg_catalog.octet_length(txt) > 2038 THEN  -- may hold a lexeme too long to be tagged
    p_vector := pg_catalog.ts_delete(p_vector, ARRAY(
      SELECT u.lexeme FROM pg_catalog.unnest(p_vector) u
      WHERE pg_catalog.octet_length(u.lexeme) > 2038));
    n := pg_catalog.length(p_vector);
    txt := p_vector::text;
    IF n = 0 THEN
      RETURN p_vector;
    END IF;
  END IF;
  r := pg_catalog.replace(txt, ' ''', ' ''' || tag);
  IF pg_catalog.strpos(txt, '''''') = 0
     AND pg_catalog.length(r) - pg_catalog.length(txt) = 9 * (n - 1) THEN
    RETURN ('''' || tag || pg_catalog.substr(r, 2))::pg_catalog.tsvector;
  END IF;
  RETURN pg_catalog.regexp_replace(txt, $re$'((?:[^']|'')*)'$re$, '''' || tag || '\1''', 'g')
    ::pg_catalog.tsvector;
END $$"""

# A query's lexemes, tagged alike; one too long to be tagged (not in any tagged vector) becomes
# the tag with '!' for '|', which no tagged lexeme starts with. Queries through the API are at
# most 500 characters, so that branch is for direct callers.
TEAM_TSQUERY = r"""
CREATE FUNCTION app.team_tsquery(p_team text, p_query tsquery) RETURNS tsquery
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  tag text := pg_catalog.substr(pg_catalog.md5(p_team), 1, 8);
  txt text := p_query::text;
  pat constant text := $re$'((?:[^']|'')*)'$re$;
BEGIN
  IF pg_catalog.octet_length(txt) <= 2038 THEN
    RETURN pg_catalog.regexp_replace(txt, pat, '''' || tag || '|\1''', 'g')::pg_catalog.tsquery;
  END IF;
  RETURN (
    SELECT pg_catalog.string_agg(s.sep || coalesce(CASE
      WHEN pg_catalog.octet_length(pg_catalog.replace(pg_catalog.replace(
             m.tok[1], '''''', ''''), '\\', '\')) > 2038 THEN '''' || tag || '!'''
      ELSE '''' || tag || '|' || m.tok[1] || '''' END, ''), '' ORDER BY s.i)
    FROM pg_catalog.regexp_split_to_table(txt, pat) WITH ORDINALITY s(sep, i)
    LEFT JOIN pg_catalog.regexp_matches(txt, pat, 'g') WITH ORDINALITY m(tok, i) USING (i)
  )::pg_catalog.tsquery;
END $$"""

FILTERS = """AND (p_types IS NULL OR a.type = ANY (p_types))
        AND (p_member_id IS NULL OR a.member_id = p_member_id)
        AND (p_related_type IS NULL OR a.related_to_type = p_related_type)
        AND (p_related_id IS NULL OR a.related_to_id = p_related_id)
        AND (p_from IS NULL OR a.occurred_at >= p_from)
        AND (p_to IS NULL OR a.occurred_at < p_to)"""

# The GIN paths read the team's posting lists; a btree index on team_id must not stand in for
# them (the planner would take it when its estimate for the words is high): team_id = t is
# written so that no index can use it (team_id || ''), except when the search is within one
# record, whose (team_id, related_to_type, related_to_id) index may then be the better start.
GIN_TEAM = "(CASE WHEN p_related_id IS NULL THEN a.team_id || '' = t ELSE a.team_id = t END)"

# Paths, chosen here (not by the planner: its estimate for a word its statistics do not track is
# a flat 0.5 %, and row-level security hides the statistics from this function):
# 1. the 20 x p_cap most recent activities (the (team_id, occurred_at) index): p_cap matches there
#    are the p_cap most recent (a common word); fewer, and the walk saw the whole team (it read
#    fewer rows than its limit): those are all the matches (a small team never reads the GIN);
# 2. the GIN index (a bitmap of the team's posting lists), one pass collecting the matches' ids,
#    dates and vectors, up to 50 x p_cap: every one ranked when there are at most 20 x p_cap,
# 3. else the p_cap most recent of them ranked;
# 4. more than 50 x p_cap: such a word is dense enough for a walk back along the (team_id,
#    occurred_at) index to reach the p_cap most recent matches soon.
# Comments: their matches through the GIN index, the p_cap most recent.
SEARCH_FUNCTION = """
CREATE OR REPLACE FUNCTION app.activity_search(
    p_query tsquery, p_limit integer, p_types text[], p_member_id text, p_related_type text,
    p_related_id text, p_from timestamptz, p_to timestamptz, p_after_rank real, p_after_id text,
    p_cap integer)
RETURNS TABLE (activity_id text, comment_id text, rank real)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, app
SET plan_cache_mode = force_custom_plan
SET enable_seqscan = off
SET enable_indexscan = on
SET enable_bitmapscan = on
SET work_mem = '32MB'
SET jit = off AS $$
#variable_conflict use_column
DECLARE
  t text := current_setting('app.team_id', true);
  q tsquery;
  n integer := 0;
  seen integer := 0;
  ids text[];
  ranks real[];
BEGIN
  -- The caller's team, exactly as the row-level security policies read it.
  IF t IS NULL OR t = '' OR p_query IS NULL THEN
    RETURN;
  END IF;
  q := app.team_tsquery(t, p_query);
  -- 1. The p_cap most recent matches among the W = 20 x p_cap most recent activities (a short
  -- walk). The W-th entry comes along too (not as a match): when it is missing, the walk saw
  -- the whole team.
  PERFORM set_config('enable_bitmapscan', 'off', true);
  SELECT count(*) FILTER (WHERE m.hit), array_agg(m.id) FILTER (WHERE m.hit),
         array_agg(m.rnk) FILTER (WHERE m.hit), coalesce(max(m.rn), 0)
    INTO n, ids, ranks, seen
  FROM (
    SELECT a.id, a.rn, a.hit, CASE WHEN a.hit THEN ts_rank(a.search_vector, q) END AS rnk
    FROM (
      SELECT a.id, a.search_vector, row_number() OVER (ORDER BY a.occurred_at DESC) AS rn,
             coalesce(a.search_vector @@ q AND a.deleted_at IS NULL
               FILTERS, false) AS hit
      FROM (
        SELECT a.id, a.search_vector, a.deleted_at, a.type, a.member_id, a.related_to_type,
               a.related_to_id, a.occurred_at
        FROM app.activities a
        WHERE a.team_id = t
        ORDER BY a.occurred_at DESC
        LIMIT p_cap * 20
      ) a
    ) a
    WHERE a.hit OR a.rn = p_cap * 20
    LIMIT p_cap + 1
  ) m;
  IF n > p_cap THEN
    n := p_cap;
    ids := ids[1:p_cap];
    ranks := ranks[1:p_cap];
  END IF;
  PERFORM set_config('enable_bitmapscan', 'on', true);
  PERFORM set_config('enable_indexscan', 'off', true);  -- the GIN index (bitmap)
  IF n < p_cap AND seen >= p_cap * 20 THEN
    -- 2./3. The GIN index: the matches' ids, dates and vectors, up to 50 x p_cap (one pass,
    -- no ranking while collecting); every one ranked up to 20 x p_cap, else the p_cap most recent.
    WITH m AS MATERIALIZED (
      SELECT a.id, a.occurred_at, a.search_vector
      FROM app.activities a
      WHERE GIN_TEAM AND a.search_vector @@ q AND a.deleted_at IS NULL
        FILTERS
      LIMIT p_cap * 50 + 1
    )
    SELECT c.total, array_agg(x.id), array_agg(ts_rank(x.search_vector, q))
      INTO n, ids, ranks
    FROM (SELECT count(*) AS total FROM m) c
    CROSS JOIN LATERAL (
      SELECT m.id, m.search_vector
      FROM m
      ORDER BY m.occurred_at DESC
      LIMIT CASE WHEN c.total <= p_cap * 20 THEN NULL ELSE p_cap END
    ) x
    GROUP BY c.total;
    n := coalesce(n, 0);
    IF n > p_cap * 50 THEN
      -- 4. A word in more than 50 x p_cap entries: walk back to the p_cap most recent.
      PERFORM set_config('enable_indexscan', 'on', true);
      PERFORM set_config('enable_bitmapscan', 'off', true);
      SELECT array_agg(m.id), array_agg(m.rnk) INTO ids, ranks
      FROM (
        SELECT a.id, ts_rank(a.search_vector, q) AS rnk
        FROM app.activities a
        WHERE a.team_id = t AND a.search_vector @@ q AND a.deleted_at IS NULL
          FILTERS
        ORDER BY a.occurred_at DESC
        LIMIT p_cap
      ) m;
      PERFORM set_config('enable_bitmapscan', 'on', true);
      PERFORM set_config('enable_indexscan', 'off', true);
    END IF;
  END IF;
  -- Each activity once: with its best comment when that ranks higher than the activity.
  RETURN QUERY
  WITH acts AS (
    SELECT u.id AS activity_id, u.rnk AS rank
    FROM unnest(coalesce(ids, '{}'::text[]), coalesce(ranks, '{}'::real[])) AS u(id, rnk)
  ), cmts AS (
    SELECT DISTINCT ON (c.activity_id) c.activity_id, c.id AS comment_id,
           ts_rank(c.search_vector, q) AS rank
    FROM (
      SELECT c.activity_id, c.id, c.search_vector
      FROM app.activity_comments c
      JOIN app.activities a
        ON a.team_id = c.team_id AND a.id = c.activity_id AND a.deleted_at IS NULL
      WHERE c.team_id || '' = t AND c.search_vector @@ q AND c.deleted_at IS NULL
        FILTERS
      ORDER BY c.created_at DESC
      LIMIT p_cap
    ) c
    ORDER BY c.activity_id, 3 DESC, c.id
  ), best AS (
    SELECT coalesce(a.activity_id, c.activity_id) AS activity_id,
           CASE WHEN a.rank IS NULL OR c.rank > a.rank THEN c.comment_id END AS comment_id,
           greatest(a.rank, c.rank) AS rank
    FROM acts a FULL JOIN cmts c ON c.activity_id = a.activity_id
  )
  SELECT b.activity_id, b.comment_id, b.rank
  FROM best b
  WHERE p_after_id IS NULL OR (b.rank, b.activity_id) < (p_after_rank, p_after_id)
  ORDER BY b.rank DESC, b.activity_id DESC
  LIMIT p_limit;
END $$""".replace("FILTERS", FILTERS).replace("GIN_TEAM", GIN_TEAM)


def _search_columns(activities: str, comments: str, gin: str) -> None:
    """Drop and add again the two generated columns (a rewrite), then their GIN indexes."""
    for table, expr in (("activities", activities), ("activity_comments", comments)):
        op.execute(f"ALTER TABLE app.{table} DROP COLUMN search_vector")
        op.execute(
            f"ALTER TABLE app.{table} ADD COLUMN search_vector tsvector "
            f"GENERATED ALWAYS AS ({expr}) STORED"
        )
        op.execute(gin.format(table=table))


def upgrade() -> None:
    op.execute(TEAM_TSVECTOR)
    op.execute(TEAM_TSQUERY)
    op.execute("DROP INDEX app.ix_activities_team_search")
    op.execute("DROP INDEX app.ix_activity_comments_team_search")
    _search_columns(
        f"app.team_tsvector(team_id, {ACTIVITY_SEARCH})",
        f"app.team_tsvector(team_id, {COMMENT_SEARCH})",
        "CREATE INDEX ix_{table}_search ON app.{table} USING gin (search_vector)",
    )
    op.execute(SEARCH_FUNCTION)  # CREATE OR REPLACE: owner and grants stay
    op.execute("ANALYZE app.activities, app.activity_comments")  # the new columns' statistics


def downgrade() -> None:
    op.execute("DROP INDEX app.ix_activities_search")
    op.execute("DROP INDEX app.ix_activity_comments_search")
    _search_columns(
        ACTIVITY_SEARCH,
        COMMENT_SEARCH,
        "CREATE INDEX ix_{table}_team_search ON app.{table} USING gin (team_id, search_vector)",
    )
    op.execute(PREVIOUS.SEARCH_FUNCTION.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    op.execute("DROP FUNCTION app.team_tsquery(text, tsquery)")
    op.execute("DROP FUNCTION app.team_tsvector(text, tsvector)")
    op.execute("ANALYZE app.activities, app.activity_comments")
