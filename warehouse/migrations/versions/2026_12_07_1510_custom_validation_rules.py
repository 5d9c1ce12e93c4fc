"""custom objects: validation rules (a formula true when a record is invalid, per object)

Revision ID: 5b1d7e0c2a94
Revises: a19e0b7c3d52
Create Date: 2026-12-07 15:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from warehouse.db import Roles, enable_tenant_rls

revision = "5b1d7e0c2a94"
down_revision = "a19e0b7c3d52"
branch_labels = None
depends_on = None


def upgrade() -> None:
    now = sa.text("now()")
    op.create_table(
        "custom_validation_rules",
        sa.Column("team_id", sa.Text(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("object_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("condition", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("error_field", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("team_id", "id", name="pk_custom_validation_rules"),
        schema="app",
    )
    op.create_index(
        "uq_custom_validation_rules_team_object_name",
        "custom_validation_rules",
        ["team_id", "object_id", "name"],
        unique=True,
        schema="app",
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    roles: Roles = op.get_context().config.attributes["roles"]
    enable_tenant_rls(op.get_bind(), "custom_validation_rules", roles)


def downgrade() -> None:
    op.drop_table("custom_validation_rules", schema="app")
