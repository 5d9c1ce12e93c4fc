from datetime import datetime

from msgspec import Struct

from api.common.fields import Custom, Email, Phone, RecordId, Text
from api.common.structs import partial


class ContactCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    first_name: Text | None = None
    last_name: Text | None = None
    email: Email | None = None
    phone: Phone | None = None
    title: Text | None = None
    account_id: RecordId | None = None
    owner_id: RecordId | None = None
    custom: Custom = {}


ContactUpdate = partial(ContactCreate, name="ContactUpdate")


class Contact(Struct, kw_only=True):
    id: str
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    title: str | None
    account_id: str | None
    owner_id: str | None
    lead_id: str | None
    custom: dict
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    version: int
