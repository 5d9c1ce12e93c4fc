"""Webhook endpoints and their deliveries (the OpenAPI contract)."""

from datetime import datetime
from typing import Annotated, Any, Literal

from msgspec import Meta, Struct

from api.common.fields import Text, Url
from api.common.structs import page_of, partial
from warehouse.models.webhooks import DELIVERY_STATUSES

EventPattern = Annotated[str, Meta(pattern=r"^(\*|[a-z_]+\.(\*|[a-z_]+))$", max_length=100)]
DeliveryStatus = Literal[DELIVERY_STATUSES]


class WebhookCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    url: Url
    """Where events are POSTed: https (a public address)."""
    events: Annotated[list[EventPattern], Meta(min_length=1, max_length=100)]
    """Event types, with wildcards: ``["deal.*", "lead.created"]`` or ``["*"]``."""
    description: Text | None = None
    enabled: bool = True


WebhookUpdate = partial(WebhookCreate, name="WebhookUpdate")


class Webhook(Struct, kw_only=True):
    id: str
    url: str
    events: list[str]
    description: str | None
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    version: int


class WebhookWithSecret(Webhook, kw_only=True):
    secret: str
    """``whsec_...``: shown only in this answer (create, rotate-secret)."""


WebhookPage = page_of(Webhook)


class Delivery(Struct, kw_only=True):
    id: str
    event_id: str
    """The envelope's id (the ``webhook-id`` header)."""
    event_type: str
    attempt: int
    """Attempts made so far."""
    status: DeliveryStatus
    response_code: int | None
    duration_ms: int | None
    attempted_at: datetime | None
    next_attempt_at: datetime | None
    created_at: datetime


DeliveryPage = page_of(Delivery)


class Attempt(Struct, kw_only=True):
    attempt: int
    status: Literal["succeeded", "failed"]
    request: dict[str, Any]
    """``url``, ``headers`` and ``body`` as sent."""
    response_code: int | None
    response_body: str | None
    """The first 2 KB of the answer."""
    error: str | None
    duration_ms: int
    attempted_at: datetime


class DeliveryDetail(Delivery, kw_only=True):
    webhook_id: str
    payload: dict[str, Any]
    attempts: list[Attempt]


class ReplayIn(Struct, forbid_unknown_fields=True, kw_only=True):
    since: datetime
    """Failed deliveries of events created from this time on are sent again."""


class ReplayOut(Struct, kw_only=True):
    replayed: int
