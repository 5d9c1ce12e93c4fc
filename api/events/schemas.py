"""The public event envelope and the event stream's page (the OpenAPI contract)."""

from datetime import datetime
from typing import Any

from msgspec import Struct

from api.common.structs import page_of


class EventData(Struct, kw_only=True):
    object: str
    """The object type: ``lead``, ``deal``, ..."""
    id: str
    """The record's id."""
    changes: dict[str, Any]
    """``{field: [before, after]}``."""
    record: dict[str, Any] | None
    """The record as of this event."""


class EventEnvelope(Struct, kw_only=True):
    id: str
    """``evt_<n>``: stable, the ``webhook-id`` of every delivery of this event."""
    type: str
    """``<object>.<action>``: ``lead.created``, ``deal.stage_changed``, ..."""
    occurred_at: datetime
    team_id: str
    data: EventData


#: ``next_cursor`` is passed as ``after`` to read on (also when ``has_more`` is false: new
#: events come later).
EventPage = page_of(EventEnvelope, name="EventPage")
