"""deal imports: app.imports.object accepts 'deals'

Revision ID: d1e2a3b4c5f6
Revises: a7d4e5f6b8c9
Create Date: 2026-11-27 19:30:00.000000

Only widens a check constraint, so it applies to a database holding data. Deal imports stage
their accepted rows in the import's data folder (no raw table): each row goes through the deal
service at load time.
"""

from __future__ import annotations

from alembic import op

revision = "d1e2a3b4c5f6"
down_revision = "a7d4e5f6b8c9"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint(op.f("ck_imports_object"), "imports", schema="app", type_="check")
    op.create_check_constraint(
        op.f("ck_imports_object"),
        "imports",
        "object IN ('leads', 'call_logs', 'deals')",
        schema="app",
    )


def downgrade() -> None:
    op.execute(
        "DELETE FROM raw.import_rejects WHERE import_id IN "
        "(SELECT id FROM app.imports WHERE object = 'deals')"
    )
    op.execute(
        "DELETE FROM raw.import_batches WHERE import_id IN "
        "(SELECT id FROM app.imports WHERE object = 'deals')"
    )
    op.execute("DELETE FROM app.imports WHERE object = 'deals'")
    op.drop_constraint(op.f("ck_imports_object"), "imports", schema="app", type_="check")
    op.create_check_constraint(
        op.f("ck_imports_object"), "imports", "object IN ('leads', 'call_logs')", schema="app"
    )
