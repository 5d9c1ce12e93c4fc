"""Deals as the API shows them. Money is a decimal: sent as a JSON string or number, returned
as a string."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from msgspec import UNSET, Meta, Struct, UnsetType

from api.common.fields import Custom, RecordId, Text
from api.common.structs import partial, pick
from api.pipelines.schemas import Probability, StageKey
from warehouse.models.deals import DEAL_STATUSES, VALUE_TYPES

ValueType = Literal[VALUE_TYPES]
Currency = Annotated[str, Meta(pattern=r"^[A-Z]{3}$")]
DealName = Annotated[str, Meta(min_length=1, max_length=500, pattern=r"^[^\x00]*\S[^\x00]*$")]


class DealContactIn(Struct, forbid_unknown_fields=True, kw_only=True):
    contact_id: RecordId
    role: Text | None = None


Contacts = Annotated[list[DealContactIn], Meta(max_length=100)]


class DealCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    name: DealName
    value: Decimal | None = None
    currency: Currency = "USD"
    value_type: ValueType = "one_off"
    probability: Probability | None = None
    """Default: the stage's probability."""
    pipeline_id: RecordId | None = None
    """Default: the team's default pipeline."""
    stage: StageKey | None = None
    """Default: the pipeline's first stage."""
    expected_close_date: date | None = None
    actual_close_date: date | None = None
    owner_id: RecordId | None = None
    lead_id: RecordId | None = None
    account_id: RecordId | None = None
    contacts: Contacts = []
    win_reason: Text | None = None
    loss_reason: Text | None = None
    competitor: Text | None = None
    next_step: Text | None = None
    source: Text | None = None
    custom: Custom = {}


DealUpdate = partial(
    DealCreate,
    name="DealUpdate",
    # null on create takes a default (the stage's probability, the default pipeline, the
    # first stage); a deal always has them, so an update cannot clear them.
    not_null=("probability", "pipeline_id", "stage"),
    # Move a won or lost deal back to an open stage (required for that).
    extra={"reopen": bool},
)


class DealContact(Struct, kw_only=True):
    contact_id: str
    role: str | None


class Deal(Struct, kw_only=True):
    id: str
    name: str
    value: str | None
    currency: str
    value_type: ValueType
    probability: int
    weighted_value: str | None
    pipeline_id: str
    stage: str
    status: Literal[DEAL_STATUSES]
    position: float
    stage_changed_at: datetime
    days_in_stage: int
    is_rotting: bool
    expected_close_date: date | None
    actual_close_date: date | None
    owner_id: str | None
    lead_id: str | None
    account_id: str | None
    contacts: list[DealContact]
    win_reason: str | None
    loss_reason: str | None
    competitor: str | None
    next_step: str | None
    source: str | None
    custom: dict
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    version: int


class MoveIn(Struct, forbid_unknown_fields=True, kw_only=True):
    stage: StageKey
    position: Annotated[int, Meta(ge=0, le=1_000_000)] | None = None
    """Index in the target column (0: top); default: the end of the column."""
    probability: Probability | UnsetType = UNSET
    win_reason: Text | None | UnsetType = UNSET
    loss_reason: Text | None | UnsetType = UNSET
    actual_close_date: date | None | UnsetType = UNSET
    reopen: bool = False


class StageChange(Struct, kw_only=True):
    from_stage: str | None
    to_stage: str
    changed_at: datetime
    changed_by: str | None
    duration_in_stage: int | None


class StageHistory(Struct, kw_only=True):
    data: list[StageChange]


class VelocityRow(Struct, kw_only=True):
    pipeline_id: str
    owner_id: str | None = None
    stage: str
    transitions: int
    average_days: float
    median_days: float


class Velocity(Struct, kw_only=True):
    date_from: date
    date_to: date
    by_pipeline: list[VelocityRow]
    by_owner: list[VelocityRow]


class WeightedRow(Struct, kw_only=True):
    pipeline_id: str
    currency: str
    open_deals: int
    total_value: str
    weighted_value: str


class WeightedPipeline(Struct, kw_only=True):
    data: list[WeightedRow]


ConvertDeal = pick(
    DealCreate,
    name="ConvertDeal",
    doc="The deal a lead conversion opens (linked to the lead, its contact and account).",
    fields=[
        "name",
        "value",
        "currency",
        "value_type",
        "probability",
        "pipeline_id",
        "stage",
        "expected_close_date",
        "next_step",
        "custom",
    ],
    # Default: the lead's company (or name) + " deal".
    override={"name": (DealName | None, None)},
)
