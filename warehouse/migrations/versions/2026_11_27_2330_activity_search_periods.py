"""activity search: the GIN index also holds each entry's date (blocks of days); the look-up
reads back in time windows

Revision ID: b0c1d2e3f4a5
Revises: a9b0c1d2e3f4
Create Date: 2026-11-27 23:30:00.000000

A query matching tens of thousands of a team's entries spread over its history (a name and a
topic, at 10M activities) cost one heap read per match in e7f8a9b0c1d2's look-up: the GIN index
tells which rows match, only the heap tells when they happened, and the look-up needed the most
recent ones. The GIN index ``ix_activities_search`` now has a second column,
``app.activity_periods(team_id, occurred_at)``: four lexemes per entry, the blocks of 1, 7, 56
and 448 UTC epoch days its date lies in, tagged with the team like ``search_vector``'s lexemes
(``'1a2b3c4d|1d20419'``, ``'1a2b3c4d|7d2917'``, ``'1a2b3c4d|56d364'``, ``'1a2b3c4d|448d45'``).
``app.activity_periods_query(team_id, from, to)`` is the tsquery matching every day from
``from`` to ``to``, whole blocks by their lexeme (a few dozen lexemes for a window of decades).
A scan with both columns is one GIN scan with two keys that skip ahead on each other, so it
reads the words' posting lists only within the window and the heap only for the window's
matches.

``app.activity_search`` (same signature, owner and grants) keeps the recent walk, now of the 5 x
p_cap most recent entries (a common word; a small team seen whole), and then reads back from
where the walk stopped in windows, each sized from the matches per hour seen so far (x 1.25, at
most eight times the time covered; four times while fewer than 10 are known), until it holds
p_cap matches or reaches the team's first activity (or ``p_from``). It ranks the p_cap most
recent matches: every match when there are fewer. (e7f8a9b0c1d2 ranked every match up to 20 x
p_cap, reading them all.) Comments get the same second column on ``ix_activity_comments_search``
(their ``created_at``) and are read back in windows alike, the first holding the W most recent
comments, to the p_cap most recent (e7f8a9b0c1d2 read every matching comment).

Upgrade builds each new index next to the old one, then drops the old one (79 s for 10M
activities here; writes wait meanwhile). No table rewrite.
"""

from __future__ import annotations

from alembic import op

from warehouse.migrate import migration_module

revision = "b0c1d2e3f4a5"
down_revision = "a9b0c1d2e3f4"
branch_labels = None
depends_on = None

# e7f8a9b0c1d2: its filters, its team condition for the GIN paths and the comments part of its
# look-up (unchanged here); its look-up and index come back on downgrade.
PREVIOUS = migration_module("2026_11_27_2000_activity_search_partitioned.py")

# Blocks of 1, 7, 56 and 448 epoch days (floor, so before 1970 too): block k of n days holds days
# kn .. kn + n - 1. An entry holds the four blocks its day lies in; a window's query takes, from
# its first day on, the largest aligned block that fits, so any window needs few lexemes (at
# most 6 + 7 + 7 of each smaller size on either side, plus its 448-day blocks).
PERIODS = """
CREATE FUNCTION app.activity_periods(p_team text, p_at timestamptz) RETURNS tsvector
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  tag text := pg_catalog.substr(pg_catalog.md5(p_team), 1, 8) || '|';
  d bigint;
BEGIN
  IF p_at IS NULL OR NOT pg_catalog.isfinite(p_at) THEN
    RETURN ''::pg_catalog.tsvector;
  END IF;
  d := pg_catalog.floor(EXTRACT(epoch FROM p_at) / 86400);
  RETURN pg_catalog.array_to_tsvector(ARRAY[
    tag || '1d' || d,
    tag || '7d' || pg_catalog.floor(d / 7.0)::bigint,
    tag || '56d' || pg_catalog.floor(d / 56.0)::bigint,
    tag || '448d' || pg_catalog.floor(d / 448.0)::bigint]);
END $$"""

PERIODS_QUERY = """
CREATE FUNCTION app.activity_periods_query(p_team text, p_from timestamptz, p_to timestamptz)
RETURNS tsquery LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  tag text := pg_catalog.substr(pg_catalog.md5(p_team), 1, 8) || '|';
  d bigint := pg_catalog.floor(EXTRACT(epoch FROM p_from) / 86400);
  last bigint := pg_catalog.floor(EXTRACT(epoch FROM p_to) / 86400);
  size integer;
  parts text[] := '{}';
BEGIN
  IF d > last THEN
    RAISE EXCEPTION 'activity_periods_query: % is after %', p_from, p_to;
  END IF;
  WHILE d <= last LOOP
    size := CASE WHEN d % 448 = 0 AND d + 447 <= last THEN 448
                 WHEN d % 56 = 0 AND d + 55 <= last THEN 56
                 WHEN d % 7 = 0 AND d + 6 <= last THEN 7
                 ELSE 1 END;
    parts := parts || ('''' || tag || size || 'd' || d / size || '''');
    d := d + size;
  END LOOP;
  RETURN pg_catalog.array_to_string(parts, ' | ')::pg_catalog.tsquery;
END $$"""

# The start of the next window back from p_up, a day boundary (UTC) no earlier than p_earliest
# (the first entry, or p_from, which the filters apply): the window's lexemes cover whole days,
# so a window needs no lower bound on the date (a condition a btree index would take instead
# of the GIN index), only its upper one (the previous window's start, or the walk's end):
# enough time for the matches still missing at the rate seen so far (p_found in p_covered), a
# quarter more, at most eight times the time covered; four times while fewer than 10 matches
# tell the rate.
WINDOW_START = """
CREATE FUNCTION app.search_window_start(
    p_up timestamptz, p_covered interval, p_found integer, p_cap integer, p_earliest timestamptz)
RETURNS timestamptz LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT greatest(p_earliest, pg_catalog.to_timestamp(pg_catalog.floor(EXTRACT(epoch FROM
    p_up - CASE WHEN p_found < 10 THEN p_covered * 4
                ELSE p_covered * least((p_cap - p_found) * 1.25 / p_found, 8)::float8 END)
    / 86400) * 86400))
$$"""

# Both searchable tables: the words and the entry's date (an activity's occurred_at, a
# comment's created_at) in one GIN index.
INDEXES = {
    "activities": ("ix_activities_search", "occurred_at"),
    "activity_comments": ("ix_activity_comments_search", "created_at"),
}

# The walk's length in p_cap (e7f8a9b0c1d2 walked 20 x p_cap entries; the windows now cost less
# than the walk for a word rarer than 1 in 5).
WALK = 5

# 1. The walk (as e7f8a9b0c1d2's): the p_cap most recent matches among the W = 5 x p_cap most
#    recent activities; its first and W-th entries come along (not as matches) for their dates;
#    a missing W-th entry: the walk saw the whole team.
# 2. Windows back from the W-th entry's date, through the GIN index with both its columns; each
#    pass collects its matches (id, date, rank), until p_cap in all or the team's first activity.
# 3. The p_cap most recent of the walk's and the windows' matches.
# 4. Comments: windows back from the newest, through their GIN index, to the p_cap most recent.
# e7f8a9b0c1d2's signature and settings (CREATE OR REPLACE ... #variable_conflict) head the new
# body.
_PREVIOUS_BODY: str = PREVIOUS.SEARCH_FUNCTION
SEARCH_FUNCTION = (
    (
        _PREVIOUS_BODY[: _PREVIOUS_BODY.index("DECLARE\n")]
        + """DECLARE
  t text := current_setting('app.team_id', true);
  q tsquery;
  n integer := 0;
  seen integer := 0;
  ids text[];
  ranks real[];
  dates timestamptz[];
  newest timestamptz;
  up timestamptz;
  lo timestamptz;
  earliest timestamptz;
  covered interval;
  inclusive boolean := true;
  got integer;
  more_ids text[];
  more_ranks real[];
  more_dates timestamptz[];
  c_n integer := 0;
  c_ids text[];
  c_acts text[];
  c_ranks real[];
  c_dates timestamptz[];
  more_acts text[];
BEGIN
  -- The caller's team, exactly as the row-level security policies read it.
  IF t IS NULL OR t = '' OR p_query IS NULL THEN
    RETURN;
  END IF;
  q := app.team_tsquery(t, p_query);
  -- 1. The walk.
  PERFORM set_config('enable_bitmapscan', 'off', true);
  SELECT count(*) FILTER (WHERE m.hit), array_agg(m.id) FILTER (WHERE m.hit),
         array_agg(m.rnk) FILTER (WHERE m.hit), array_agg(m.occurred_at) FILTER (WHERE m.hit),
         coalesce(max(m.rn), 0), max(m.occurred_at) FILTER (WHERE m.rn = 1),
         max(m.occurred_at) FILTER (WHERE m.rn = p_cap * WALK)
    INTO n, ids, ranks, dates, seen, newest, up
  FROM (
    SELECT a.id, a.rn, a.hit, a.occurred_at,
           CASE WHEN a.hit THEN ts_rank(a.search_vector, q) END AS rnk
    FROM (
      SELECT a.id, a.search_vector, a.occurred_at,
             row_number() OVER (ORDER BY a.occurred_at DESC) AS rn,
             coalesce(a.search_vector @@ q AND a.deleted_at IS NULL
               FILTERS, false) AS hit
      FROM (
        SELECT a.id, a.search_vector, a.deleted_at, a.type, a.member_id, a.related_to_type,
               a.related_to_id, a.occurred_at
        FROM app.activities a
        WHERE a.team_id = t
        ORDER BY a.occurred_at DESC
        LIMIT p_cap * WALK
      ) a
    ) a
    WHERE a.hit OR a.rn = 1 OR a.rn = p_cap * WALK
    LIMIT p_cap + 2
  ) m;
  -- The teams' first activity and first comment (the windows stop there).
  SELECT a.occurred_at INTO earliest
  FROM app.activities a WHERE a.team_id = t ORDER BY a.occurred_at LIMIT 1;
  IF n < p_cap AND seen >= p_cap * WALK THEN
    -- 2. Windows back in time from the walk's W-th entry (its date included: entries of the
    -- same date may lie beyond it, the walk's matches among them are left out).
    earliest := greatest(earliest, p_from);
    IF p_to IS NOT NULL AND p_to < up THEN
      up := p_to;
      inclusive := false;
    END IF;
    -- The time the walk covered (to now at most: a meeting booked for next year says nothing
    -- about how often the words come up).
    covered := greatest(least(newest, now()) - up, interval '1 minute');
    PERFORM set_config('enable_bitmapscan', 'on', true);
    PERFORM set_config('enable_indexscan', 'off', true);  -- the GIN index (bitmap)
    WHILE n < p_cap AND up >= earliest LOOP
      lo := app.search_window_start(up, covered, n, p_cap, earliest);
      SELECT count(*), array_agg(x.id), array_agg(x.rnk), array_agg(x.occurred_at)
        INTO got, more_ids, more_ranks, more_dates
      FROM (
        SELECT a.id, a.occurred_at, ts_rank(a.search_vector, q) AS rnk
        FROM app.activities a
        WHERE GIN_TEAM AND a.search_vector @@ q
          AND app.activity_periods(a.team_id, a.occurred_at)
              @@ app.activity_periods_query(t, lo, up)
          AND (a.occurred_at < up OR inclusive AND a.occurred_at = up
               AND NOT a.id = ANY (coalesce(ids, '{}'::text[])))
          AND a.deleted_at IS NULL
          FILTERS
      ) x;
      n := n + got;
      ids := ids || more_ids;
      ranks := ranks || more_ranks;
      dates := dates || more_dates;
      covered := covered + (up - lo);
      EXIT WHEN lo <= earliest;
      up := lo;
      inclusive := false;
    END LOOP;
  END IF;
  -- 3. The p_cap most recent matches.
  SELECT array_agg(u.id), array_agg(u.rnk) INTO ids, ranks
  FROM (
    SELECT u.id, u.rnk
    FROM unnest(coalesce(ids, '{}'::text[]), coalesce(ranks, '{}'::real[]),
                coalesce(dates, '{}'::timestamptz[])) AS u(id, rnk, at)
    ORDER BY u.at DESC, u.id DESC
    LIMIT p_cap
  ) u;
  -- 4. Comments (of live activities, after the filters): windows back in time through their
  -- GIN index with both its columns, until p_cap matches or the team's first comment; the
  -- p_cap most recent are kept. The first window holds the W most recent comments (from the day
  -- of the W-th): at most W matches however common the words, and their rate sizes the next
  -- windows as the activities' are sized.
  PERFORM set_config('enable_indexscan', 'on', true);
  PERFORM set_config('enable_bitmapscan', 'off', true);  -- (team_id, created_at), in order
  SELECT max(c.created_at), min(c.created_at) INTO newest, lo
  FROM (
    SELECT c.created_at FROM app.activity_comments c
    WHERE c.team_id = t ORDER BY c.created_at DESC LIMIT p_cap * WALK
  ) c;
  SELECT c.created_at INTO earliest
  FROM app.activity_comments c WHERE c.team_id = t ORDER BY c.created_at LIMIT 1;
  -- The GIN index for the comments (no btree index can take a window: they lead with team_id,
  -- which the windows' condition hides), the primary key for each one's activity.
  PERFORM set_config('enable_bitmapscan', 'on', true);
  up := newest + interval '1 microsecond';
  lo := greatest(earliest, date_trunc('day', lo AT TIME ZONE 'UTC') AT TIME ZONE 'UTC');
  covered := interval '0';
  WHILE c_n < p_cap AND up >= earliest LOOP
    IF covered > interval '0' THEN
      lo := app.search_window_start(up, covered, c_n, p_cap, earliest);
    END IF;
    SELECT count(*), array_agg(x.id), array_agg(x.activity_id), array_agg(x.rnk),
           array_agg(x.created_at)
      INTO got, more_ids, more_acts, more_ranks, more_dates
    FROM (
      SELECT c.id, c.activity_id, c.created_at, ts_rank(c.search_vector, q) AS rnk
      FROM app.activity_comments c
      JOIN app.activities a
        ON a.team_id = c.team_id AND a.id = c.activity_id AND a.deleted_at IS NULL
      WHERE c.team_id || '' = t AND c.search_vector @@ q
        AND app.activity_periods(c.team_id, c.created_at)
            @@ app.activity_periods_query(t, lo, up)
        AND c.created_at < up
        AND c.deleted_at IS NULL
        FILTERS
    ) x;
    c_n := c_n + got;
    c_ids := c_ids || more_ids;
    c_acts := c_acts || more_acts;
    c_ranks := c_ranks || more_ranks;
    c_dates := c_dates || more_dates;
    covered := covered + (up - lo);
    EXIT WHEN lo <= earliest;
    up := lo;
  END LOOP;
  -- Each activity once: with its best comment when that ranks higher than the activity.
  RETURN QUERY
  WITH acts AS (
    SELECT u.id AS activity_id, u.rnk AS rank
    FROM unnest(coalesce(ids, '{}'::text[]), coalesce(ranks, '{}'::real[])) AS u(id, rnk)
  ), cmts AS (
    SELECT DISTINCT ON (c.activity_id) c.activity_id, c.id AS comment_id, c.rnk AS rank
    FROM (
      SELECT u.id, u.activity_id, u.rnk
      FROM unnest(coalesce(c_ids, '{}'::text[]), coalesce(c_acts, '{}'::text[]),
                  coalesce(c_ranks, '{}'::real[]), coalesce(c_dates, '{}'::timestamptz[]))
           AS u(id, activity_id, rnk, at)
      ORDER BY u.at DESC, u.id DESC
      LIMIT p_cap
    ) c
    ORDER BY c.activity_id, c.rnk DESC, c.id
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
END $$"""
    )
    .replace("WALK", str(WALK))
    .replace("FILTERS", PREVIOUS.FILTERS)
    .replace("GIN_TEAM", PREVIOUS.GIN_TEAM)
)


def upgrade() -> None:
    op.execute(PERIODS)
    op.execute(PERIODS_QUERY)
    op.execute(WINDOW_START)
    for table, (index, column) in INDEXES.items():
        op.execute(
            f"CREATE INDEX {index}_periods ON app.{table} "
            f"USING gin (search_vector, app.activity_periods(team_id, {column}))"
        )
        op.execute(f"DROP INDEX app.{index}")
        op.execute(f"ALTER INDEX app.{index}_periods RENAME TO {index}")
    op.execute(SEARCH_FUNCTION)  # CREATE OR REPLACE: owner and grants stay


def downgrade() -> None:
    for table, (index, _) in INDEXES.items():
        op.execute(f"DROP INDEX app.{index}")
        op.execute(f"CREATE INDEX {index} ON app.{table} USING gin (search_vector)")
    op.execute(PREVIOUS.SEARCH_FUNCTION)
    op.execute(
        "DROP FUNCTION app.search_window_start(timestamptz, interval, integer, integer, "
        "timestamptz)"
    )
    op.execute("DROP FUNCTION app.activity_periods_query(text, timestamptz, timestamptz)")
    op.execute("DROP FUNCTION app.activity_periods(text, timestamptz)")
