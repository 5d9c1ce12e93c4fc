"""tasks: tasks, assignees, dependencies, time logs, reminders, member settings, calendar feeds

Revision ID: e5b2c3d4f6a7
Revises: d4a1b2c3e5f6
Create Date: 2026-11-27 18:01:00.000000

``app.task_assignees`` mirrors ``tasks.assignee_ids`` (trigger ``tasks_sync_assignees``): under
forced row-level security PostgreSQL does not use the GIN index for ``assignee_ids @> ...``
(``arraycontains`` is not leakproof), so "a member's tasks" is answered from this table's B-tree.
The GIN indexes (``btree_gin`` for the leading ``team_id``) serve the analytics role and any
reader without RLS. ``app.calendar_feed_lookup`` resolves a feed token to its team before any
team is known (SECURITY DEFINER, owned by the auth role, like the credential look-ups).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from warehouse.db import Roles, enable_tenant_rls

revision = "e5b2c3d4f6a7"
down_revision = "d4a1b2c3e5f6"
branch_labels = None
depends_on = None

ARR = postgresql.ARRAY(sa.Text())


def _roles() -> Roles:
    return op.get_context().config.attributes["roles"]


def _now(name: str) -> sa.Column:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def _ts(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def _member_fk(table: str, column: str, ondelete: str | None = None) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["team_id", column],
        ["app.team_members.team_id", "app.team_members.id"],
        name=f"fk_{table}_team_id_{column}",
        ondelete=ondelete,
    )


def _task_fk(table: str, column: str, ondelete: str | None = None) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["team_id", column],
        ["app.tasks.team_id", "app.tasks.id"],
        name=f"fk_{table}_team_id_{column}",
        ondelete=ondelete,
    )


def _keys(table: str) -> list[sa.Column | sa.PrimaryKeyConstraint]:
    return [
        sa.Column("team_id", sa.Text(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "id", name=f"pk_{table}"),
    ]


def upgrade() -> None:
    conn = op.get_bind()
    # Trusted extension: the schema owner may create it (needed for (team_id, array) GIN).
    conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS btree_gin"))
    op.create_table(
        "tasks",
        *_keys("tasks"),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default=sa.text("'todo'"), nullable=False),
        sa.Column("priority", sa.Text(), server_default=sa.text("'medium'"), nullable=False),
        sa.Column(
            "priority_rank",
            sa.SmallInteger(),
            sa.Computed(
                "CASE priority WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3 "
                "WHEN 'urgent' THEN 4 END",
                persisted=True,
            ),
        ),
        _ts("due_at"),
        sa.Column("time_zone", sa.Text(), server_default=sa.text("'UTC'"), nullable=False),
        _ts("due_set_at"),
        _ts("started_at"),
        _ts("completed_at"),
        sa.Column("assignee_ids", ARR, server_default=sa.text("'{}'"), nullable=False),
        sa.Column("related_to_type", sa.Text(), nullable=True),
        sa.Column("related_to_id", sa.Text(), nullable=True),
        sa.Column("tags", ARR, server_default=sa.text("'{}'"), nullable=False),
        sa.Column("parent_task_id", sa.Text(), nullable=True),
        sa.Column("estimated_hours", sa.Numeric(10, 2), nullable=True),
        sa.Column("recurrence_rule", sa.Text(), nullable=True),
        sa.Column(
            "recurrence_exdates",
            postgresql.ARRAY(sa.DateTime(timezone=True)),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("series_id", sa.Text(), nullable=True),
        _ts("series_start_at"),
        _ts("occurrence_at"),
        sa.Column("next_occurrence_id", sa.Text(), nullable=True),
        sa.Column("reminders", ARR, nullable=True),
        sa.Column("created_by", sa.Text(), nullable=True),
        _now("created_at"),
        _now("updated_at"),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        _ts("deleted_at"),
        sa.Column(
            "custom",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('todo', 'in_progress', 'waiting', 'completed', 'cancelled')",
            name="ck_tasks_status",
        ),
        sa.CheckConstraint(
            "priority IN ('low', 'medium', 'high', 'urgent')", name="ck_tasks_priority"
        ),
        sa.CheckConstraint("title <> ''", name="ck_tasks_title"),
        sa.CheckConstraint(
            "estimated_hours IS NULL OR estimated_hours >= 0", name="ck_tasks_estimated_hours"
        ),
        sa.CheckConstraint(
            "(related_to_type IS NULL) = (related_to_id IS NULL)", name="ck_tasks_related_to"
        ),
        sa.CheckConstraint(
            "parent_task_id IS NULL OR parent_task_id <> id", name="ck_tasks_parent_task_id"
        ),
        sa.CheckConstraint(
            "recurrence_rule IS NULL OR (due_at IS NOT NULL AND series_id IS NOT NULL)",
            name="ck_tasks_recurrence_rule",
        ),
        _member_fk("tasks", "created_by"),
        _task_fk("tasks", "parent_task_id"),
        _task_fk("tasks", "next_occurrence_id"),
        schema="app",
    )
    for name, cols in (
        ("ix_tasks_team_created", ["team_id", "created_at", "id"]),
        ("ix_tasks_team_updated", ["team_id", "updated_at", "id"]),
        ("ix_tasks_team_status", ["team_id", "status"]),
        ("ix_tasks_team_priority", ["team_id", "priority_rank", "id"]),
        ("ix_tasks_team_due", ["team_id", "due_at", "id"]),
        ("ix_tasks_team_related", ["team_id", "related_to_type", "related_to_id"]),
        ("ix_tasks_team_parent", ["team_id", "parent_task_id"]),
        ("ix_tasks_team_series", ["team_id", "series_id"]),
        ("ix_tasks_team_creator", ["team_id", "created_by"]),
    ):
        op.create_index(name, "tasks", cols, schema="app")
    for name, cols in (
        ("ix_tasks_team_assignees", ["team_id", "assignee_ids"]),
        ("ix_tasks_team_tags", ["team_id", "tags"]),
    ):
        op.create_index(name, "tasks", cols, schema="app", postgresql_using="gin")

    op.create_table(
        "task_assignees",
        sa.Column("team_id", sa.Text(), nullable=False),
        sa.Column("member_id", sa.Text(), nullable=False),
        sa.Column("task_id", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "member_id", "task_id", name="pk_task_assignees"),
        _task_fk("task_assignees", "task_id", "CASCADE"),
        schema="app",
    )
    op.create_index(
        "ix_task_assignees_team_task", "task_assignees", ["team_id", "task_id"], schema="app"
    )

    op.create_table(
        "task_dependencies",
        *_keys("task_dependencies"),
        sa.Column("task_id", sa.Text(), nullable=False),
        sa.Column("depends_on_task_id", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), server_default=sa.text("'finish_to_start'"), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        _now("created_at"),
        sa.CheckConstraint(
            "type IN ('finish_to_start', 'start_to_start', 'finish_to_finish')",
            name="ck_task_dependencies_type",
        ),
        sa.CheckConstraint("task_id <> depends_on_task_id", name="ck_task_dependencies_not_self"),
        _task_fk("task_dependencies", "task_id", "CASCADE"),
        _task_fk("task_dependencies", "depends_on_task_id", "CASCADE"),
        _member_fk("task_dependencies", "created_by"),
        schema="app",
    )
    op.create_index(
        "uq_task_dependencies_pair",
        "task_dependencies",
        ["team_id", "task_id", "depends_on_task_id"],
        unique=True,
        schema="app",
    )
    op.create_index(
        "ix_task_dependencies_team_depends_on",
        "task_dependencies",
        ["team_id", "depends_on_task_id"],
        schema="app",
    )

    op.create_table(
        "time_logs",
        *_keys("time_logs"),
        sa.Column("task_id", sa.Text(), nullable=False),
        sa.Column("member_id", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        _ts("ended_at"),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), server_default=sa.text("'manual'"), nullable=False),
        _now("created_at"),
        _now("updated_at"),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.CheckConstraint(
            "ended_at IS NULL OR ended_at >= started_at", name="ck_time_logs_ended_at"
        ),
        sa.CheckConstraint("source IN ('timer', 'manual')", name="ck_time_logs_source"),
        _task_fk("time_logs", "task_id", "CASCADE"),
        _member_fk("time_logs", "member_id"),
        schema="app",
    )
    op.create_index(
        "ix_time_logs_team_task", "time_logs", ["team_id", "task_id", "started_at"], schema="app"
    )
    op.create_index(
        "ix_time_logs_team_member",
        "time_logs",
        ["team_id", "member_id", "started_at"],
        schema="app",
    )
    op.create_index(
        "uq_time_logs_team_member_running",
        "time_logs",
        ["team_id", "member_id"],
        unique=True,
        schema="app",
        postgresql_where=sa.text("ended_at IS NULL"),
    )

    op.create_table(
        "task_reminders",
        *_keys("task_reminders"),
        sa.Column("task_id", sa.Text(), nullable=False),
        sa.Column("member_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("offset", sa.Text(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("remind_at", sa.DateTime(timezone=True), nullable=False),
        _now("fired_at"),
        sa.CheckConstraint("kind IN ('reminder', 'overdue')", name="ck_task_reminders_kind"),
        _task_fk("task_reminders", "task_id", "CASCADE"),
        _member_fk("task_reminders", "member_id"),
        schema="app",
    )
    op.create_index(
        "uq_task_reminders_once",
        "task_reminders",
        ["team_id", "task_id", "member_id", "kind", "offset", "due_at"],
        unique=True,
        schema="app",
    )

    op.create_table(
        "member_task_settings",
        *_keys("member_task_settings"),
        sa.Column("reminder_offsets", ARR, server_default=sa.text("'{1h,1d}'"), nullable=False),
        sa.Column("overdue_alerts", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        _now("updated_at"),
        _member_fk("member_task_settings", "id"),
        schema="app",
    )

    op.create_table(
        "calendar_feeds",
        *_keys("calendar_feeds"),
        sa.Column("member_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        _now("created_at"),
        _ts("revoked_at"),
        _member_fk("calendar_feeds", "member_id", "CASCADE"),
        sa.UniqueConstraint("token_hash", name="uq_calendar_feeds_token_hash"),
        schema="app",
    )
    op.create_index(
        "ix_calendar_feeds_team_member", "calendar_feeds", ["team_id", "member_id"], schema="app"
    )
    _functions()
    _security()


SYNC_ASSIGNEES = """
CREATE FUNCTION app.tasks_sync_assignees() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.assignee_ids IS NOT DISTINCT FROM OLD.assignee_ids THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    DELETE FROM app.task_assignees a
    WHERE a.team_id = NEW.team_id AND a.task_id = NEW.id
      AND NOT (a.member_id = ANY (NEW.assignee_ids));
  END IF;
  INSERT INTO app.task_assignees (team_id, member_id, task_id)
  SELECT NEW.team_id, m, NEW.id FROM unnest(NEW.assignee_ids) AS m
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$
"""

FEED_LOOKUP = """
CREATE FUNCTION app.calendar_feed_lookup(p_hash bytea)
RETURNS TABLE (team_id text, feed_id text, member_id text, revoked_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, app AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY SELECT f.team_id, f.id, f.member_id, f.revoked_at
  FROM app.calendar_feeds f WHERE f.token_hash = p_hash;
END $$
"""


def _functions() -> None:
    x = lambda q: op.get_bind().execute(sa.text(q))  # noqa: E731
    x(SYNC_ASSIGNEES)
    x(
        "CREATE TRIGGER tasks_sync_assignees AFTER INSERT OR UPDATE OF assignee_ids "
        "ON app.tasks FOR EACH ROW EXECUTE FUNCTION app.tasks_sync_assignees()"
    )


def _security() -> None:
    r = _roles()
    conn = op.get_bind()
    x = lambda q: conn.execute(sa.text(q))  # noqa: E731
    for table in ("tasks", "task_assignees", "task_dependencies", "time_logs", "task_reminders"):
        enable_tenant_rls(conn, table, r)
    enable_tenant_rls(conn, "member_task_settings", r)
    enable_tenant_rls(conn, "calendar_feeds", r, auth_lookup=True)
    x(FEED_LOOKUP)
    x(f"GRANT CREATE ON SCHEMA app TO {r.auth}")  # needed only to take ownership
    x(f"ALTER FUNCTION app.calendar_feed_lookup(bytea) OWNER TO {r.auth}")
    x("REVOKE ALL ON FUNCTION app.calendar_feed_lookup(bytea) FROM PUBLIC")
    x(f"GRANT EXECUTE ON FUNCTION app.calendar_feed_lookup(bytea) TO {r.api}")
    x(f"REVOKE CREATE ON SCHEMA app FROM {r.auth}")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS app.calendar_feed_lookup(bytea)")
    op.execute("DROP TRIGGER IF EXISTS tasks_sync_assignees ON app.tasks")
    op.execute("DROP FUNCTION IF EXISTS app.tasks_sync_assignees()")
    op.drop_index("ix_calendar_feeds_team_member", table_name="calendar_feeds", schema="app")
    op.drop_table("calendar_feeds", schema="app")
    op.drop_table("member_task_settings", schema="app")
    op.drop_index("uq_task_reminders_once", table_name="task_reminders", schema="app")
    op.drop_table("task_reminders", schema="app")
    op.drop_index("uq_time_logs_team_member_running", table_name="time_logs", schema="app")
    op.drop_index("ix_time_logs_team_member", table_name="time_logs", schema="app")
    op.drop_index("ix_time_logs_team_task", table_name="time_logs", schema="app")
    op.drop_table("time_logs", schema="app")
    op.drop_index(
        "ix_task_dependencies_team_depends_on", table_name="task_dependencies", schema="app"
    )
    op.drop_index("uq_task_dependencies_pair", table_name="task_dependencies", schema="app")
    op.drop_table("task_dependencies", schema="app")
    op.drop_index("ix_task_assignees_team_task", table_name="task_assignees", schema="app")
    op.drop_table("task_assignees", schema="app")
    op.drop_table("tasks", schema="app")  # drops its indexes
    # btree_gin stays: other objects may use it, and keeping an extension is harmless.
