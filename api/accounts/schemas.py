from datetime import datetime

from msgspec import Struct

from api.common.fields import Custom, RecordId, Text, Url
from api.common.structs import partial


class AccountCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    name: Text
    domain: Text | None = None
    industry: Text | None = None
    website: Url | None = None
    owner_id: RecordId | None = None
    custom: Custom = {}


AccountUpdate = partial(AccountCreate, name="AccountUpdate")


class Account(Struct, kw_only=True):
    id: str
    name: str
    domain: str | None
    industry: str | None
    website: str | None
    owner_id: str | None
    custom: dict
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    version: int
