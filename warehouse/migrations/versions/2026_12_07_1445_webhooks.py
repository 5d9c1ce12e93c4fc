"""webhooks: endpoints, the delivery outbox and the attempt log

Revision ID: f4a5b6c7d8e9
Revises: e3f4a5b6c7d8
Create Date: 2026-12-07 14:45:00.000000

Only new tables, so it applies to a database holding data. The worker role writes the outbox
and the attempt log (it sends across teams) and the failure state of an endpoint.
"""

from __future__ import annotations

from alembic import op

from warehouse.db import Roles, enable_tenant_rls

revision = "f4a5b6c7d8e9"
down_revision = "e3f4a5b6c7d8"
branch_labels = None
depends_on = None

TABLES = ("webhook_endpoints", "webhook_deliveries", "webhook_attempts")


def _roles() -> Roles:
    return op.get_context().config.attributes["roles"]


def upgrade() -> None:
    x = op.execute
    x(
        """
        CREATE TABLE app.webhook_endpoints (
            url TEXT NOT NULL,
            events TEXT[] NOT NULL,
            description TEXT,
            enabled BOOLEAN DEFAULT true NOT NULL,
            disabled_reason TEXT,
            failing_since TIMESTAMP WITH TIME ZONE,
            secret TEXT NOT NULL,
            previous_secret TEXT,
            previous_secret_expires_at TIMESTAMP WITH TIME ZONE,
            created_by TEXT,
            team_id TEXT NOT NULL,
            id TEXT NOT NULL,
            created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
            updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
            version INTEGER DEFAULT 1 NOT NULL,
            deleted_at TIMESTAMP WITH TIME ZONE,
            CONSTRAINT pk_webhook_endpoints PRIMARY KEY (team_id, id),
            CONSTRAINT fk_webhook_endpoints_team_id_created_by FOREIGN KEY (team_id, created_by)
                REFERENCES app.team_members (team_id, id) ON DELETE SET NULL,
            CONSTRAINT ck_webhook_endpoints_events CHECK (cardinality(events) BETWEEN 1 AND 100)
        )
        """
    )
    x(
        "CREATE INDEX ix_webhook_endpoints_team_created "
        "ON app.webhook_endpoints (team_id, created_at, id)"
    )
    x(
        """
        CREATE TABLE app.webhook_deliveries (
            endpoint_id TEXT NOT NULL,
            event_id BIGINT NOT NULL,
            event_txid xid8 NOT NULL,
            event_type TEXT NOT NULL,
            object_type TEXT NOT NULL,
            object_id TEXT NOT NULL,
            payload TEXT NOT NULL,
            status TEXT DEFAULT 'pending' NOT NULL,
            attempts INTEGER DEFAULT 0 NOT NULL,
            response_code INTEGER,
            duration_ms INTEGER,
            attempted_at TIMESTAMP WITH TIME ZONE,
            next_attempt_at TIMESTAMP WITH TIME ZONE,
            lease_until TIMESTAMP WITH TIME ZONE,
            last_error TEXT,
            team_id TEXT NOT NULL,
            id TEXT NOT NULL,
            created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
            updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
            CONSTRAINT pk_webhook_deliveries PRIMARY KEY (team_id, id),
            CONSTRAINT fk_webhook_deliveries_team_id_endpoint_id FOREIGN KEY (team_id, endpoint_id)
                REFERENCES app.webhook_endpoints (team_id, id) ON DELETE CASCADE,
            CONSTRAINT ck_webhook_deliveries_status
                CHECK (status IN ('pending', 'succeeded', 'failed')),
            CONSTRAINT uq_webhook_deliveries_team_id_endpoint_id_event_id
                UNIQUE (team_id, endpoint_id, event_id)
        )
        """
    )
    x(
        "CREATE INDEX ix_webhook_deliveries_pending_record ON app.webhook_deliveries "
        "(team_id, endpoint_id, object_type, object_id, event_txid, event_id) "
        "WHERE status = 'pending'"
    )
    x(
        "CREATE INDEX ix_webhook_deliveries_due ON app.webhook_deliveries (next_attempt_at) "
        "WHERE status = 'pending'"
    )
    x(
        "CREATE INDEX ix_webhook_deliveries_team_endpoint_created "
        "ON app.webhook_deliveries (team_id, endpoint_id, id)"
    )
    x(
        """
        CREATE TABLE app.webhook_attempts (
            delivery_id TEXT NOT NULL,
            attempt INTEGER NOT NULL,
            status TEXT NOT NULL,
            request JSONB NOT NULL,
            response_code INTEGER,
            response_body TEXT,
            error TEXT,
            duration_ms INTEGER NOT NULL,
            attempted_at TIMESTAMP WITH TIME ZONE NOT NULL,
            team_id TEXT NOT NULL,
            id TEXT NOT NULL,
            CONSTRAINT pk_webhook_attempts PRIMARY KEY (team_id, id),
            CONSTRAINT fk_webhook_attempts_team_id_delivery_id FOREIGN KEY (team_id, delivery_id)
                REFERENCES app.webhook_deliveries (team_id, id) ON DELETE CASCADE,
            CONSTRAINT ck_webhook_attempts_status CHECK (status IN ('succeeded', 'failed'))
        )
        """
    )
    x(
        "CREATE INDEX ix_webhook_attempts_team_delivery "
        "ON app.webhook_attempts (team_id, delivery_id, attempt)"
    )
    # The event stream reads one team's log in commit order.
    x("CREATE INDEX ix_events_team_txid_id ON app.events (team_id, txid, id)")
    conn = op.get_bind()
    roles = _roles()
    for table in TABLES:
        enable_tenant_rls(conn, table, roles, worker_write=True)


def downgrade() -> None:
    op.execute("DROP INDEX app.ix_events_team_txid_id")
    for table in reversed(TABLES):
        op.drop_table(table, schema="app")
