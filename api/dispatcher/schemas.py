"""What the dispatcher endpoints return (the OpenAPI contract)."""

from datetime import datetime
from typing import Any, Literal

from msgspec import Struct

from api.common.structs import page_of
from warehouse.models.platform import FAILURE_STATUSES

FailureStatus = Literal[FAILURE_STATUSES]


class FailureEvent(Struct, kw_only=True, omit_defaults=True):
    """The event whose delivery failed (``changes`` and ``data`` only on a single failure)."""

    id: int
    object_type: str
    object_id: str
    action: str
    occurred_at: datetime
    actor_type: str
    actor_id: str | None
    request_id: str | None
    changes: dict[str, Any] | None = None
    data: dict[str, Any] | None = None


class Failure(Struct, kw_only=True):
    id: str
    consumer: str
    event_id: int
    status: FailureStatus
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime
    event: FailureEvent


FailureList = page_of(Failure, name="FailureList")


class FailureCounts(Struct, kw_only=True):
    retrying: int
    dead: int


class ConsumerStatus(Struct, kw_only=True):
    name: str
    last_txid: str
    last_event_id: int
    updated_at: datetime
    lag: int
    lag_capped: bool
    oldest_pending_at: datetime | None
    failures: FailureCounts


ConsumerList = page_of(ConsumerStatus, name="ConsumerList")
