from datetime import datetime

from msgspec import UNSET, Struct, UnsetType

from api.common.fields import Custom, RecordId, Text, Url


class AccountCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    name: Text
    domain: Text | None = None
    industry: Text | None = None
    website: Url | None = None
    owner_id: RecordId | None = None
    custom: Custom = {}


class AccountUpdate(Struct, forbid_unknown_fields=True, kw_only=True):
    name: Text | UnsetType = UNSET
    domain: Text | None | UnsetType = UNSET
    industry: Text | None | UnsetType = UNSET
    website: Url | None | UnsetType = UNSET
    owner_id: RecordId | None | UnsetType = UNSET
    custom: Custom | UnsetType = UNSET


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
