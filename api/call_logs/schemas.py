from datetime import datetime
from typing import Annotated, Any, Literal

from msgspec import Meta, Struct

from api.common.fields import Custom, LongText, Phone, RecordId, Text, Url
from api.common.structs import partial
from warehouse.models.crm import CALL_DIRECTIONS, MAX_CALL_SECONDS

Direction = Literal[CALL_DIRECTIONS]
Duration = Annotated[int, Meta(ge=0, le=MAX_CALL_SECONDS)]


class CallLogCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    lead_id: RecordId | None = None
    contact_id: RecordId | None = None
    member_id: RecordId | None = None
    direction: Direction = "outbound"
    phone_number: Phone | None = None
    started_at: datetime | None = None
    duration: Duration = 0
    outcome: Text | None = None
    notes: LongText | None = None
    transcript: LongText | None = None
    recording_url: Url | None = None
    ai_suggestions: dict[str, Any] | None = None
    custom: Custom = {}


# started_at: null on create means now; an update cannot clear it.
CallLogUpdate = partial(CallLogCreate, name="CallLogUpdate", not_null=("started_at",))


class CallLog(Struct, kw_only=True):
    id: str
    lead_id: str | None
    contact_id: str | None
    member_id: str | None
    direction: Direction
    phone_number: str | None
    started_at: datetime
    duration: int
    outcome: str | None
    notes: str | None
    transcript: str | None
    recording_url: str | None
    ai_suggestions: dict[str, Any] | None
    custom: dict
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    version: int
