from datetime import datetime

from api.common.fields import Custom, RecordId
from api.common.person import Person, PersonCreate
from api.common.structs import partial


class ContactCreate(PersonCreate, forbid_unknown_fields=True, kw_only=True):
    account_id: RecordId | None = None
    owner_id: RecordId | None = None
    custom: Custom = {}


ContactUpdate = partial(ContactCreate, name="ContactUpdate")


class Contact(Person, kw_only=True):
    account_id: str | None
    owner_id: str | None
    lead_id: str | None
    custom: dict
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    version: int
