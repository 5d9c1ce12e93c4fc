"""activities timeline: app.activities, app.activity_comments, app.mentions, search look-up

Revision ID: f6c3d4e5a7b8
Revises: e5b2c3d4f6a7
Create Date: 2026-11-27 18:02:00.000000

Full-text search and row-level security: PostgreSQL's ``@@`` operator is not leakproof, so under
forced RLS the planner may not use it as an index condition and a search would read every row of
the team. Searching therefore goes through ``app.activity_search``, a SECURITY DEFINER look-up
owned by the auth role (like the credential look-ups), which has a SELECT-only policy on the two
searchable tables and applies the transaction's ``app.team_id`` itself. It returns only ids and
ranks; the API then reads the activities through row-level security as usual.

The two GIN indexes lead with ``team_id`` through the ``btree_gin`` extension (trusted, so the
owner role may create it).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from warehouse.db import Roles, enable_tenant_rls

revision = "f6c3d4e5a7b8"
down_revision = "e5b2c3d4f6a7"
branch_labels = None
depends_on = None

ACTIVITY_TYPES = (
    "call",
    "email",
    "meeting",
    "note",
    "task",
    "status_change",
    "field_update",
    "file",
    "system",
)
ACTIVITY_SEARCH = (
    "setweight(to_tsvector('english'::regconfig, coalesce(subject, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'B') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(metadata ->> 'outcome', '') || ' ' || "
    "coalesce(metadata ->> 'file_name', '')), 'C')"
)
COMMENT_SEARCH = "to_tsvector('english'::regconfig, coalesce(text, ''))"
TABLES = ("activities", "activity_comments", "mentions")
SEARCH_SIGNATURE = (
    "activity_search",
    "tsquery, integer, text[], text, text, text, timestamptz, timestamptz, real, text, integer",
)

# Ranking covers every matching activity when there are at most 5 x p_cap of them (read through
# the GIN index); beyond that, the p_cap most recent ones (read by walking the (team_id,
# occurred_at) index backwards). The path is chosen here, not by the planner, whose estimate for
# a word its statistics do not track is a flat 0.5 % (and RLS hides the statistics from this
# function): first a short walk of the 20 x p_cap most recent activities; p_cap matches there
# settle it (a common word); else the GIN index, counting up to 5 x p_cap matches; more than
# that: the full walk to the p_cap most recent.
# Comments: their matches through the GIN index, the p_cap most recent.
SEARCH_FUNCTION = """
CREATE FUNCTION app.activity_search(
    p_query tsquery, p_limit integer, p_types text[], p_member_id text, p_related_type text,
    p_related_id text, p_from timestamptz, p_to timestamptz, p_after_rank real, p_after_id text,
    p_cap integer)
RETURNS TABLE (activity_id text, comment_id text, rank real)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, app
SET plan_cache_mode = force_custom_plan
SET enable_seqscan = off
SET enable_indexscan = on
SET enable_bitmapscan = on AS $$
#variable_conflict use_column
DECLARE
  t text := current_setting('app.team_id', true);
  n integer := 0;
  ids text[];
  ranks real[];
BEGIN
  -- The caller's team, exactly as the row-level security policies read it.
  IF t IS NULL OR t = '' OR p_query IS NULL THEN
    RETURN;
  END IF;
  -- Common words first: among the W most recent activities, are there p_cap matches? Then
  -- they are the p_cap most recent matches (a short walk of the (team_id, occurred_at) index).
  PERFORM set_config('enable_bitmapscan', 'off', true);
  SELECT count(*), array_agg(m.id), array_agg(m.rnk) INTO n, ids, ranks
  FROM (
    SELECT a.id, ts_rank(a.search_vector, p_query) AS rnk
    FROM (
      SELECT a.id, a.search_vector, a.deleted_at, a.type, a.member_id, a.related_to_type,
             a.related_to_id, a.occurred_at
      FROM app.activities a
      WHERE a.team_id = t
      ORDER BY a.occurred_at DESC
      LIMIT p_cap * 20
    ) a
    WHERE a.search_vector @@ p_query AND a.deleted_at IS NULL
      FILTERS
    LIMIT p_cap
  ) m;
  PERFORM set_config('enable_bitmapscan', 'on', true);
  IF n < p_cap THEN
    PERFORM set_config('enable_indexscan', 'off', true);  -- the GIN index (bitmap)
    SELECT count(*), array_agg(m.id), array_agg(m.rnk) INTO n, ids, ranks
  FROM (
    SELECT a.id, ts_rank(a.search_vector, p_query) AS rnk
    FROM app.activities a
    WHERE a.team_id = t AND a.search_vector @@ p_query AND a.deleted_at IS NULL
      FILTERS
    LIMIT p_cap * 5 + 1
  ) m;
  END IF;
  IF n > p_cap * 5 THEN  -- many matches, not recent ones: the most recent p_cap
    PERFORM set_config('enable_indexscan', 'on', true);
    PERFORM set_config('enable_bitmapscan', 'off', true);
    SELECT array_agg(m.id), array_agg(m.rnk) INTO ids, ranks
    FROM (
      SELECT a.id, ts_rank(a.search_vector, p_query) AS rnk
      FROM app.activities a
      WHERE a.team_id = t AND a.search_vector @@ p_query AND a.deleted_at IS NULL
        FILTERS
      ORDER BY a.occurred_at DESC
      LIMIT p_cap
    ) m;
    PERFORM set_config('enable_bitmapscan', 'on', true);
    PERFORM set_config('enable_indexscan', 'off', true);
  END IF;
  RETURN QUERY
  WITH acts AS (
    SELECT u.id AS activity_id, NULL::text AS comment_id, u.rnk AS rank
    FROM unnest(coalesce(ids, '{}'::text[]), coalesce(ranks, '{}'::real[])) AS u(id, rnk)
  ), cmts AS (
    SELECT c.activity_id, c.id AS comment_id, ts_rank(c.search_vector, p_query) AS rank
    FROM (
      SELECT c.activity_id, c.id, c.search_vector
      FROM app.activity_comments c
      JOIN app.activities a
        ON a.team_id = c.team_id AND a.id = c.activity_id AND a.deleted_at IS NULL
      WHERE c.team_id = t AND c.search_vector @@ p_query AND c.deleted_at IS NULL
        FILTERS
      ORDER BY c.created_at DESC
      LIMIT p_cap
    ) c
  ), best AS (
    SELECT DISTINCT ON (h.activity_id) h.activity_id, h.comment_id, h.rank
    FROM (SELECT * FROM acts UNION ALL SELECT * FROM cmts) h
    ORDER BY h.activity_id, h.rank DESC, h.comment_id NULLS FIRST
  )
  SELECT b.activity_id, b.comment_id, b.rank
  FROM best b
  WHERE p_after_id IS NULL OR (b.rank, b.activity_id) < (p_after_rank, p_after_id)
  ORDER BY b.rank DESC, b.activity_id DESC
  LIMIT p_limit;
END $$""".replace(
    "FILTERS",
    """AND (p_types IS NULL OR a.type = ANY (p_types))
        AND (p_member_id IS NULL OR a.member_id = p_member_id)
        AND (p_related_type IS NULL OR a.related_to_type = p_related_type)
        AND (p_related_id IS NULL OR a.related_to_id = p_related_id)
        AND (p_from IS NULL OR a.occurred_at >= p_from)
        AND (p_to IS NULL OR a.occurred_at < p_to)""",
)


def _roles() -> Roles:
    return op.get_context().config.attributes["roles"]


def _now(name: str) -> sa.Column:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def _record_columns() -> list[sa.Column]:
    return [
        sa.Column("team_id", sa.Text(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        _now("created_at"),
        _now("updated_at"),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
    ]


def _member_fk(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["team_id", column],
        ["app.team_members.team_id", "app.team_members.id"],
        name=f"fk_{table}_team_id_{column}",
    )


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin WITH SCHEMA app")
    op.create_table(
        "activities",
        *_record_columns(),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("related_to_type", sa.Text(), nullable=False),
        sa.Column("related_to_id", sa.Text(), nullable=False),
        sa.Column("actor_type", sa.Text(), server_default=sa.text("'member'"), nullable=False),
        sa.Column("member_id", sa.Text(), nullable=True),
        _now("occurred_at"),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("source_event_id", sa.BigInteger(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column(
            "search_vector", postgresql.TSVECTOR(), sa.Computed(ACTIVITY_SEARCH, persisted=True)
        ),
        sa.CheckConstraint(f"type IN {ACTIVITY_TYPES!r}", name="ck_activities_type"),
        sa.CheckConstraint(
            "actor_type IN ('member', 'api_key', 'system')", name="ck_activities_actor_type"
        ),
        sa.CheckConstraint(
            "related_to_type <> '' AND related_to_id <> ''", name="ck_activities_related_to"
        ),
        _member_fk("activities", "member_id"),
        sa.ForeignKeyConstraint(
            ["team_id", "source_event_id"],
            ["app.events.team_id", "app.events.id"],
            name="fk_activities_team_id_source_event_id",
        ),
        sa.PrimaryKeyConstraint("team_id", "id", name="pk_activities"),
        schema="app",
    )
    op.execute(
        "CREATE INDEX ix_activities_team_related_occurred ON app.activities "
        "(team_id, related_to_type, related_to_id, occurred_at DESC, id DESC)"
    )
    op.create_index(
        "ix_activities_team_member_occurred",
        "activities",
        ["team_id", "member_id", "occurred_at"],
        schema="app",
    )
    op.create_index(
        "ix_activities_team_occurred", "activities", ["team_id", "occurred_at"], schema="app"
    )
    op.create_index(
        "ix_activities_team_created",
        "activities",
        ["team_id", "created_at", "id"],
        schema="app",
    )
    op.create_index(
        "ix_activities_team_type_occurred",
        "activities",
        ["team_id", "type", "occurred_at"],
        schema="app",
    )
    op.create_index(
        "uq_activities_team_source_event",
        "activities",
        ["team_id", "source_event_id"],
        unique=True,
        schema="app",
        postgresql_where=sa.text("source_event_id IS NOT NULL"),
    )
    op.execute(
        "CREATE INDEX ix_activities_team_search ON app.activities "
        "USING gin (team_id, search_vector)"
    )

    op.create_table(
        "activity_comments",
        *_record_columns(),
        sa.Column("activity_id", sa.Text(), nullable=False),
        sa.Column("parent_comment_id", sa.Text(), nullable=True),
        sa.Column("author_id", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "search_vector", postgresql.TSVECTOR(), sa.Computed(COMMENT_SEARCH, persisted=True)
        ),
        sa.ForeignKeyConstraint(
            ["team_id", "activity_id"],
            ["app.activities.team_id", "app.activities.id"],
            name="fk_activity_comments_team_id_activity_id",
        ),
        sa.ForeignKeyConstraint(
            ["team_id", "parent_comment_id"],
            ["app.activity_comments.team_id", "app.activity_comments.id"],
            name="fk_activity_comments_team_id_parent_comment_id",
        ),
        _member_fk("activity_comments", "author_id"),
        sa.PrimaryKeyConstraint("team_id", "id", name="pk_activity_comments"),
        schema="app",
    )
    op.create_index(
        "ix_activity_comments_team_activity",
        "activity_comments",
        ["team_id", "activity_id", "created_at", "id"],
        schema="app",
    )
    op.create_index(
        "ix_activity_comments_team_created",
        "activity_comments",
        ["team_id", "created_at"],
        schema="app",
    )
    op.create_index(
        "ix_activity_comments_team_parent",
        "activity_comments",
        ["team_id", "parent_comment_id"],
        schema="app",
    )
    op.execute(
        "CREATE INDEX ix_activity_comments_team_search ON app.activity_comments "
        "USING gin (team_id, search_vector)"
    )

    op.create_table(
        "mentions",
        sa.Column("team_id", sa.Text(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("member_id", sa.Text(), nullable=False),
        sa.Column("activity_id", sa.Text(), nullable=False),
        sa.Column("comment_id", sa.Text(), nullable=True),
        sa.Column("mentioned_by", sa.Text(), nullable=True),
        _now("created_at"),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        _member_fk("mentions", "member_id"),
        _member_fk("mentions", "mentioned_by"),
        sa.ForeignKeyConstraint(
            ["team_id", "activity_id"],
            ["app.activities.team_id", "app.activities.id"],
            name="fk_mentions_team_id_activity_id",
        ),
        sa.ForeignKeyConstraint(
            ["team_id", "comment_id"],
            ["app.activity_comments.team_id", "app.activity_comments.id"],
            name="fk_mentions_team_id_comment_id",
        ),
        sa.PrimaryKeyConstraint("team_id", "id", name="pk_mentions"),
        schema="app",
    )
    op.create_index(
        "uq_mentions_team_activity_member",
        "mentions",
        ["team_id", "activity_id", "member_id"],
        unique=True,
        schema="app",
        postgresql_where=sa.text("comment_id IS NULL"),
    )
    op.create_index(
        "uq_mentions_team_comment_member",
        "mentions",
        ["team_id", "comment_id", "member_id"],
        unique=True,
        schema="app",
        postgresql_where=sa.text("comment_id IS NOT NULL"),
    )
    op.create_index(
        "ix_mentions_team_member_created",
        "mentions",
        ["team_id", "member_id", "created_at", "id"],
        schema="app",
    )
    _security()


def _security() -> None:
    r = _roles()
    conn = op.get_bind()
    x = lambda q: conn.execute(sa.text(q))  # noqa: E731
    for table in TABLES:
        enable_tenant_rls(conn, table, r)
    # The search look-up: SECURITY DEFINER, owned by the auth role, which may read the two
    # searchable tables (SELECT only) and filters by the transaction's team itself.
    for table in ("activities", "activity_comments"):
        x(f"CREATE POLICY search_lookup ON app.{table} FOR SELECT TO {r.auth} USING (true)")
        x(f"GRANT SELECT ON app.{table} TO {r.auth}")
    x(SEARCH_FUNCTION)
    name, args = SEARCH_SIGNATURE
    x(f"GRANT CREATE ON SCHEMA app TO {r.auth}")  # needed only to take ownership
    x(f"ALTER FUNCTION app.{name}({args}) OWNER TO {r.auth}")
    x(f"REVOKE ALL ON FUNCTION app.{name}({args}) FROM PUBLIC")
    x(f"GRANT EXECUTE ON FUNCTION app.{name}({args}) TO {r.api}")
    x(f"REVOKE CREATE ON SCHEMA app FROM {r.auth}")


def downgrade() -> None:
    name, args = SEARCH_SIGNATURE
    op.execute(f"DROP FUNCTION IF EXISTS app.{name}({args})")
    # CASCADE: the analytics staging views dbt built on these tables go too (dbt rebuilds them).
    for table in ("mentions", "activity_comments", "activities"):
        op.execute(f"DROP TABLE IF EXISTS app.{table} CASCADE")
    # btree_gin stays: other tables may use it, and it holds no data.
