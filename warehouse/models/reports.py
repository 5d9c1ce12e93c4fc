"""Saved reports (issue 19): a definition over the semantic layer (``dbt/semantic/``) — metrics ×
dimensions × filters × time grain × sort — never SQL. ``api/reports`` validates every name
against the semantic layer and compiles the definition; this table only keeps it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from warehouse.models.base import (
    Base,
    SoftDeleteMixin,
    TenantMixin,
    TimestampsMixin,
    VersionMixin,
    member_fk,
    now_default,
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


class Dashboard(TenantMixin, TimestampsMixin, VersionMixin, SoftDeleteMixin, Base):
    """Saved reports laid out on a 12-column grid: ``layout`` is
    ``[{report_id, x, y, w, h, chart}]`` (validated by ``api/reports/dashboards.py``)."""

    __tablename__ = "dashboards"
    name: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    layout: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, nullable=False, server_default=text("'[]'::jsonb")
    )
    visibility: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'personal'"))
    template: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        ForeignKeyConstraint(["team_id"], ["app.teams.id"]),
        member_fk("created_by"),
        CheckConstraint(f"visibility IN {REPORT_VISIBILITIES!r}", name="visibility"),
        CheckConstraint("name <> ''", name="name"),
        Index("ix_dashboards_team_created", "team_id", "created_at", "id"),
        Index("ix_dashboards_team_updated", "team_id", "updated_at", "id"),
        Index("ix_dashboards_team_name", "team_id", "name"),
        Index("ix_dashboards_team_visibility_creator", "team_id", "visibility", "created_by"),
    )


class ShareLink(TenantMixin, Base):
    """A read-only link to a report or dashboard: only the token's keyed hash is stored; the
    link answers until it expires or is revoked (``app.share_link_lookup``)."""

    __tablename__ = "share_links"
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    report_id: Mapped[str | None] = mapped_column(Text)
    dashboard_id: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = now_default()
    __table_args__ = (
        ForeignKeyConstraint(["team_id"], ["app.teams.id"]),
        member_fk("created_by"),
        ForeignKeyConstraint(["team_id", "report_id"], ["app.reports.team_id", "app.reports.id"]),
        ForeignKeyConstraint(
            ["team_id", "dashboard_id"], ["app.dashboards.team_id", "app.dashboards.id"]
        ),
        CheckConstraint("(report_id IS NULL) <> (dashboard_id IS NULL)", name="target"),
        Index("uq_share_links_token_hash", "token_hash", unique=True),
        Index("ix_share_links_team_created", "team_id", "created_at", "id"),
        Index("ix_share_links_team_report", "team_id", "report_id"),
        Index("ix_share_links_team_dashboard", "team_id", "dashboard_id"),
    )
