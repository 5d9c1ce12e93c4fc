"""Custom objects and fields as the metadata API shows them."""

from datetime import datetime
from typing import Annotated, Any, Literal

from msgspec import Meta, Struct

from api.common.fields import LongText, Text
from api.common.structs import partial
from warehouse.models.custom import (
    DELETE_RULES,
    FIELD_TYPES,
    FORMULA_RETURN_TYPES,
    LIST_VIEW_VISIBILITIES,
    MAX_PICKLIST_OPTIONS,
    RECORD_NAME_TYPES,
)

ApiName = Annotated[str, Meta(min_length=1, max_length=40)]
"""Lowercase snake case (checked with a message by the service: a letter, then letters, digits
and single underscores), not a standard object's or field's name, not an SQL keyword."""
Label = Annotated[str, Meta(min_length=1, max_length=200, pattern=r"^[^\x00]*\S[^\x00]*$")]
FieldType = Literal[FIELD_TYPES]
NameFormat = Annotated[str, Meta(max_length=100, pattern=r"^[^\x00{}]*\{0+\}[^\x00{}]*$")]
"""An auto-number format: ``{0000}`` is the number zero-padded to that width (``PRJ-{0000}``)."""


class RecordName(Struct, forbid_unknown_fields=True, kw_only=True):
    type: Literal[RECORD_NAME_TYPES] = "text"
    format: NameFormat | None = None
    """With ``auto_number``: e.g. ``PRJ-{0000}``."""
    start: Annotated[int, Meta(ge=0, le=10**12)] = 1


class ObjectCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    api_name: ApiName
    label: Label
    plural_label: Label
    description: LongText | None = None
    record_name: RecordName | None = None
    searchable_fields: Annotated[list[ApiName], Meta(max_length=20)] = []
    """Fields the global search matches (``name`` is always searched)."""


ObjectUpdate = partial(ObjectCreate, name="ObjectUpdate", exclude=("api_name", "record_name"))


class CustomObjectOut(Struct, kw_only=True):
    id: str
    api_name: str
    label: str
    plural_label: str
    description: str | None
    record_name: dict[str, Any]
    searchable_fields: list[str]
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    version: int


class PicklistOption(Struct, forbid_unknown_fields=True, kw_only=True):
    value: Annotated[str, Meta(min_length=1, max_length=255, pattern=r"^[^\x00]*$")]
    label: Label | None = None
    active: bool = True


class LookupSpec(Struct, forbid_unknown_fields=True, kw_only=True):
    object: ApiName
    """A custom object's api name, or leads, contacts, accounts, deals, tasks."""
    relationship_name: ApiName | None = None
    """The related list's name on the target (default: this object's api name)."""
    on_delete: Literal[DELETE_RULES] = "restrict"


class FormulaSpec(Struct, forbid_unknown_fields=True, kw_only=True):
    expression: Annotated[str, Meta(min_length=1)]
    return_type: Literal[FORMULA_RETURN_TYPES]


class AutoNumberSpec(Struct, forbid_unknown_fields=True, kw_only=True):
    format: NameFormat
    start: Annotated[int, Meta(ge=0, le=10**12)] = 1


class FieldCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    api_name: ApiName
    label: Label
    type: FieldType
    help_text: Text | None = None
    required: bool = False
    default: Any = None
    unique: bool = False
    indexed: bool = False
    options: Annotated[list[PicklistOption], Meta(max_length=MAX_PICKLIST_OPTIONS)] | None = None
    precision: Annotated[int, Meta(ge=1, le=38)] | None = None
    scale: Annotated[int, Meta(ge=0, le=18)] | None = None
    lookup: LookupSpec | None = None
    formula: FormulaSpec | None = None
    auto_number: AutoNumberSpec | None = None


FieldUpdate = partial(FieldCreate, name="FieldUpdate", exclude=("api_name", "lookup"))


class CustomFieldOut(Struct, kw_only=True):
    id: str
    object: str
    api_name: str
    label: str
    type: str
    help_text: str | None
    required: bool
    default: Any
    unique: bool
    indexed: bool
    options: list[dict[str, Any]] | None
    precision: int | None
    scale: int | None
    lookup: dict[str, Any] | None
    formula: dict[str, Any] | None
    auto_number: dict[str, Any] | None
    index_state: str
    deleted_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int


class RuleCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    name: Label
    condition: Annotated[str, Meta(min_length=1, max_length=3900)]
    """A formula that is true when the record is invalid (ISNEW, ISCHANGED, PRIORVALUE too)."""
    message: Annotated[str, Meta(min_length=1, max_length=1000, pattern=r"^[^\x00]*$")]
    error_field: ApiName | None = None
    """The field the error names (``errors[].field``); none: the record (``$``)."""
    active: bool = True


RuleUpdate = partial(RuleCreate, name="RuleUpdate")


class RuleOut(Struct, kw_only=True):
    id: str
    object: str
    name: str
    condition: str
    message: str
    error_field: str | None
    active: bool
    created_at: datetime
    updated_at: datetime
    version: int


FieldRef = Annotated[str, Meta(min_length=1, max_length=80, pattern=r"^[a-z][a-z0-9_.]*$")]


class LayoutSection(Struct, forbid_unknown_fields=True, kw_only=True):
    label: Label
    fields: Annotated[list[FieldRef], Meta(max_length=500)]


class LayoutCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    object: ApiName
    """A custom object's api name, or leads, contacts, accounts, deals, tasks."""
    name: Label
    sections: Annotated[list[LayoutSection], Meta(min_length=1, max_length=50)]


LayoutUpdate = partial(LayoutCreate, name="LayoutUpdate", exclude=("object",))


class LayoutOut(Struct, kw_only=True):
    id: str
    object: str
    name: str
    sections: list[dict[str, Any]]
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    version: int


FilterValue = Annotated[str, Meta(max_length=1000, pattern=r"^[^\x00]*$")]


class ListViewCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    object: ApiName
    name: Label
    columns: Annotated[list[FieldRef], Meta(max_length=100)] = []
    """The fields shown (the list's ``fields=``); none: every field."""
    filters: Annotated[dict[str, FilterValue], Meta(max_length=50)] = {}
    """``{"hours__gt": "3", "stage": "won"}``: the list API's ``filter[...]`` parameters."""
    sort: Annotated[str, Meta(max_length=200, pattern=r"^[^\x00]*$")] | None = None
    """E.g. ``-hours,name``."""
    visibility: Literal[LIST_VIEW_VISIBILITIES] = "personal"


ListViewUpdate = partial(ListViewCreate, name="ListViewUpdate", exclude=("object",))


class ListViewOut(Struct, kw_only=True):
    id: str
    object: str
    name: str
    columns: list[str]
    filters: dict[str, Any]
    sort: str | None
    visibility: str
    owner_id: str
    created_at: datetime
    updated_at: datetime
    version: int


class SearchHit(Struct, kw_only=True):
    object: str
    id: str
    title: str | None
    rank: int
    updated_at: datetime


class SearchResults(Struct, kw_only=True):
    data: list[SearchHit]
