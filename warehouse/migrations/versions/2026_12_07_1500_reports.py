"""reports: saved report definitions over the semantic layer (issue 19)

Revision ID: a19e0b7c3d52
Revises: c0570b1ec75a
Create Date: 2026-12-07 15:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from warehouse.db import Roles, enable_tenant_rls

revision = "a19e0b7c3d52"
down_revision = "c0570b1ec75a"
branch_labels = None
depends_on = None

JSONB = postgresql.JSONB(astext_type=sa.Text())


def _roles() -> Roles:
    return op.get_context().config.attributes["roles"]


def _now(name: str) -> sa.Column:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def _list(name: str) -> sa.Column:
    return sa.Column(name, JSONB, server_default=sa.text("'[]'::jsonb"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("team_id", sa.Text(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("metrics", JSONB, nullable=False),
        _list("dimensions"),
        _list("filters"),
        sa.Column("time_grain", sa.Text(), nullable=True),
        sa.Column("compare_to", sa.Text(), nullable=True),
        _list("sort"),
        sa.Column("chart", sa.Text(), server_default=sa.text("'table'"), nullable=False),
        sa.Column("visibility", sa.Text(), server_default=sa.text("'personal'"), nullable=False),
        sa.Column("template", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=True),
        _now("created_at"),
        _now("updated_at"),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("team_id", "id", name="pk_reports"),
        sa.ForeignKeyConstraint(["team_id"], ["app.teams.id"], name="fk_reports_team_id"),
        sa.ForeignKeyConstraint(
            ["team_id", "created_by"],
            ["app.team_members.team_id", "app.team_members.id"],
            name="fk_reports_team_id_created_by",
        ),
        sa.CheckConstraint("visibility IN ('personal', 'team')", name="ck_reports_visibility"),
        sa.CheckConstraint(
            "time_grain IN ('day', 'week', 'month', 'quarter', 'year')",
            name="ck_reports_time_grain",
        ),
        sa.CheckConstraint(
            "compare_to IN ('previous_period', 'same_period_last_year')",
            name="ck_reports_compare_to",
        ),
        sa.CheckConstraint(
            "chart IN ('kpi', 'bar', 'line', 'pie', 'funnel', 'heatmap', 'table')",
            name="ck_reports_chart",
        ),
        sa.CheckConstraint("name <> ''", name="ck_reports_name"),
        schema="app",
    )
    for name, cols in {
        "ix_reports_team_created": ["team_id", "created_at", "id"],
        "ix_reports_team_updated": ["team_id", "updated_at", "id"],
        "ix_reports_team_name": ["team_id", "name"],
        "ix_reports_team_visibility_creator": ["team_id", "visibility", "created_by"],
    }.items():
        op.create_index(name, "reports", cols, schema="app")
    enable_tenant_rls(op.get_bind(), "reports", _roles())


def downgrade() -> None:
    op.drop_table("reports", schema="app")
