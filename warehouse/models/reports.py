"""Saved reports (issue 19): a definition over the semantic layer (``dbt/semantic/``) — metrics ×
dimensions × filters × time grain × sort — never SQL. ``api/reports`` validates every name
against the semantic layer and compiles the definition; this table only keeps it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import CheckConstraint, ForeignKeyConstraint, Index, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from warehouse.models.base import (
    Base,
    SoftDeleteMixin,
    TenantMixin,
    TimestampsMixin,
    VersionMixin,
    member_fk,
)

REPORT_VISIBILITIES = ("personal", "team")
TIME_GRAINS = ("day", "week", "month", "quarter", "year")
COMPARE_TO = ("previous_period", "same_period_last_year")
CHARTS = ("kpi", "bar", "line", "pie", "funnel", "heatmap", "table")
FILTER_OPS = (
    "eq",
    "ne",
    "gt",
    "gte",
    "lt",
    "lte",
    "in",
    "not_in",
    "contains",
    "between",
    "is_null",
)


class Report(TenantMixin, TimestampsMixin, VersionMixin, SoftDeleteMixin, Base):
    __tablename__ = "reports"
    name: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    metrics: Mapped[list[str]] = mapped_column(JSONB, nullable=False)
    dimensions: Mapped[list[str]] = mapped_column(
        JSONB, nullable=False, server_default=text("'[]'::jsonb")
    )
    filters: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, nullable=False, server_default=text("'[]'::jsonb")
    )
    time_grain: Mapped[str | None] = mapped_column(Text)
    compare_to: Mapped[str | None] = mapped_column(Text)
    sort: Mapped[list[str]] = mapped_column(
        JSONB, nullable=False, server_default=text("'[]'::jsonb")
    )
    chart: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'table'"))
    visibility: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'personal'"))
    template: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        ForeignKeyConstraint(["team_id"], ["app.teams.id"]),
        member_fk("created_by"),
        CheckConstraint(f"visibility IN {REPORT_VISIBILITIES!r}", name="visibility"),
        CheckConstraint(f"time_grain IN {TIME_GRAINS!r}", name="time_grain"),
        CheckConstraint(f"compare_to IN {COMPARE_TO!r}", name="compare_to"),
        CheckConstraint(f"chart IN {CHARTS!r}", name="chart"),
        CheckConstraint("name <> ''", name="name"),
        Index("ix_reports_team_created", "team_id", "created_at", "id"),
        Index("ix_reports_team_updated", "team_id", "updated_at", "id"),
        Index("ix_reports_team_name", "team_id", "name"),
        Index("ix_reports_team_visibility_creator", "team_id", "visibility", "created_by"),
    )
