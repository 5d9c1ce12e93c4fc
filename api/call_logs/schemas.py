from datetime import datetime
from typing import Annotated, Any, Literal

from msgspec import UNSET, Meta, Struct, UnsetType

from api.common.fields import Custom, LongText, Phone, RecordId, Text, Url

Direction = Literal["inbound", "outbound"]
Duration = Annotated[int, Meta(ge=0, le=86_400)]


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


class CallLogUpdate(Struct, forbid_unknown_fields=True, kw_only=True):
    lead_id: RecordId | None | UnsetType = UNSET
    contact_id: RecordId | None | UnsetType = UNSET
    member_id: RecordId | None | UnsetType = UNSET
    direction: Direction | UnsetType = UNSET
    phone_number: Phone | None | UnsetType = UNSET
    started_at: datetime | UnsetType = UNSET
    duration: Duration | UnsetType = UNSET
    outcome: Text | None | UnsetType = UNSET
    notes: LongText | None | UnsetType = UNSET
    transcript: LongText | None | UnsetType = UNSET
    recording_url: Url | None | UnsetType = UNSET
    ai_suggestions: dict[str, Any] | None | UnsetType = UNSET
    custom: Custom | UnsetType = UNSET


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
