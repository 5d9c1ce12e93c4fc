"""custom objects: objects, fields, auto-number counters and the records of custom objects

Revision ID: c0570b1ec75a
Revises: f4a5b6c7d8e9
Create Date: 2026-12-07 14:50:00.000000

The records of every custom object live in ``app.custom_records`` (``data`` jsonb keyed by field
api name); standard objects already hold theirs in ``custom``. Indexed and unique fields get
expression indexes named ``cf_<...>``, built at run time with ``CREATE INDEX CONCURRENTLY``
(partial on the object), never here; the downgrade drops them with the tables (and those on
standard tables by name). ``app.custom_date`` / ``app.custom_ts`` read the ISO text the API
stores as a date / timestamptz: immutable (the text is always ISO 8601, so ``DateStyle`` and
``TimeZone`` cannot change the result), so expression indexes may use them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from warehouse.db import Roles, enable_tenant_rls

revision = "c0570b1ec75a"
down_revision = "f4a5b6c7d8e9"
branch_labels = None
depends_on = None

TABLES = ("custom_objects", "custom_fields", "custom_counters", "custom_records")


def _roles() -> Roles:
    return op.get_context().config.attributes["roles"]


def _keys(table: str) -> list[sa.Column | sa.PrimaryKeyConstraint]:
    return [
        sa.Column("team_id", sa.Text(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "id", name=f"pk_{table}"),
    ]


def _record_columns() -> list[sa.Column]:
    now = sa.text("now()")
    return [
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
    ]


def upgrade() -> None:
    jsonb = postgresql.JSONB()
    op.create_table(
        "custom_objects",
        *_keys("custom_objects"),
        sa.Column("api_name", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("plural_label", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "record_name",
            jsonb,
            server_default=sa.text("""'{"type": "text"}'::jsonb"""),
            nullable=False,
        ),
        sa.Column(
            "searchable_fields",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        *_record_columns(),
        schema="app",
    )
    op.create_index(
        "uq_custom_objects_team_api_name",
        "custom_objects",
        ["team_id", "api_name"],
        unique=True,
        schema="app",
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    types = (
        "text, long_text, integer, decimal, currency, percent, date, datetime, boolean, "
        "picklist, multi_picklist, lookup, formula, auto_number, url, email, phone"
    )
    type_list = ", ".join(f"'{t}'" for t in types.split(", "))
    op.create_table(
        "custom_fields",
        *_keys("custom_fields"),
        sa.Column("object_id", sa.Text(), nullable=False),
        sa.Column("api_name", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("help_text", sa.Text(), nullable=True),
        sa.Column("required", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("default", jsonb, nullable=True),
        sa.Column("unique", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("indexed", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("options", jsonb, nullable=True),
        sa.Column("precision", sa.Integer(), nullable=True),
        sa.Column("scale", sa.Integer(), nullable=True),
        sa.Column("lookup", jsonb, nullable=True),
        sa.Column("formula", jsonb, nullable=True),
        sa.Column("auto_number", jsonb, nullable=True),
        sa.Column("index_state", sa.Text(), server_default=sa.text("'none'"), nullable=False),
        *_record_columns(),
        sa.CheckConstraint(f"type IN ({type_list})", name="ck_custom_fields_type"),
        sa.CheckConstraint(
            "index_state IN ('none', 'building', 'ready')", name="ck_custom_fields_index_state"
        ),
        schema="app",
    )
    op.create_index(
        "uq_custom_fields_team_object_api_name",
        "custom_fields",
        ["team_id", "object_id", "api_name"],
        unique=True,
        schema="app",
    )
    op.create_table(
        "custom_counters",
        *_keys("custom_counters"),
        sa.Column("next_value", sa.BigInteger(), nullable=False),
        schema="app",
    )
    op.create_table(
        "custom_records",
        *_keys("custom_records"),
        sa.Column("object_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("owner_id", sa.Text(), nullable=True),
        sa.Column("data", jsonb, server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("updated_by", sa.Text(), nullable=True),
        *_record_columns(),
        sa.ForeignKeyConstraint(
            ["team_id", "object_id"],
            ["app.custom_objects.team_id", "app.custom_objects.id"],
            name="fk_custom_records_team_id_object_id",
        ),
        sa.ForeignKeyConstraint(
            ["team_id", "owner_id"],
            ["app.team_members.team_id", "app.team_members.id"],
            name="fk_custom_records_team_id_owner_id",
        ),
        schema="app",
    )
    for name, cols in (
        ("ix_custom_records_team_object_created", ["team_id", "object_id", "created_at", "id"]),
        ("ix_custom_records_team_object_name", ["team_id", "object_id", "name"]),
        ("ix_custom_records_team_owner", ["team_id", "owner_id"]),
    ):
        op.create_index(name, "custom_records", cols, schema="app")
    x = op.execute
    x(
        "CREATE FUNCTION app.custom_date(p text) RETURNS date LANGUAGE sql IMMUTABLE "
        "PARALLEL SAFE RETURN p::date"
    )
    x(
        "CREATE FUNCTION app.custom_ts(p text) RETURNS timestamptz LANGUAGE sql IMMUTABLE "
        "PARALLEL SAFE RETURN p::timestamptz"
    )
    r = _roles()
    x(f"GRANT EXECUTE ON FUNCTION app.custom_date(text), app.custom_ts(text) TO {r.api}")
    conn = op.get_bind()
    for table in TABLES:
        enable_tenant_rls(conn, table, r)


def downgrade() -> None:
    x = op.execute
    # The fields' expression indexes on standard tables (those on custom_records go with it).
    x(
        """
        DO $$ DECLARE i record; BEGIN
          FOR i IN SELECT indexname FROM pg_indexes
                   WHERE schemaname = 'app' AND indexname LIKE 'cf\\_%'
                     AND tablename <> 'custom_records' LOOP
            EXECUTE format('DROP INDEX app.%I', i.indexname);
          END LOOP;
        END $$
        """
    )
    for table in reversed(TABLES):
        op.drop_table(table, schema="app")
    x("DROP FUNCTION app.custom_date(text)")
    x("DROP FUNCTION app.custom_ts(text)")
