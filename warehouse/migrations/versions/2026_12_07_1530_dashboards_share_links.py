"""dashboards and share links (issue 19)

Revision ID: d7c4e2a9b1f3
Revises: 8e2f4c6a1d37
Create Date: 2026-12-07 15:30:00.000000

``app.share_link_lookup`` resolves a share token's keyed hash to its team before any team is
known (SECURITY DEFINER, owned by the auth role, like ``app.calendar_feed_lookup``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from warehouse.db import Roles, enable_tenant_rls

revision = "d7c4e2a9b1f3"
down_revision = "8e2f4c6a1d37"
branch_labels = None
depends_on = None

JSONB = postgresql.JSONB(astext_type=sa.Text())

LOOKUP = """
CREATE FUNCTION app.share_link_lookup(p_hash bytea)
RETURNS TABLE (team_id text, link_id text, created_by text, report_id text,
               dashboard_id text, expires_at timestamptz, revoked_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, app AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY SELECT s.team_id, s.id, s.created_by, s.report_id, s.dashboard_id,
                      s.expires_at, s.revoked_at
  FROM app.share_links s WHERE s.token_hash = p_hash;
END $$
"""


def _roles() -> Roles:
    return op.get_context().config.attributes["roles"]


def _now(name: str) -> sa.Column:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["team_id", column],
        [f"app.{target}.team_id", f"app.{target}.id"],
        name=f"fk_{table}_team_id_{column}",
    )


def upgrade() -> None:
    op.create_table(
        "dashboards",
        sa.Column("team_id", sa.Text(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("layout", JSONB, server_default=sa.text("'[]'::jsonb"), nullable=False),
        sa.Column("visibility", sa.Text(), server_default=sa.text("'personal'"), nullable=False),
        sa.Column("template", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=True),
        _now("created_at"),
        _now("updated_at"),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("team_id", "id", name="pk_dashboards"),
        sa.ForeignKeyConstraint(["team_id"], ["app.teams.id"], name="fk_dashboards_team_id"),
        _fk("dashboards", "created_by", "team_members"),
        sa.CheckConstraint("visibility IN ('personal', 'team')", name="ck_dashboards_visibility"),
        sa.CheckConstraint("name <> ''", name="ck_dashboards_name"),
        schema="app",
    )
    op.create_table(
        "share_links",
        sa.Column("team_id", sa.Text(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("report_id", sa.Text(), nullable=True),
        sa.Column("dashboard_id", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=False),
        _now("created_at"),
        sa.PrimaryKeyConstraint("team_id", "id", name="pk_share_links"),
        sa.ForeignKeyConstraint(["team_id"], ["app.teams.id"], name="fk_share_links_team_id"),
        _fk("share_links", "created_by", "team_members"),
        _fk("share_links", "report_id", "reports"),
        _fk("share_links", "dashboard_id", "dashboards"),
        sa.CheckConstraint(
            "(report_id IS NULL) <> (dashboard_id IS NULL)", name="ck_share_links_target"
        ),
        schema="app",
    )
    indexes = {
        "dashboards": {
            "ix_dashboards_team_created": ["team_id", "created_at", "id"],
            "ix_dashboards_team_updated": ["team_id", "updated_at", "id"],
            "ix_dashboards_team_name": ["team_id", "name"],
            "ix_dashboards_team_visibility_creator": ["team_id", "visibility", "created_by"],
        },
        "share_links": {
            "ix_share_links_team_created": ["team_id", "created_at", "id"],
            "ix_share_links_team_report": ["team_id", "report_id"],
            "ix_share_links_team_dashboard": ["team_id", "dashboard_id"],
        },
    }
    for table, named in indexes.items():
        for name, cols in named.items():
            op.create_index(name, table, cols, schema="app")
    # A share token is resolved before any team is known (app.share_link_lookup).
    op.create_index(
        "uq_share_links_token_hash", "share_links", ["token_hash"], unique=True, schema="app"
    )
    r = _roles()
    conn = op.get_bind()
    enable_tenant_rls(conn, "dashboards", r)
    enable_tenant_rls(conn, "share_links", r, auth_lookup=True)
    conn.execute(sa.text(LOOKUP))
    conn.execute(sa.text(f"GRANT CREATE ON SCHEMA app TO {r.auth}"))
    conn.execute(sa.text(f"ALTER FUNCTION app.share_link_lookup(bytea) OWNER TO {r.auth}"))
    conn.execute(sa.text("REVOKE ALL ON FUNCTION app.share_link_lookup(bytea) FROM PUBLIC"))
    conn.execute(sa.text(f"GRANT EXECUTE ON FUNCTION app.share_link_lookup(bytea) TO {r.api}"))
    conn.execute(sa.text(f"REVOKE CREATE ON SCHEMA app FROM {r.auth}"))


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS app.share_link_lookup(bytea)")
    op.drop_table("share_links", schema="app")
    op.drop_table("dashboards", schema="app")
