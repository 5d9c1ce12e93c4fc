"""imports: app.imports and the raw landing tables (lead/call-log rows, rejects)

Revision ID: 47487ac92e2f
Revises: 6a41dba2a77d
Create Date: 2026-11-27 14:20:00.000000

The raw tables are loaded with COPY, which PostgreSQL refuses on tables with row-level security.
They are tenant-safe by privileges instead: the API role may INSERT every column except
``team_id`` (whose default is the transaction's ``app.team_id``) and reads/deletes through the
``raw.team_*`` views (security barriers showing only the transaction's team).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from warehouse.db import Roles, enable_tenant_rls

revision = "47487ac92e2f"
down_revision = "6a41dba2a77d"
branch_labels = None
depends_on = None

TEAM_DEFAULT = sa.text("current_setting('app.team_id')")
RAW_TABLES = ("lead_import_rows", "call_log_import_rows", "import_rejects")


def _roles() -> Roles:
    return op.get_context().config.attributes["roles"]


def _jsonb(name: str, default: str, nullable: bool = False) -> sa.Column:
    return sa.Column(
        name,
        postgresql.JSONB(astext_type=sa.Text()),
        server_default=sa.text(f"'{default}'::jsonb"),
        nullable=nullable,
    )


def _now(name: str) -> sa.Column:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def _raw_keys() -> list[sa.Column]:
    return [
        sa.Column("team_id", sa.Text(), server_default=TEAM_DEFAULT, nullable=False),
        sa.Column("import_id", sa.Text(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "imports",
        sa.Column("object", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'queued'"), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("file_format", sa.Text(), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("file_sha256", sa.Text(), nullable=False),
        sa.Column("stored_path", sa.Text(), nullable=False),
        sa.Column("encoding", sa.Text(), nullable=True),
        sa.Column("delimiter", sa.Text(), nullable=True),
        _jsonb("columns", "[]"),
        _jsonb("mapping", "{}"),
        sa.Column("duplicate_policy", sa.Text(), server_default=sa.text("'skip'"), nullable=False),
        sa.Column("runner", sa.Text(), server_default=sa.text("'worker'"), nullable=False),
        sa.Column("batch_size", sa.Integer(), nullable=False),
        sa.Column("batches_total", sa.Integer(), nullable=True),
        sa.Column("batches_done", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=True),
        sa.Column("imported", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("updated", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("skipped_duplicates", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("rejected", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("staged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("team_id", sa.Text(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        _now("created_at"),
        _now("updated_at"),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'completed', 'failed')",
            name=op.f("ck_imports_status"),
        ),
        sa.CheckConstraint("object IN ('leads', 'call_logs')", name=op.f("ck_imports_object")),
        sa.CheckConstraint(
            "duplicate_policy IN ('skip', 'update', 'merge')",
            name=op.f("ck_imports_duplicate_policy"),
        ),
        sa.CheckConstraint("runner IN ('worker', 'cli')", name=op.f("ck_imports_runner")),
        sa.CheckConstraint("batch_size > 0", name=op.f("ck_imports_batch_size")),
        sa.ForeignKeyConstraint(
            ["team_id", "created_by"],
            ["app.team_members.team_id", "app.team_members.id"],
            name=op.f("fk_imports_team_id_created_by"),
        ),
        sa.PrimaryKeyConstraint("team_id", "id", name=op.f("pk_imports")),
        schema="app",
    )
    op.create_index(
        "ix_imports_team_created",
        "imports",
        ["team_id", "created_at", "id"],
        unique=False,
        schema="app",
    )
    op.create_index(
        "ix_imports_team_sha256", "imports", ["team_id", "file_sha256"], unique=False, schema="app"
    )

    op.create_table(
        "lead_import_rows",
        *_raw_keys(),
        sa.Column("batch_no", sa.Integer(), nullable=False),
        sa.Column("row_no", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Text(), nullable=False),
        sa.Column("folded", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("first_name", sa.Text(), nullable=True),
        sa.Column("last_name", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("company_name", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=True),
        sa.Column("rating", sa.Numeric(2, 1), nullable=True),
        sa.Column("reviews_count", sa.Integer(), nullable=True),
        sa.Column("website", sa.Text(), nullable=True),
        sa.Column("website_score", sa.Integer(), nullable=True),
        sa.Column("industry", sa.Text(), nullable=True),
        sa.Column("location", sa.Text(), nullable=True),
        sa.Column("owner", sa.Text(), nullable=True),
        sa.Column("custom", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("domain", sa.Text(), nullable=True),
        # Computed by PostgreSQL (like app.leads.email_normalized), so matching a row to a lead
        # is a plain equality the planner can use the email index for under row-level security.
        sa.Column("email_normalized", sa.Text(), sa.Computed("lower(email)", persisted=True)),
        sa.CheckConstraint("team_id <> ''", name=op.f("ck_lead_import_rows_team_id")),
        sa.PrimaryKeyConstraint(
            "team_id", "import_id", "batch_no", "row_no", name=op.f("pk_lead_import_rows")
        ),
        schema="raw",
    )
    op.create_table(
        "call_log_import_rows",
        *_raw_keys(),
        sa.Column("batch_no", sa.Integer(), nullable=False),
        sa.Column("row_no", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Text(), nullable=False),
        sa.Column("lead_id", sa.Text(), nullable=True),
        sa.Column("contact_id", sa.Text(), nullable=True),
        sa.Column("member_id", sa.Text(), nullable=True),
        sa.Column("direction", sa.Text(), nullable=True),
        sa.Column("phone_number", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("transcript", sa.Text(), nullable=True),
        sa.Column("recording_url", sa.Text(), nullable=True),
        sa.Column("custom", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.CheckConstraint("team_id <> ''", name=op.f("ck_call_log_import_rows_team_id")),
        sa.PrimaryKeyConstraint(
            "team_id", "import_id", "batch_no", "row_no", name=op.f("pk_call_log_import_rows")
        ),
        schema="raw",
    )
    op.create_table(
        "import_rejects",
        *_raw_keys(),
        sa.Column("row_no", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _jsonb("values", "[]"),
        sa.CheckConstraint("team_id <> ''", name=op.f("ck_import_rejects_team_id")),
        sa.PrimaryKeyConstraint("team_id", "import_id", "row_no", name=op.f("pk_import_rejects")),
        schema="raw",
    )
    _security()


def _security() -> None:
    r = _roles()
    conn = op.get_bind()
    x = lambda q: conn.execute(sa.text(q))  # noqa: E731
    enable_tenant_rls(conn, "imports", r)
    x(f"GRANT USAGE ON SCHEMA raw TO {r.api}, {r.worker}, {r.analytics}")
    for table in RAW_TABLES:
        cols = [
            c["name"]
            for c in sa.inspect(conn).get_columns(table, schema="raw")
            if c["name"] != "team_id" and not c.get("computed")
        ]
        # COPY needs INSERT on the columns it names; team_id is left to its default.
        x(f"GRANT INSERT ({', '.join(_q(c) for c in cols)}) ON raw.{table} TO {r.api}")
        x(f"GRANT SELECT ON raw.{table} TO {r.worker}, {r.analytics}")
        x(
            f"CREATE VIEW raw.team_{table} WITH (security_barrier) AS "
            f"SELECT * FROM raw.{table} WHERE team_id = current_setting('app.team_id', true)"
        )
        x(f"GRANT SELECT, DELETE ON raw.team_{table} TO {r.api}")


def _q(name: str) -> str:
    return f'"{name}"'


def downgrade() -> None:
    for table in RAW_TABLES:
        op.execute(f"DROP VIEW IF EXISTS raw.team_{table}")
    op.drop_table("import_rejects", schema="raw")
    op.drop_table("call_log_import_rows", schema="raw")
    op.drop_table("lead_import_rows", schema="raw")
    op.drop_index("ix_imports_team_sha256", table_name="imports", schema="app")
    op.drop_index("ix_imports_team_created", table_name="imports", schema="app")
    op.drop_table("imports", schema="app")
