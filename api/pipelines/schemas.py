"""Pipelines and their stages as the API shows them."""

from datetime import datetime
from typing import Annotated, Any, Literal

from msgspec import Meta, Struct

from api.common.fields import Text
from api.common.structs import partial
from warehouse.models.deals import FORECAST_CATEGORIES

StageKey = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
Name = Annotated[str, Meta(min_length=1, max_length=200, pattern=r"^[^\x00]*\S[^\x00]*$")]
Probability = Annotated[int, Meta(ge=0, le=100)]
RotDays = Annotated[int, Meta(ge=1, le=3650)]
ForecastCategory = Literal[FORECAST_CATEGORIES]
ConditionOp = Literal["is_set", "is_empty", "eq", "ne", "gt", "gte", "lt", "lte", "in"]
FieldName = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{0,62}(\.[A-Za-z0-9_\-]{1,100})?$")]


class Condition(Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """One condition of a progression rule: on a deal field (``field`` + ``op`` [+ ``value``])
    or on related activity (``activity`` kind, optional ``outcome``, ``min_count``,
    ``within_days``)."""

    field: FieldName | None = None
    op: ConditionOp | None = None
    value: Any = None
    activity: Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{0,39}$")] | None = None
    outcome: Text | None = None
    min_count: Annotated[int, Meta(ge=1, le=10_000)] = 1
    within_days: Annotated[int, Meta(ge=1, le=3650)] | None = None


class AutoAdvance(Struct, forbid_unknown_fields=True, kw_only=True):
    """Enter this stage automatically when every condition holds (from an earlier open stage)."""

    all: Annotated[list[Condition], Meta(min_length=1, max_length=20)]


class StageIn(Struct, forbid_unknown_fields=True, kw_only=True):
    key: StageKey
    name: Name
    probability: Probability
    forecast_category: ForecastCategory | None = None
    """Default: closed for a won stage, omitted for a lost one, pipeline otherwise."""
    is_won: bool = False
    is_lost: bool = False
    required_fields: Annotated[list[FieldName], Meta(max_length=50)] = []
    rot_days: RotDays | None = None
    auto_advance: AutoAdvance | None = None


# A stage's key and its won/lost kind are set when it is added (StageIn, StageAdd).
StageUpdate = partial(
    StageIn,
    name="StageUpdate",
    exclude=("key", "is_won", "is_lost"),
    not_null=("forecast_category",),
)


class Stage(Struct, kw_only=True):
    key: str
    name: str
    probability: int
    forecast_category: ForecastCategory
    is_won: bool
    is_lost: bool
    required_fields: list[str]
    rot_days: int | None
    auto_advance: dict | None


Stages = Annotated[list[StageIn], Meta(min_length=1, max_length=50)]


class PipelineCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name
    is_default: bool = False
    stages: Stages


PipelineUpdate = partial(PipelineCreate, name="PipelineUpdate")


class Pipeline(Struct, kw_only=True):
    id: str
    name: str
    is_default: bool
    stages: list[Stage]
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    version: int


class StageAdd(StageIn, forbid_unknown_fields=True, kw_only=True):
    position: Annotated[int, Meta(ge=0)] | None = None
    """Index among the stages (default: before the first closed stage)."""


class StageOrder(Struct, forbid_unknown_fields=True, kw_only=True):
    keys: Annotated[list[StageKey], Meta(min_length=1, max_length=50)]


class BoardColumn(Struct, kw_only=True):
    stage: str
    name: str
    count: int
    total_value: str
    weighted_value: str
    deals: list[dict]
    next_cursor: str | None


class Board(Struct, kw_only=True):
    pipeline_id: str
    columns: list[BoardColumn]
