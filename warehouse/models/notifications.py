"""Notifications: the in-app notification center, per-member preferences, watches, browser push
subscriptions, the outbox/delivery log of every external delivery, and WebSocket tickets.

- ``notifications``: one row per member and thing worth telling them (``type`` from
  :data:`NOTIFICATION_TYPES`), created by the dispatcher's notification consumers from events.
  ``(team_id, member_id, type, source_key)`` is unique (``source_key`` is ``evt:<event id>`` for
  notifications made from an event), so a redelivered event never notifies twice.
- ``notification_preferences``: member × type × channel switches; a missing row means the
  default (in-app on, every other channel off).
- ``notification_settings``: one row per member: do-not-disturb hours (local time of
  ``time_zone``, else the member's ``team_members.time_zone``), email digest mode, phone,
  Slack/Teams incoming-webhook URLs.
- ``watches``: a member follows another member (``member_activity``) or a record (a deal's
  watchers get its stage changes).
- ``push_subscriptions``: Web Push endpoints of a member's browsers.
- ``notification_deliveries``: the outbox and delivery log: one row per notification, channel
  and target (unique, so nothing is sent twice), with status, attempts, next attempt, error.
- ``realtime_tickets``: single-use, short-lived tickets a browser trades for a WebSocket.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from warehouse.models.base import Base, TenantMixin, TimestampsMixin, member_fk

NOTIFICATION_TYPES = (
    "task_assigned",
    "mention",
    "deal_stage_changed",
    "task_overdue",
    "task_reminder",
    "meeting_reminder",
    "lead_assigned",
    "member_activity",
    "system",
)
PRIORITIES = ("low", "normal", "high", "urgent")
#: Channels a member chooses per notification type.
PREFERENCE_CHANNELS = ("in_app", "email", "sms", "push", "webhook")
#: Channels of the outbox (``webhook`` fans out to Slack and Teams).
DELIVERY_CHANNELS = ("email", "sms", "push", "slack", "teams")
DELIVERY_STATUSES = ("pending", "sending", "sent", "delivered", "failed", "skipped")
DIGEST_MODES = ("immediate", "hourly", "daily")
WATCH_TARGETS = ("member", "deal", "lead", "contact", "account", "task")


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


class Notification(TenantMixin, TimestampsMixin, Base):
    __tablename__ = "notifications"
    member_id: Mapped[str] = mapped_column(Text, nullable=False)
    type: Mapped[str] = mapped_column(Text, nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("''"))
    action_url: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'normal'"))
    related_to_type: Mapped[str | None] = mapped_column(Text)
    related_to_id: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    source_event_id: Mapped[int | None] = mapped_column(BigInteger)
    source_type: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'event'"))
    source_key: Mapped[str] = mapped_column(Text, nullable=False)
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    snoozed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        member_fk("member_id", ondelete="CASCADE"),
        CheckConstraint(f"type IN {_in(NOTIFICATION_TYPES)}", name="type"),
        CheckConstraint(f"priority IN {_in(PRIORITIES)}", name="priority"),
        UniqueConstraint("team_id", "member_id", "type", "source_key"),
        # The center's lists: per member, newest first, by state.
        Index("ix_notifications_team_member_created", "team_id", "member_id", "created_at", "id"),
        Index(
            "ix_notifications_team_member_unread",
            "team_id",
            "member_id",
            "created_at",
            postgresql_where=text("read_at IS NULL AND archived_at IS NULL"),
        ),
        Index(
            "ix_notifications_team_member_archived",
            "team_id",
            "member_id",
            "archived_at",
            postgresql_where=text("archived_at IS NOT NULL"),
        ),
        Index("ix_notifications_team_related", "team_id", "related_to_type", "related_to_id"),
        Index("ix_notifications_team_type", "team_id", "member_id", "type"),
        # The minute job wakes snoozed notifications across teams.
        Index(
            "ix_notifications_snoozed",
            "snoozed_until",
            postgresql_where=text("snoozed_until IS NOT NULL"),
        ),
    )


class NotificationPreference(TenantMixin, TimestampsMixin, Base):
    __tablename__ = "notification_preferences"
    member_id: Mapped[str] = mapped_column(Text, nullable=False)
    type: Mapped[str] = mapped_column(Text, nullable=False)
    channel: Mapped[str] = mapped_column(Text, nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False)
    __table_args__ = (
        member_fk("member_id", ondelete="CASCADE"),
        CheckConstraint(f"type IN {_in(NOTIFICATION_TYPES)}", name="type"),
        CheckConstraint(f"channel IN {_in(PREFERENCE_CHANNELS)}", name="channel"),
        UniqueConstraint("team_id", "member_id", "type", "channel"),
    )


class NotificationSettings(TenantMixin, TimestampsMixin, Base):
    __tablename__ = "notification_settings"
    member_id: Mapped[str] = mapped_column(Text, nullable=False)
    time_zone: Mapped[str | None] = mapped_column(Text)
    dnd_start: Mapped[time | None] = mapped_column(Time)
    dnd_end: Mapped[time | None] = mapped_column(Time)
    dnd_allow_urgent: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("true")
    )
    digest: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'immediate'"))
    digest_hour: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="8")
    email: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    slack_webhook_url: Mapped[str | None] = mapped_column(Text)
    teams_webhook_url: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        member_fk("member_id", ondelete="CASCADE"),
        CheckConstraint(f"digest IN {_in(DIGEST_MODES)}", name="digest"),
        CheckConstraint("digest_hour BETWEEN 0 AND 23", name="digest_hour"),
        CheckConstraint("(dnd_start IS NULL) = (dnd_end IS NULL)", name="dnd_pair"),
        UniqueConstraint("team_id", "member_id"),
    )


class Watch(TenantMixin, Base):
    __tablename__ = "watches"
    member_id: Mapped[str] = mapped_column(Text, nullable=False)
    target_type: Mapped[str] = mapped_column(Text, nullable=False)
    target_id: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=text("now()")
    )
    __table_args__ = (
        member_fk("member_id", ondelete="CASCADE"),
        CheckConstraint(f"target_type IN {_in(WATCH_TARGETS)}", name="target_type"),
        UniqueConstraint("team_id", "member_id", "target_type", "target_id"),
        Index("ix_watches_team_target", "team_id", "target_type", "target_id"),
    )


class PushSubscription(TenantMixin, Base):
    __tablename__ = "push_subscriptions"
    member_id: Mapped[str] = mapped_column(Text, nullable=False)
    endpoint: Mapped[str] = mapped_column(Text, nullable=False)
    p256dh: Mapped[str] = mapped_column(Text, nullable=False)
    auth: Mapped[str] = mapped_column(Text, nullable=False)
    user_agent: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=text("now()")
    )
    __table_args__ = (
        member_fk("member_id", ondelete="CASCADE"),
        UniqueConstraint("team_id", "member_id", "endpoint"),
    )


class NotificationDelivery(TenantMixin, TimestampsMixin, Base):
    __tablename__ = "notification_deliveries"
    notification_id: Mapped[str] = mapped_column(Text, nullable=False)
    member_id: Mapped[str] = mapped_column(Text, nullable=False)
    channel: Mapped[str] = mapped_column(Text, nullable=False)
    target: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("''"))
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'pending'"))
    digest: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_id: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        ForeignKeyConstraint(
            ["team_id", "notification_id"],
            ["app.notifications.team_id", "app.notifications.id"],
            ondelete="CASCADE",
        ),
        member_fk("member_id", ondelete="CASCADE"),
        CheckConstraint(f"channel IN {_in(DELIVERY_CHANNELS)}", name="channel"),
        CheckConstraint(f"status IN {_in(DELIVERY_STATUSES)}", name="status"),
        CheckConstraint(f"digest IS NULL OR digest IN {_in(DIGEST_MODES)}", name="digest"),
        UniqueConstraint("team_id", "notification_id", "channel", "target"),
        Index("ix_notification_deliveries_team_member", "team_id", "member_id", "created_at"),
        Index("ix_notification_deliveries_team_status", "team_id", "status", "created_at"),
        # The sweep finds due rows across teams (like dispatch_failures.next_attempt_at).
        Index(
            "ix_notification_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status IN ('pending', 'sending')"),
        ),
    )


class RealtimeTicket(TenantMixin, Base):
    __tablename__ = "realtime_tickets"
    member_id: Mapped[str] = mapped_column(Text, nullable=False)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    # The session or API key it was issued with: the socket lives only as long as it does.
    credential_type: Mapped[str | None] = mapped_column(Text)
    credential_id: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=text("now()")
    )
    __table_args__ = (
        member_fk("member_id", ondelete="CASCADE"),
        UniqueConstraint("team_id", "token_hash"),
        Index("ix_realtime_tickets_team_expires", "team_id", "expires_at"),
    )


__all__ = [
    "DELIVERY_CHANNELS",
    "DELIVERY_STATUSES",
    "DIGEST_MODES",
    "NOTIFICATION_TYPES",
    "PREFERENCE_CHANNELS",
    "PRIORITIES",
    "WATCH_TARGETS",
    "Notification",
    "NotificationDelivery",
    "NotificationPreference",
    "NotificationSettings",
    "PushSubscription",
    "RealtimeTicket",
    "Watch",
]
