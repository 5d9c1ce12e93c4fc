"""notifications: notification center, preferences, watches, push subscriptions, delivery
outbox/log, realtime tickets

Revision ID: a7d4e5f6b8c9
Revises: f6c3d4e5a7b8
Create Date: 2026-11-27 18:03:00.000000

Only new tables (no change to existing ones), so it applies to a database holding data.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from warehouse.db import Roles, enable_tenant_rls

revision = "a7d4e5f6b8c9"
down_revision = "f6c3d4e5a7b8"
branch_labels = None
depends_on = None

TABLES = (
    "notifications",
    "notification_preferences",
    "notification_settings",
    "watches",
    "push_subscriptions",
    "notification_deliveries",
    "realtime_tickets",
)


def _roles() -> Roles:
    return op.get_context().config.attributes["roles"]


def upgrade() -> None:
    op.create_table(
        "notification_preferences",
        sa.Column("member_id", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("team_id", sa.Text(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "channel IN ('in_app', 'email', 'sms', 'push', 'webhook')",
            name=op.f("ck_notification_preferences_channel"),
        ),
        sa.CheckConstraint(
            "type IN ('task_assigned', 'mention', 'deal_stage_changed', 'task_overdue', 'task_reminder', 'meeting_reminder', 'lead_assigned', 'member_activity', 'system')",
            name=op.f("ck_notification_preferences_type"),
        ),
        sa.ForeignKeyConstraint(
            ["team_id", "member_id"],
            ["app.team_members.team_id", "app.team_members.id"],
            name=op.f("fk_notification_preferences_team_id_member_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("team_id", "id", name=op.f("pk_notification_preferences")),
        sa.UniqueConstraint(
            "team_id",
            "member_id",
            "type",
            "channel",
            name=op.f("uq_notification_preferences_team_id_member_id_type_channel"),
        ),
        schema="app",
    )
    op.create_table(
        "notification_settings",
        sa.Column("member_id", sa.Text(), nullable=False),
        sa.Column("time_zone", sa.Text(), nullable=True),
        sa.Column("dnd_start", sa.Time(), nullable=True),
        sa.Column("dnd_end", sa.Time(), nullable=True),
        sa.Column("dnd_allow_urgent", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("digest", sa.Text(), server_default=sa.text("'immediate'"), nullable=False),
        sa.Column("digest_hour", sa.SmallInteger(), server_default="8", nullable=False),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("slack_webhook_url", sa.Text(), nullable=True),
        sa.Column("teams_webhook_url", sa.Text(), nullable=True),
        sa.Column("team_id", sa.Text(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "digest IN ('immediate', 'hourly', 'daily')",
            name=op.f("ck_notification_settings_digest"),
        ),
        sa.CheckConstraint(
            "(dnd_start IS NULL) = (dnd_end IS NULL)",
            name=op.f("ck_notification_settings_dnd_pair"),
        ),
        sa.CheckConstraint(
            "digest_hour BETWEEN 0 AND 23", name=op.f("ck_notification_settings_digest_hour")
        ),
        sa.ForeignKeyConstraint(
            ["team_id", "member_id"],
            ["app.team_members.team_id", "app.team_members.id"],
            name=op.f("fk_notification_settings_team_id_member_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("team_id", "id", name=op.f("pk_notification_settings")),
        sa.UniqueConstraint(
            "team_id", "member_id", name=op.f("uq_notification_settings_team_id_member_id")
        ),
        schema="app",
    )
    op.create_table(
        "notifications",
        sa.Column("member_id", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("action_url", sa.Text(), nullable=True),
        sa.Column("priority", sa.Text(), server_default=sa.text("'normal'"), nullable=False),
        sa.Column("related_to_type", sa.Text(), nullable=True),
        sa.Column("related_to_id", sa.Text(), nullable=True),
        sa.Column("actor_id", sa.Text(), nullable=True),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("source_event_id", sa.BigInteger(), nullable=True),
        sa.Column("source_type", sa.Text(), server_default=sa.text("'event'"), nullable=False),
        sa.Column("source_key", sa.Text(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("snoozed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("team_id", sa.Text(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "priority IN ('low', 'normal', 'high', 'urgent')",
            name=op.f("ck_notifications_priority"),
        ),
        sa.CheckConstraint(
            "type IN ('task_assigned', 'mention', 'deal_stage_changed', 'task_overdue', 'task_reminder', 'meeting_reminder', 'lead_assigned', 'member_activity', 'system')",
            name=op.f("ck_notifications_type"),
        ),
        sa.ForeignKeyConstraint(
            ["team_id", "member_id"],
            ["app.team_members.team_id", "app.team_members.id"],
            name=op.f("fk_notifications_team_id_member_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("team_id", "id", name=op.f("pk_notifications")),
        sa.UniqueConstraint(
            "team_id",
            "member_id",
            "type",
            "source_key",
            name=op.f("uq_notifications_team_id_member_id_type_source_key"),
        ),
        schema="app",
    )
    op.create_index(
        "ix_notifications_team_member_archived",
        "notifications",
        ["team_id", "member_id", "archived_at"],
        unique=False,
        schema="app",
        postgresql_where=sa.text("archived_at IS NOT NULL"),
    )
    op.create_index(
        "ix_notifications_team_member_created",
        "notifications",
        ["team_id", "member_id", "created_at", "id"],
        unique=False,
        schema="app",
    )
    op.create_index(
        "ix_notifications_team_member_unread",
        "notifications",
        ["team_id", "member_id", "created_at"],
        unique=False,
        schema="app",
        postgresql_where=sa.text("read_at IS NULL AND archived_at IS NULL"),
    )
    op.create_index(
        "ix_notifications_team_related",
        "notifications",
        ["team_id", "related_to_type", "related_to_id"],
        unique=False,
        schema="app",
    )
    op.create_index(
        "ix_notifications_team_type",
        "notifications",
        ["team_id", "member_id", "type"],
        unique=False,
        schema="app",
    )
    op.create_index(
        "ix_notifications_snoozed",
        "notifications",
        ["snoozed_until"],
        unique=False,
        schema="app",
        postgresql_where=sa.text("snoozed_until IS NOT NULL"),
    )
    op.create_table(
        "push_subscriptions",
        sa.Column("member_id", sa.Text(), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("p256dh", sa.Text(), nullable=False),
        sa.Column("auth", sa.Text(), nullable=False),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("team_id", sa.Text(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id", "member_id"],
            ["app.team_members.team_id", "app.team_members.id"],
            name=op.f("fk_push_subscriptions_team_id_member_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("team_id", "id", name=op.f("pk_push_subscriptions")),
        sa.UniqueConstraint(
            "team_id",
            "member_id",
            "endpoint",
            name=op.f("uq_push_subscriptions_team_id_member_id_endpoint"),
        ),
        schema="app",
    )
    op.create_table(
        "realtime_tickets",
        sa.Column("member_id", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("credential_type", sa.Text(), nullable=True),
        sa.Column("credential_id", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("team_id", sa.Text(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id", "member_id"],
            ["app.team_members.team_id", "app.team_members.id"],
            name=op.f("fk_realtime_tickets_team_id_member_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("team_id", "id", name=op.f("pk_realtime_tickets")),
        sa.UniqueConstraint(
            "team_id", "token_hash", name=op.f("uq_realtime_tickets_team_id_token_hash")
        ),
        schema="app",
    )
    op.create_index(
        "ix_realtime_tickets_team_expires",
        "realtime_tickets",
        ["team_id", "expires_at"],
        unique=False,
        schema="app",
    )
    op.create_table(
        "watches",
        sa.Column("member_id", sa.Text(), nullable=False),
        sa.Column("target_type", sa.Text(), nullable=False),
        sa.Column("target_id", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("team_id", sa.Text(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "target_type IN ('member', 'deal', 'lead', 'contact', 'account', 'task')",
            name=op.f("ck_watches_target_type"),
        ),
        sa.ForeignKeyConstraint(
            ["team_id", "member_id"],
            ["app.team_members.team_id", "app.team_members.id"],
            name=op.f("fk_watches_team_id_member_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("team_id", "id", name=op.f("pk_watches")),
        sa.UniqueConstraint(
            "team_id",
            "member_id",
            "target_type",
            "target_id",
            name=op.f("uq_watches_team_id_member_id_target_type_target_id"),
        ),
        schema="app",
    )
    op.create_index(
        "ix_watches_team_target",
        "watches",
        ["team_id", "target_type", "target_id"],
        unique=False,
        schema="app",
    )
    op.create_table(
        "notification_deliveries",
        sa.Column("notification_id", sa.Text(), nullable=False),
        sa.Column("member_id", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("digest", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("provider_id", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("team_id", sa.Text(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "channel IN ('email', 'sms', 'push', 'slack', 'teams')",
            name=op.f("ck_notification_deliveries_channel"),
        ),
        sa.CheckConstraint(
            "digest IS NULL OR digest IN ('immediate', 'hourly', 'daily')",
            name=op.f("ck_notification_deliveries_digest"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'delivered', 'failed', 'skipped')",
            name=op.f("ck_notification_deliveries_status"),
        ),
        sa.ForeignKeyConstraint(
            ["team_id", "member_id"],
            ["app.team_members.team_id", "app.team_members.id"],
            name=op.f("fk_notification_deliveries_team_id_member_id"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id", "notification_id"],
            ["app.notifications.team_id", "app.notifications.id"],
            name=op.f("fk_notification_deliveries_team_id_notification_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("team_id", "id", name=op.f("pk_notification_deliveries")),
        sa.UniqueConstraint(
            "team_id",
            "notification_id",
            "channel",
            "target",
            name=op.f("uq_notification_deliveries_team_id_notification_id_channel_target"),
        ),
        schema="app",
    )
    op.create_index(
        "ix_notification_deliveries_due",
        "notification_deliveries",
        ["next_attempt_at"],
        unique=False,
        schema="app",
        postgresql_where=sa.text("status IN ('pending', 'sending')"),
    )
    op.create_index(
        "ix_notification_deliveries_team_member",
        "notification_deliveries",
        ["team_id", "member_id", "created_at"],
        unique=False,
        schema="app",
    )
    op.create_index(
        "ix_notification_deliveries_team_status",
        "notification_deliveries",
        ["team_id", "status", "created_at"],
        unique=False,
        schema="app",
    )
    conn = op.get_bind()
    roles = _roles()
    for table in TABLES:
        enable_tenant_rls(conn, table, roles)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table, schema="app")
