"""Report bodies: a definition names semantic-layer metrics and dimensions (never SQL).

``op`` and filter values are checked against the semantic layer by :mod:`api.reports.compiler`
(a 400 naming the filter), not here, so the answer names the dimension and the expected type.
"""

from datetime import datetime
from typing import Annotated, Any, Literal

from msgspec import Meta, Struct

from api.common.fields import Text
from api.common.structs import partial
from warehouse.models.reports import CHARTS, COMPARE_TO, REPORT_VISIBILITIES, TIME_GRAINS

Name = Annotated[str, Meta(min_length=1, max_length=100)]
SortKey = Annotated[str, Meta(min_length=1, max_length=101)]
Visibility = Literal[REPORT_VISIBILITIES]  # type: ignore[valid-type]
Grain = Literal[TIME_GRAINS]  # type: ignore[valid-type]
Compare = Literal[COMPARE_TO]  # type: ignore[valid-type]
Chart = Literal[CHARTS]  # type: ignore[valid-type]


class FilterIn(Struct, forbid_unknown_fields=True, kw_only=True):
    dimension: Name
    op: Name
    value: Any = None


class ReportCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    name: Text
    description: Text | None = None
    metrics: Annotated[list[Name], Meta(max_length=50)]
    dimensions: Annotated[list[Name], Meta(max_length=20)] = []
    filters: Annotated[list[FilterIn], Meta(max_length=50)] = []
    time_grain: Grain | None = None
    compare_to: Compare | None = None
    sort: Annotated[list[SortKey], Meta(max_length=20)] = []
    chart: Chart = "table"
    visibility: Visibility = "personal"


ReportUpdate = partial(ReportCreate, name="ReportUpdate", not_null=("metrics", "chart"))

RunIn = partial(ReportCreate, name="RunIn")
"""An unsaved definition (``POST /api/v1/reports/run``): the fields of a report, each optional
(metrics are still required by the semantic check)."""


class Report(Struct, kw_only=True):
    id: str
    name: str
    description: str | None
    metrics: list[str]
    dimensions: list[str]
    filters: list[dict[str, Any]]
    time_grain: str | None
    compare_to: str | None
    sort: list[str]
    chart: str
    visibility: str
    template: str | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    version: int


class ColumnOut(Struct, kw_only=True):
    name: str
    label: str
    type: str
    role: str


class RunOut(Struct, kw_only=True):
    columns: list[ColumnOut]
    data: list[dict[str, Any]]
    next_cursor: str | None
    has_more: bool
    totals: dict[str, Any] | None
    subtotals: list[dict[str, Any]] | None
    data_as_of: datetime | None


class DrillIn(Struct, forbid_unknown_fields=True, kw_only=True):
    metric: Name
    row: dict[str, Any] = {}


class CatalogueItem(Struct, kw_only=True):
    name: str
    label: str
    description: str
    type: str


class FromTemplateIn(Struct, forbid_unknown_fields=True, kw_only=True):
    name: Text | None = None
    visibility: Visibility = "personal"


class Widget(Struct, forbid_unknown_fields=True, kw_only=True):
    report_id: Annotated[str, Meta(min_length=1, max_length=100)]
    x: Annotated[int, Meta(ge=0, lt=12)] = 0
    y: Annotated[int, Meta(ge=0, le=1000)] = 0
    w: Annotated[int, Meta(ge=1, le=12)] = 6
    h: Annotated[int, Meta(ge=1, le=24)] = 4
    chart: Chart | None = None


class DashboardCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    name: Text
    description: Text | None = None
    visibility: Visibility = "personal"
    layout: Annotated[list[Widget], Meta(max_length=50)] = []


DashboardUpdate = partial(DashboardCreate, name="DashboardUpdate", not_null=("layout",))


class Dashboard(Struct, kw_only=True):
    id: str
    name: str
    description: str | None
    visibility: str
    layout: list[dict[str, Any]]
    template: str | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    version: int


class ShareLinkIn(Struct, forbid_unknown_fields=True, kw_only=True):
    report_id: Annotated[str, Meta(max_length=100)] | None = None
    dashboard_id: Annotated[str, Meta(max_length=100)] | None = None
    expires_at: datetime


class ShareLink(Struct, kw_only=True):
    id: str
    url: str
    token: str
    report_id: str | None
    dashboard_id: str | None
    expires_at: datetime
