"""imports: created-event changes landed with each lead row; a ledger of committed batches

Revision ID: c9f6a7b8d0e1
Revises: 47487ac92e2f
Create Date: 2026-11-27 17:50:00.000000

``raw.lead_import_rows.changes`` holds, as JSON text written by DuckDB while staging, the
``[null, value]`` pairs of every field the file gives a new lead (the fields the database
resolves, such as the owner, the account link and ``created_at``, are added when the batch is
written). Building that JSON in DuckDB instead of per row in PostgreSQL is most of what the
set-based write used to spend on events. The team view is recreated so it shows the column.

``raw.import_batches`` records each committed batch of an import, in that batch's transaction,
so batches can be written by several connections at once and in any order, and a resumed run
skips exactly the batches that committed. Like the other raw tables it is tenant-safe by
privileges (the API role inserts every column but ``team_id``, whose default is the
transaction's team, and reads and deletes through the ``raw.team_import_batches`` view).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from warehouse.db import Roles

revision = "c9f6a7b8d0e1"
down_revision = "47487ac92e2f"
branch_labels = None
depends_on = None

VIEW = (
    "CREATE OR REPLACE VIEW raw.team_lead_import_rows WITH (security_barrier) AS "
    "SELECT * FROM raw.lead_import_rows WHERE team_id = current_setting('app.team_id', true)"
)


def _roles() -> Roles:
    return op.get_context().config.attributes["roles"]


def upgrade() -> None:
    r = _roles()
    op.add_column("lead_import_rows", sa.Column("changes", sa.Text(), nullable=True), schema="raw")
    op.execute(f'GRANT INSERT ("changes") ON raw.lead_import_rows TO {r.api}')
    op.execute(VIEW)  # a view's * is expanded when it is created: add the new column
    op.create_table(
        "import_batches",
        sa.Column(
            "team_id",
            sa.Text(),
            server_default=sa.text("current_setting('app.team_id')"),
            nullable=False,
        ),
        sa.Column("import_id", sa.Text(), nullable=False),
        sa.Column("batch_no", sa.Integer(), nullable=False),
        sa.Column(
            "committed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("team_id <> ''", name=op.f("ck_import_batches_team_id")),
        sa.PrimaryKeyConstraint("team_id", "import_id", "batch_no", name=op.f("pk_import_batches")),
        schema="raw",
    )
    op.execute(f"GRANT INSERT (import_id, batch_no) ON raw.import_batches TO {r.api}")
    op.execute(f"GRANT SELECT ON raw.import_batches TO {r.worker}, {r.analytics}")
    op.execute(
        "CREATE VIEW raw.team_import_batches WITH (security_barrier) AS SELECT * FROM "
        "raw.import_batches WHERE team_id = current_setting('app.team_id', true)"
    )
    op.execute(f"GRANT SELECT, DELETE ON raw.team_import_batches TO {r.api}")


def downgrade() -> None:
    r = _roles()
    op.execute("DROP VIEW IF EXISTS raw.team_import_batches")
    op.drop_table("import_batches", schema="raw")
    op.execute("DROP VIEW IF EXISTS raw.team_lead_import_rows")
    op.drop_column("lead_import_rows", "changes", schema="raw")
    op.execute(VIEW)
    op.execute(f"GRANT SELECT, DELETE ON raw.team_lead_import_rows TO {r.api}")
