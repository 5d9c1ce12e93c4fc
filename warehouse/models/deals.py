"""Deals and pipelines: pipelines with ordered stage definitions, deals, their contacts and
their stage history.

A pipeline's stages are a validated ``jsonb`` array (``app.pipeline_stages_valid`` checks it is
a non-empty array of objects with unique ``key``s); each stage is
``{key, name, probability, forecast_category, is_won, is_lost, required_fields, rot_days,
auto_advance}``. A deal names its stage by key; the deal service (``api/deals/service.py``) is
the only writer and keeps every deal on a stage of its pipeline.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Double,
    ForeignKeyConstraint,
    Index,
    Numeric,
    SmallInteger,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from warehouse.models.base import (
    Base,
    CustomFieldsMixin,
    SoftDeleteMixin,
    TenantMixin,
    TimestampsMixin,
    VersionMixin,
    member_fk,
)

VALUE_TYPES = ("one_off", "mrr", "arr")
DEAL_STATUSES = ("open", "won", "lost")
FORECAST_CATEGORIES = ("pipeline", "best_case", "commit", "closed", "omitted")


class Pipeline(TenantMixin, TimestampsMixin, VersionMixin, SoftDeleteMixin, Base):
    __tablename__ = "pipelines"
    name: Mapped[str] = mapped_column(Text, nullable=False)
    is_default: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    stages: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False)
    created_by: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        ForeignKeyConstraint(["team_id"], ["app.teams.id"]),
        CheckConstraint("app.pipeline_stages_valid(stages)", name="stages"),
        Index(
            "uq_pipelines_team_default",
            "team_id",
            unique=True,
            postgresql_where=text("is_default AND deleted_at IS NULL"),
        ),
        Index("ix_pipelines_team_created", "team_id", "created_at", "id"),
        Index("ix_pipelines_team_name", "team_id", "name"),
    )


class Deal(TenantMixin, TimestampsMixin, VersionMixin, SoftDeleteMixin, CustomFieldsMixin, Base):
    __tablename__ = "deals"
    name: Mapped[str] = mapped_column(Text, nullable=False)
    value: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    currency: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'USD'"))
    value_type: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'one_off'"))
    probability: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    pipeline_id: Mapped[str] = mapped_column(Text, nullable=False)
    stage: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'open'"))
    position: Mapped[float] = mapped_column(Double, nullable=False, server_default=text("0"))
    stage_changed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    expected_close_date: Mapped[date | None] = mapped_column(Date)
    actual_close_date: Mapped[date | None] = mapped_column(Date)
    owner_id: Mapped[str | None] = mapped_column(Text)
    lead_id: Mapped[str | None] = mapped_column(Text)
    account_id: Mapped[str | None] = mapped_column(Text)
    win_reason: Mapped[str | None] = mapped_column(Text)
    loss_reason: Mapped[str | None] = mapped_column(Text)
    competitor: Mapped[str | None] = mapped_column(Text)
    next_step: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        ForeignKeyConstraint(
            ["team_id", "pipeline_id"], ["app.pipelines.team_id", "app.pipelines.id"]
        ),
        member_fk("owner_id"),
        ForeignKeyConstraint(["team_id", "lead_id"], ["app.leads.team_id", "app.leads.id"]),
        ForeignKeyConstraint(
            ["team_id", "account_id"], ["app.accounts.team_id", "app.accounts.id"]
        ),
        CheckConstraint("probability BETWEEN 0 AND 100", name="probability"),
        CheckConstraint("value IS NULL OR value >= 0", name="value"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency"),
        CheckConstraint(f"value_type IN {VALUE_TYPES!r}", name="value_type"),
        CheckConstraint(f"status IN {DEAL_STATUSES!r}", name="status"),
        Index("ix_deals_team_created", "team_id", "created_at", "id"),
        Index("ix_deals_team_updated", "team_id", "updated_at", "id"),
        # The board: one column page is a range of this index; the totals read it only.
        Index(
            "ix_deals_team_board",
            "team_id",
            "pipeline_id",
            "stage",
            "position",
            "id",
            postgresql_include=["value", "probability"],
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index(
            "ix_deals_team_stage",
            "team_id",
            "stage",
            "pipeline_id",
            postgresql_include=["value", "probability", "deleted_at"],
        ),
        Index("ix_deals_team_status", "team_id", "status"),
        Index("ix_deals_team_owner", "team_id", "owner_id"),
        Index("ix_deals_team_lead", "team_id", "lead_id"),
        Index("ix_deals_team_account", "team_id", "account_id"),
        Index("ix_deals_team_expected_close", "team_id", "expected_close_date"),
        Index("ix_deals_team_actual_close", "team_id", "actual_close_date"),
        Index("ix_deals_team_name", "team_id", "name"),
        Index("ix_deals_team_value", "team_id", "value"),
    )


class DealContact(TenantMixin, Base):
    """A contact on a deal with its role (decision maker, champion, ...). ``id`` is the
    contact's id, so a contact is on a deal at most once."""

    __tablename__ = "deal_contacts"
    deal_id: Mapped[str] = mapped_column(Text, primary_key=True)
    role: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    __table_args__ = (
        ForeignKeyConstraint(
            ["team_id", "deal_id"], ["app.deals.team_id", "app.deals.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(["team_id", "id"], ["app.contacts.team_id", "app.contacts.id"]),
        Index("ix_deal_contacts_team_contact", "team_id", "id"),
    )


class DealStageHistory(TenantMixin, Base):
    """One row per stage a deal entered: ``from_stage`` is null when the deal was created;
    ``duration_in_stage`` is the seconds it spent in ``from_stage``."""

    __tablename__ = "deal_stage_history"
    deal_id: Mapped[str] = mapped_column(Text, nullable=False)
    pipeline_id: Mapped[str] = mapped_column(Text, nullable=False)
    from_stage: Mapped[str | None] = mapped_column(Text)
    to_stage: Mapped[str] = mapped_column(Text, nullable=False)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    changed_by: Mapped[str | None] = mapped_column(Text)
    duration_in_stage: Mapped[int | None] = mapped_column(BigInteger)
    owner_id: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        ForeignKeyConstraint(["team_id", "deal_id"], ["app.deals.team_id", "app.deals.id"]),
        CheckConstraint(
            "duration_in_stage IS NULL OR duration_in_stage >= 0", name="duration_in_stage"
        ),
        Index("ix_deal_stage_history_team_deal", "team_id", "deal_id", "changed_at", "id"),
        Index("ix_deal_stage_history_team_changed", "team_id", "changed_at"),
        Index("ix_deal_stage_history_team_pipeline", "team_id", "pipeline_id", "changed_at"),
    )
