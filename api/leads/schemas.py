from datetime import datetime
from typing import Annotated, Literal

from msgspec import Meta, Struct

from api.common.fields import Custom, RecordId, Text, Url
from api.common.person import Person, PersonCreate
from api.common.structs import partial
from api.deals.schemas import ConvertDeal
from warehouse.models.crm import LEAD_STATUSES

LeadStatus = Literal[LEAD_STATUSES]
Rating = Annotated[float, Meta(ge=0, le=5)]
ReviewsCount = Annotated[int, Meta(ge=0, le=100_000_000)]
WebsiteScore = Annotated[int, Meta(ge=0, le=100)]


class LeadCreate(PersonCreate, forbid_unknown_fields=True, kw_only=True):
    company_name: Text | None = None
    source: Text | None = None
    status: LeadStatus = "new"
    rating: Rating | None = None
    reviews_count: ReviewsCount | None = None
    website: Url | None = None
    website_score: WebsiteScore | None = None
    industry: Text | None = None
    location: Text | None = None
    owner_id: RecordId | None = None
    custom: Custom = {}


LeadUpdate = partial(LeadCreate, name="LeadUpdate")


class Lead(Person, kw_only=True):
    company_name: str | None
    source: str | None
    status: LeadStatus
    rating: float | None
    reviews_count: int | None
    website: str | None
    website_score: int | None
    industry: str | None
    location: str | None
    owner_id: str | None
    custom: dict
    converted_at: datetime | None
    converted_contact_id: str | None
    converted_account_id: str | None
    merged_into_id: str | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    version: int


class MergeIn(Struct, forbid_unknown_fields=True, kw_only=True):
    other_id: RecordId


class ConvertIn(Struct, forbid_unknown_fields=True, kw_only=True):
    account_id: RecordId | None = None
    """Link the new contact to this existing account instead of creating or matching one."""
    create_account: bool = True
    """Create an account from the lead's company when no account matches its domain."""
    owner_id: RecordId | None = None
    deal: ConvertDeal | None = None
    """Also open a deal (through the deal service's rules) for the lead, contact and account."""


class ConvertOut(Struct, kw_only=True):
    lead: Lead
    contact: dict
    account: dict | None
    linked_contact: bool = False
    """True when a live contact with the lead's email existed and was linked instead."""
    deal: dict | None = None
