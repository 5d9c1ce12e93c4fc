"""Webhooks: a team's endpoints, the outbox of deliveries (one per endpoint and event) and the
log of every attempt.

- ``webhook_endpoints``: ``url``, ``events`` (types such as ``deal.*``), ``enabled``; the signing
  secret (encrypted) and, for 24 h after a rotation, the previous one; ``failing_since`` (the
  first failure since the last success: 5 days of it disable the endpoint).
- ``webhook_deliveries``: the outbox. One row per endpoint and event (unique), holding the exact
  body sent on every attempt (so the ``webhook-id`` and payload never change), its status
  (``pending`` → ``succeeded`` | ``failed``), attempts and the next attempt's time. The event's
  ``(txid, id)`` and record keep deliveries in order per record.
- ``webhook_attempts``: one row per attempt: the request (url, headers, body) and the response
  (code, truncated body), its duration.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from warehouse.models.base import (
    Base,
    SoftDeleteMixin,
    TenantMixin,
    TimestampsMixin,
    VersionMixin,
    member_fk,
)
from warehouse.models.platform import Xid8

DELIVERY_STATUSES = ("pending", "succeeded", "failed")
ATTEMPT_STATUSES = ("succeeded", "failed")


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


class WebhookEndpoint(TenantMixin, TimestampsMixin, VersionMixin, SoftDeleteMixin, Base):
    __tablename__ = "webhook_endpoints"
    url: Mapped[str] = mapped_column(Text, nullable=False)
    events: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    secret: Mapped[str] = mapped_column(Text, nullable=False)
    previous_secret: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        member_fk("created_by", ondelete="SET NULL"),
        CheckConstraint("cardinality(events) BETWEEN 1 AND 100", name="events"),
        Index("ix_webhook_endpoints_team_created", "team_id", "created_at", "id"),
    )


class WebhookDelivery(TenantMixin, TimestampsMixin, Base):
    __tablename__ = "webhook_deliveries"
    endpoint_id: Mapped[str] = mapped_column(Text, nullable=False)
    event_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    event_txid: Mapped[Any] = mapped_column(Xid8, nullable=False)
    event_type: Mapped[str] = mapped_column(Text, nullable=False)
    object_type: Mapped[str] = mapped_column(Text, nullable=False)
    object_id: Mapped[str] = mapped_column(Text, nullable=False)
    payload: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'pending'"))
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    response_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    attempted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        ForeignKeyConstraint(
            ["team_id", "endpoint_id"],
            ["app.webhook_endpoints.team_id", "app.webhook_endpoints.id"],
            ondelete="CASCADE",
        ),
        CheckConstraint(f"status IN {_in(DELIVERY_STATUSES)}", name="status"),
        UniqueConstraint("team_id", "endpoint_id", "event_id"),
        # An endpoint's delivery log, newest first; replay of its failures since a time.
        Index("ix_webhook_deliveries_team_endpoint_created", "team_id", "endpoint_id", "id"),
        # What is due, across teams (the worker's sender).
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
        # Order per record: is an earlier delivery of this record still pending?
        Index(
            "ix_webhook_deliveries_pending_record",
            "team_id",
            "endpoint_id",
            "object_type",
            "object_id",
            "event_txid",
            "event_id",
            postgresql_where=text("status = 'pending'"),
        ),
    )


class WebhookAttempt(TenantMixin, Base):
    __tablename__ = "webhook_attempts"
    delivery_id: Mapped[str] = mapped_column(Text, nullable=False)
    attempt: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    request: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    response_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer, nullable=False)
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    __table_args__ = (
        ForeignKeyConstraint(
            ["team_id", "delivery_id"],
            ["app.webhook_deliveries.team_id", "app.webhook_deliveries.id"],
            ondelete="CASCADE",
        ),
        CheckConstraint(f"status IN {_in(ATTEMPT_STATUSES)}", name="status"),
        Index("ix_webhook_attempts_team_delivery", "team_id", "delivery_id", "attempt"),
    )
