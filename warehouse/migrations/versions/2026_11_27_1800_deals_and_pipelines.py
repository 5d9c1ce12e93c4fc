"""deals: pipelines (stages as a validated jsonb array), deals, deal contacts, stage history

Revision ID: d4a1b2c3e5f6
Revises: b8e5f6a7c9d0
Create Date: 2026-11-27 18:00:00.000000

Every existing team gets the default sales pipeline (with its ``created`` event), so a database
that already holds teams upgrades to one where every team can create deals.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
from ulid import ULID

from warehouse.db import Roles, enable_tenant_rls

revision = "d4a1b2c3e5f6"
down_revision = "b8e5f6a7c9d0"
branch_labels = None
depends_on = None

TABLES = ("pipelines", "deals", "deal_contacts", "deal_stage_history")

# The default pipeline as it was when this migration was written (api/deals/defaults.py keeps
# the current one for new teams).
DEFAULT_PIPELINE_NAME = "Sales pipeline"
DEFAULT_STAGES = [
    ("qualified", "Qualified", 10, "pipeline", False, False, [], 14),
    ("contact_made", "Contact made", 20, "pipeline", False, False, [], 14),
    ("demo_scheduled", "Demo scheduled", 40, "best_case", False, False, [], 14),
    ("proposal_made", "Proposal made", 60, "best_case", False, False, ["value"], 21),
    (
        "negotiation",
        "Negotiation",
        80,
        "commit",
        False,
        False,
        ["value", "expected_close_date"],
        21,
    ),
    ("won", "Won", 100, "closed", True, False, [], None),
    ("lost", "Lost", 0, "omitted", False, True, [], None),
]
DEMO_RULE = {
    "all": [
        {"field": "next_step", "op": "is_set"},
        {"activity": "call", "outcome": "meeting_booked", "min_count": 1},
    ]
}


def default_stages() -> list[dict]:
    return [
        {
            "key": key,
            "name": name,
            "probability": prob,
            "forecast_category": cat,
            "is_won": won,
            "is_lost": lost,
            "required_fields": req,
            "rot_days": rot,
            "auto_advance": DEMO_RULE if key == "demo_scheduled" else None,
        }
        for key, name, prob, cat, won, lost, req, rot in DEFAULT_STAGES
    ]


def _roles() -> Roles:
    return op.get_context().config.attributes["roles"]


def _now(name: str) -> sa.Column:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def _member_fk(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["team_id", column],
        ["app.team_members.team_id", "app.team_members.id"],
        name=op.f(f"fk_{table}_team_id_{column}"),
    )


def upgrade() -> None:
    op.execute("""
    CREATE FUNCTION app.pipeline_stages_valid(stages jsonb) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
      SELECT jsonb_typeof(stages) = 'array'
         AND jsonb_array_length(stages) > 0
         AND (SELECT bool_and(jsonb_typeof(s) = 'object' AND s ? 'key'
                              AND jsonb_typeof(s -> 'key') = 'string')
                     AND count(DISTINCT s ->> 'key') = count(*)
              FROM jsonb_array_elements(stages) AS s)
    $$""")
    op.create_table(
        "pipelines",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("is_default", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("stages", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("team_id", sa.Text(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        _now("created_at"),
        _now("updated_at"),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("app.pipeline_stages_valid(stages)", name=op.f("ck_pipelines_stages")),
        sa.ForeignKeyConstraint(["team_id"], ["app.teams.id"], name=op.f("fk_pipelines_team_id")),
        sa.PrimaryKeyConstraint("team_id", "id", name=op.f("pk_pipelines")),
        schema="app",
    )
    op.create_index(
        "uq_pipelines_team_default",
        "pipelines",
        ["team_id"],
        unique=True,
        schema="app",
        postgresql_where=sa.text("is_default AND deleted_at IS NULL"),
    )
    op.create_index(
        "ix_pipelines_team_created", "pipelines", ["team_id", "created_at", "id"], schema="app"
    )
    op.create_index("ix_pipelines_team_name", "pipelines", ["team_id", "name"], schema="app")

    op.create_table(
        "deals",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("value", sa.Numeric(18, 2), nullable=True),
        sa.Column("currency", sa.Text(), server_default=sa.text("'USD'"), nullable=False),
        sa.Column("value_type", sa.Text(), server_default=sa.text("'one_off'"), nullable=False),
        sa.Column("probability", sa.SmallInteger(), nullable=False),
        sa.Column("pipeline_id", sa.Text(), nullable=False),
        sa.Column("stage", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'open'"), nullable=False),
        sa.Column("position", sa.Double(), server_default=sa.text("0"), nullable=False),
        _now("stage_changed_at"),
        sa.Column("expected_close_date", sa.Date(), nullable=True),
        sa.Column("actual_close_date", sa.Date(), nullable=True),
        sa.Column("owner_id", sa.Text(), nullable=True),
        sa.Column("lead_id", sa.Text(), nullable=True),
        sa.Column("account_id", sa.Text(), nullable=True),
        sa.Column("win_reason", sa.Text(), nullable=True),
        sa.Column("loss_reason", sa.Text(), nullable=True),
        sa.Column("competitor", sa.Text(), nullable=True),
        sa.Column("next_step", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("team_id", sa.Text(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        _now("created_at"),
        _now("updated_at"),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "custom",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.CheckConstraint("probability BETWEEN 0 AND 100", name=op.f("ck_deals_probability")),
        sa.CheckConstraint("value IS NULL OR value >= 0", name=op.f("ck_deals_value")),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_deals_currency")),
        sa.CheckConstraint(
            "value_type IN ('one_off', 'mrr', 'arr')", name=op.f("ck_deals_value_type")
        ),
        sa.CheckConstraint("status IN ('open', 'won', 'lost')", name=op.f("ck_deals_status")),
        sa.ForeignKeyConstraint(
            ["team_id", "pipeline_id"],
            ["app.pipelines.team_id", "app.pipelines.id"],
            name=op.f("fk_deals_team_id_pipeline_id"),
        ),
        _member_fk("deals", "owner_id"),
        sa.ForeignKeyConstraint(
            ["team_id", "lead_id"],
            ["app.leads.team_id", "app.leads.id"],
            name=op.f("fk_deals_team_id_lead_id"),
        ),
        sa.ForeignKeyConstraint(
            ["team_id", "account_id"],
            ["app.accounts.team_id", "app.accounts.id"],
            name=op.f("fk_deals_team_id_account_id"),
        ),
        sa.PrimaryKeyConstraint("team_id", "id", name=op.f("pk_deals")),
        schema="app",
    )
    for name, cols in (
        ("ix_deals_team_created", ["team_id", "created_at", "id"]),
        ("ix_deals_team_updated", ["team_id", "updated_at", "id"]),
        ("ix_deals_team_status", ["team_id", "status"]),
        ("ix_deals_team_owner", ["team_id", "owner_id"]),
        ("ix_deals_team_lead", ["team_id", "lead_id"]),
        ("ix_deals_team_account", ["team_id", "account_id"]),
        ("ix_deals_team_expected_close", ["team_id", "expected_close_date"]),
        ("ix_deals_team_actual_close", ["team_id", "actual_close_date"]),
        ("ix_deals_team_name", ["team_id", "name"]),
        ("ix_deals_team_value", ["team_id", "value"]),
    ):
        op.create_index(name, "deals", cols, schema="app")
    # filter[stage], and the board's column totals as an index-only scan (no heap visits).
    op.create_index(
        "ix_deals_team_stage",
        "deals",
        ["team_id", "stage", "pipeline_id"],
        schema="app",
        postgresql_include=["value", "probability", "deleted_at"],
    )
    op.create_index(
        "ix_deals_team_board",
        "deals",
        ["team_id", "pipeline_id", "stage", "position", "id"],
        schema="app",
        postgresql_include=["value", "probability"],
        postgresql_where=sa.text("deleted_at IS NULL"),
    )

    op.create_table(
        "deal_contacts",
        sa.Column("team_id", sa.Text(), nullable=False),
        sa.Column("deal_id", sa.Text(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=True),
        _now("created_at"),
        sa.ForeignKeyConstraint(
            ["team_id", "deal_id"],
            ["app.deals.team_id", "app.deals.id"],
            name=op.f("fk_deal_contacts_team_id_deal_id"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id", "id"],
            ["app.contacts.team_id", "app.contacts.id"],
            name=op.f("fk_deal_contacts_team_id_contact_id"),
        ),
        sa.PrimaryKeyConstraint("team_id", "deal_id", "id", name=op.f("pk_deal_contacts")),
        schema="app",
    )
    op.create_index(
        "ix_deal_contacts_team_contact", "deal_contacts", ["team_id", "id"], schema="app"
    )

    op.create_table(
        "deal_stage_history",
        sa.Column("team_id", sa.Text(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("deal_id", sa.Text(), nullable=False),
        sa.Column("pipeline_id", sa.Text(), nullable=False),
        sa.Column("from_stage", sa.Text(), nullable=True),
        sa.Column("to_stage", sa.Text(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.Text(), nullable=True),
        sa.Column("duration_in_stage", sa.BigInteger(), nullable=True),
        sa.Column("owner_id", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "duration_in_stage IS NULL OR duration_in_stage >= 0",
            name=op.f("ck_deal_stage_history_duration_in_stage"),
        ),
        sa.ForeignKeyConstraint(
            ["team_id", "deal_id"],
            ["app.deals.team_id", "app.deals.id"],
            name=op.f("fk_deal_stage_history_team_id_deal_id"),
        ),
        sa.PrimaryKeyConstraint("team_id", "id", name=op.f("pk_deal_stage_history")),
        schema="app",
    )
    op.create_index(
        "ix_deal_stage_history_team_deal",
        "deal_stage_history",
        ["team_id", "deal_id", "changed_at", "id"],
        schema="app",
    )
    op.create_index(
        "ix_deal_stage_history_team_changed",
        "deal_stage_history",
        ["team_id", "changed_at"],
        schema="app",
    )
    op.create_index(
        "ix_deal_stage_history_team_pipeline",
        "deal_stage_history",
        ["team_id", "pipeline_id", "changed_at"],
        schema="app",
    )
    _default_pipelines()
    _security()


def _security() -> None:
    r = _roles()
    conn = op.get_bind()
    for table in TABLES:
        enable_tenant_rls(conn, table, r)
    # Stage history is append-only for the API: it is the record of what happened.
    conn.execute(sa.text(f"REVOKE UPDATE, DELETE ON app.deal_stage_history FROM {r.api}"))
    conn.execute(sa.text(f"GRANT EXECUTE ON FUNCTION app.pipeline_stages_valid(jsonb) TO {r.api}"))


def _default_pipelines() -> None:
    """Every existing team gets the default pipeline, created by the system (with its event).
    Runs before row-level security is enabled on the new tables; the event passes the events
    policy because the transaction's ``app.team_id`` is set to each team in turn."""
    conn = op.get_bind()
    # Forced row-level security shows the owner no team; lift it for this one read.
    conn.execute(sa.text("ALTER TABLE app.teams NO FORCE ROW LEVEL SECURITY"))
    teams = [row.id for row in conn.execute(sa.text("SELECT id FROM app.teams ORDER BY id"))]
    conn.execute(sa.text("ALTER TABLE app.teams FORCE ROW LEVEL SECURITY"))
    stages = json.dumps(default_stages())
    for team_id in teams:
        pid = f"pipe_{ULID()}"
        conn.execute(sa.text("SELECT set_config('app.team_id', :t, true)"), {"t": team_id})
        row = conn.execute(
            sa.text(
                "INSERT INTO app.pipelines (team_id, id, name, is_default, stages) "
                "VALUES (:t, :id, :name, true, CAST(:stages AS jsonb)) "
                "RETURNING created_at, updated_at"
            ),
            {"t": team_id, "id": pid, "name": DEFAULT_PIPELINE_NAME, "stages": stages},
        ).one()
        created = {
            "id": pid,
            "name": DEFAULT_PIPELINE_NAME,
            "is_default": True,
            "stages": default_stages(),
            "created_at": row.created_at.isoformat(),
            "updated_at": row.updated_at.isoformat(),
        }
        conn.execute(
            sa.text(
                "INSERT INTO app.events (team_id, actor_type, actor_id, object_type, object_id, "
                "action, changes, data) VALUES (:t, 'system', 'system', 'pipeline', :id, "
                "'created', CAST(:changes AS jsonb), CAST(:data AS jsonb))"
            ),
            {
                "t": team_id,
                "id": pid,
                "changes": json.dumps({k: [None, v] for k, v in created.items()}),
                "data": json.dumps({"migration": revision}),
            },
        )


def downgrade() -> None:
    op.drop_table("deal_stage_history", schema="app")
    op.drop_table("deal_contacts", schema="app")
    op.drop_table("deals", schema="app")
    op.drop_table("pipelines", schema="app")
    op.execute("DROP FUNCTION IF EXISTS app.pipeline_stages_valid(jsonb)")
