"""Notification center, preferences, watches and push subscription bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, UnsetType

from api.common.structs import page_of

Id = Annotated[str, Meta(min_length=1, max_length=64)]
Url = Annotated[str, Meta(max_length=2000, pattern=r"^https?://[^\s]+$")]
Hhmm = Annotated[str, Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
Phone = Annotated[str, Meta(pattern=r"^\+[1-9][0-9]{6,14}$")]
Email = Annotated[str, Meta(max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


class Notification(msgspec.Struct, kw_only=True):
    id: str
    type: str
    title: str
    message: str
    action_url: str | None
    priority: str
    related_to_type: str | None
    related_to_id: str | None
    actor_id: str | None
    metadata: dict[str, Any]
    status: str
    read_at: datetime | None
    archived_at: datetime | None
    snoozed_until: datetime | None
    created_at: datetime
    updated_at: datetime


NotificationPage = page_of(Notification)


class UnreadCount(msgspec.Struct, kw_only=True):
    count: int


class ReadIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Mark read: either ``ids`` (at most 1000 of the caller's notifications) or
    ``all: true``."""

    ids: Annotated[list[Id], Meta(min_length=1, max_length=1000)] | UnsetType = UNSET
    all: bool | UnsetType = UNSET


class ReadOut(msgspec.Struct, kw_only=True):
    updated: int
    unread_count: int


class SnoozeIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    until: Annotated[datetime, Meta(tz=True)]


class ReplyIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    text: Annotated[str, Meta(min_length=1, max_length=10000)]


class DndIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    start: Hhmm
    end: Hhmm


ChannelSwitches = dict[str, bool]


class PreferencesIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Every field optional: what is sent replaces the stored value, the rest stays.
    ``types`` maps notification type → channel → on/off (only the pairs sent change)."""

    types: dict[str, ChannelSwitches] | UnsetType = UNSET
    time_zone: Annotated[str, Meta(max_length=64)] | None | UnsetType = UNSET
    dnd: DndIn | None | UnsetType = UNSET
    dnd_allow_urgent: bool | UnsetType = UNSET
    digest: str | UnsetType = UNSET
    digest_hour: Annotated[int, Meta(ge=0, le=23)] | UnsetType = UNSET
    email: Email | None | UnsetType = UNSET
    phone: Phone | None | UnsetType = UNSET
    slack_webhook_url: Url | None | UnsetType = UNSET
    teams_webhook_url: Url | None | UnsetType = UNSET


class Dnd(msgspec.Struct, kw_only=True):
    start: str
    end: str


class Preferences(msgspec.Struct, kw_only=True):
    types: dict[str, ChannelSwitches]
    time_zone: str
    time_zone_source: str
    dnd: Dnd | None
    dnd_allow_urgent: bool
    digest: str
    digest_hour: int
    email: str | None
    phone: str | None
    slack_webhook_url: str | None
    teams_webhook_url: str | None


class WatchIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    target_type: str
    target_id: Id


class Watch(msgspec.Struct, kw_only=True):
    id: str
    target_type: str
    target_id: str
    created_at: datetime


class PushKeys(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    p256dh: Annotated[str, Meta(min_length=16, max_length=200, pattern=r"^[A-Za-z0-9_\-=]+$")]
    auth: Annotated[str, Meta(min_length=8, max_length=100, pattern=r"^[A-Za-z0-9_\-=]+$")]


class PushSubscriptionIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """A browser's ``PushSubscription.toJSON()`` (``expirationTime`` is accepted, ignored)."""

    endpoint: Url
    keys: PushKeys


class PushSubscription(msgspec.Struct, kw_only=True):
    id: str
    endpoint: str
    created_at: datetime


class Delivery(msgspec.Struct, kw_only=True):
    id: str
    notification_id: str
    member_id: str
    channel: str
    status: str
    digest: str | None
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    provider_id: str | None
    sent_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
    updated_at: datetime
