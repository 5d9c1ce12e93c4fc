"""The event log and the platform tables around it (idempotency, dispatcher state)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import UserDefinedType

from warehouse.models.base import Base


class Xid8(UserDefinedType):
    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "xid8"


class Event(Base):
    """Append-only change log: one row per create/update/delete, written in the same
    transaction as the change. ``txid`` orders events for cursor readers."""

    __tablename__ = "events"
    team_id: Mapped[str] = mapped_column(Text, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    txid: Mapped[Any] = mapped_column(
        Xid8, nullable=False, server_default=text("pg_current_xact_id()")
    )
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    actor_type: Mapped[str] = mapped_column(Text, nullable=False)
    actor_id: Mapped[str | None] = mapped_column(Text)
    object_type: Mapped[str] = mapped_column(Text, nullable=False)
    object_id: Mapped[str] = mapped_column(Text, nullable=False)
    action: Mapped[str] = mapped_column(Text, nullable=False)
    changes: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    data: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    request_id: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        ForeignKeyConstraint(["team_id"], ["app.teams.id"]),
        Index("ix_events_txid_id", "txid", "id"),
        Index("ix_events_team_txid_id", "team_id", "txid", "id"),
        Index("ix_events_team_object", "team_id", "object_type", "object_id", "id"),
        Index("ix_events_team_occurred", "team_id", "occurred_at"),
    )


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    team_id: Mapped[str] = mapped_column(Text, primary_key=True)
    actor_id: Mapped[str] = mapped_column(Text, primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    method: Mapped[str] = mapped_column(Text, nullable=False)
    path: Mapped[str] = mapped_column(Text, nullable=False)
    request_hash: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    status_code: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    headers: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    body: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    __table_args__ = (
        ForeignKeyConstraint(["team_id"], ["app.teams.id"], ondelete="CASCADE"),
        Index("ix_idempotency_keys_team_expires", "team_id", "expires_at"),
    )


class ConsumerCursor(Base):
    """Where each dispatcher consumer has read up to (not tenant data)."""

    __tablename__ = "consumer_cursors"
    consumer: Mapped[str] = mapped_column(Text, primary_key=True)
    last_txid: Mapped[Any] = mapped_column(Xid8, nullable=False, server_default=text("'0'::xid8"))
    last_event_id: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )


FAILURE_STATUSES = ("retrying", "dead", "resolved")


class DispatchFailure(Base):
    """A consumer's failed handling of one event: retried with backoff, then dead."""

    __tablename__ = "dispatch_failures"
    team_id: Mapped[str] = mapped_column(Text, primary_key=True)
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    consumer: Mapped[str] = mapped_column(Text, nullable=False)
    event_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'retrying'"))
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("1"))
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    __table_args__ = (
        ForeignKeyConstraint(["team_id", "event_id"], ["app.events.team_id", "app.events.id"]),
        CheckConstraint(f"status IN {FAILURE_STATUSES!r}", name="status"),
        CheckConstraint("attempts >= 0", name="attempts"),
        Index(
            "uq_dispatch_failures_consumer_event", "team_id", "consumer", "event_id", unique=True
        ),
        Index("ix_dispatch_failures_team_status", "team_id", "status", "id"),
        Index(
            "ix_dispatch_failures_due",
            "next_attempt_at",
            postgresql_where=text("status = 'retrying'"),
        ),
    )
