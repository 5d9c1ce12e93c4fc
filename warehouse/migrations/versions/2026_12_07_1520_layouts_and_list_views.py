"""custom objects: page layouts and list views (every object, custom or standard)

Revision ID: 8e2f4c6a1d37
Revises: 9b3e1d7a5c21
Create Date: 2026-12-07 15:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from warehouse.db import Roles, enable_tenant_rls

revision = "8e2f4c6a1d37"
down_revision = "9b3e1d7a5c21"
branch_labels = None
depends_on = None


def _common() -> list[sa.Column]:
    now = sa.text("now()")
    return [
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "layouts",
        sa.Column("team_id", sa.Text(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("object", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("sections", postgresql.JSONB(), nullable=False),
        *_common(),
        sa.PrimaryKeyConstraint("team_id", "id", name="pk_layouts"),
        schema="app",
    )
    op.create_index("ix_layouts_team_object", "layouts", ["team_id", "object"], schema="app")
    op.create_table(
        "list_views",
        sa.Column("team_id", sa.Text(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("object", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "columns", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'"), nullable=False
        ),
        sa.Column(
            "filters", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("sort", sa.Text(), nullable=True),
        sa.Column("visibility", sa.Text(), server_default=sa.text("'personal'"), nullable=False),
        sa.Column("owner_id", sa.Text(), nullable=False),
        *_common(),
        sa.PrimaryKeyConstraint("team_id", "id", name="pk_list_views"),
        sa.ForeignKeyConstraint(
            ["team_id", "owner_id"],
            ["app.team_members.team_id", "app.team_members.id"],
            name="fk_list_views_team_id_owner_id",
        ),
        sa.CheckConstraint("visibility IN ('personal', 'team')", name="ck_list_views_visibility"),
        schema="app",
    )
    op.create_index("ix_list_views_team_object", "list_views", ["team_id", "object"], schema="app")
    op.create_index("ix_list_views_team_owner", "list_views", ["team_id", "owner_id"], schema="app")
    roles: Roles = op.get_context().config.attributes["roles"]
    for table in ("layouts", "list_views"):
        enable_tenant_rls(op.get_bind(), table, roles)


def downgrade() -> None:
    op.drop_table("list_views", schema="app")
    op.drop_table("layouts", schema="app")
