"""The core CRM records: accounts, contacts, leads and call logs."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
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

#: A lead's status (the check constraint ``status``); the API's ``LeadStatus``, the lead
#: explorer's filter and the data-quality suites derive from it.
LEAD_STATUSES = ("new", "contacted", "qualified", "unqualified", "converted")
#: The statuses a file import may set: a lead becomes converted only by converting it.
IMPORTABLE_LEAD_STATUSES = tuple(s for s in LEAD_STATUSES if s != "converted")
#: A call's direction (the check constraint ``direction``).
CALL_DIRECTIONS = ("inbound", "outbound")
#: The longest call the API and imports accept, in seconds (a day).
MAX_CALL_SECONDS = 86_400


class StandardObject(
    TenantMixin, TimestampsMixin, VersionMixin, SoftDeleteMixin, CustomFieldsMixin
):
    created_by: Mapped[str | None] = mapped_column(Text)


class PersonColumns:
    """A person's name and how to reach them: the first columns of contacts and leads."""

    first_name: Mapped[str | None] = mapped_column(Text, sort_order=-1)
    last_name: Mapped[str | None] = mapped_column(Text, sort_order=-1)
    email: Mapped[str | None] = mapped_column(Text, sort_order=-1)
    phone: Mapped[str | None] = mapped_column(Text, sort_order=-1)
    title: Mapped[str | None] = mapped_column(Text, sort_order=-1)


class Account(StandardObject, Base):
    __tablename__ = "accounts"
    name: Mapped[str] = mapped_column(Text, nullable=False)
    domain: Mapped[str | None] = mapped_column(Text)
    industry: Mapped[str | None] = mapped_column(Text)
    website: Mapped[str | None] = mapped_column(Text)
    owner_id: Mapped[str | None] = mapped_column(Text)
    domain_normalized: Mapped[str | None] = mapped_column(Text, Computed("lower(domain)"))
    __table_args__ = (
        member_fk("owner_id"),
        Index("ix_accounts_team_created", "team_id", "created_at", "id"),
        Index("ix_accounts_team_owner", "team_id", "owner_id"),
        Index("ix_accounts_team_domain", "team_id", "domain_normalized"),
        Index("ix_accounts_team_name", "team_id", "name"),
    )


class Contact(PersonColumns, StandardObject, Base):
    __tablename__ = "contacts"
    account_id: Mapped[str | None] = mapped_column(Text)
    owner_id: Mapped[str | None] = mapped_column(Text)
    lead_id: Mapped[str | None] = mapped_column(Text)
    email_normalized: Mapped[str | None] = mapped_column(Text, Computed("lower(email)"))
    __table_args__ = (
        ForeignKeyConstraint(
            ["team_id", "account_id"], ["app.accounts.team_id", "app.accounts.id"]
        ),
        member_fk("owner_id"),
        Index("ix_contacts_team_created", "team_id", "created_at", "id"),
        Index("ix_contacts_team_owner", "team_id", "owner_id"),
        Index("ix_contacts_team_account", "team_id", "account_id"),
        Index(
            "uq_contacts_team_email",
            "team_id",
            "email_normalized",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("ix_contacts_team_last_name", "team_id", "last_name"),
    )


class Lead(PersonColumns, StandardObject, Base):
    __tablename__ = "leads"
    company_name: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'new'"))
    rating: Mapped[Decimal | None] = mapped_column(Numeric(2, 1))
    reviews_count: Mapped[int | None] = mapped_column(Integer)
    website: Mapped[str | None] = mapped_column(Text)
    website_score: Mapped[int | None] = mapped_column(Integer)
    industry: Mapped[str | None] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(Text)
    owner_id: Mapped[str | None] = mapped_column(Text)
    converted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    converted_contact_id: Mapped[str | None] = mapped_column(Text)
    converted_account_id: Mapped[str | None] = mapped_column(Text)
    merged_into_id: Mapped[str | None] = mapped_column(Text)
    email_normalized: Mapped[str | None] = mapped_column(Text, Computed("lower(email)"))
    __table_args__ = (
        member_fk("owner_id"),
        ForeignKeyConstraint(
            ["team_id", "converted_contact_id"], ["app.contacts.team_id", "app.contacts.id"]
        ),
        ForeignKeyConstraint(
            ["team_id", "converted_account_id"], ["app.accounts.team_id", "app.accounts.id"]
        ),
        ForeignKeyConstraint(["team_id", "merged_into_id"], ["app.leads.team_id", "app.leads.id"]),
        CheckConstraint(f"status IN {LEAD_STATUSES!r}", name="status"),
        CheckConstraint("rating IS NULL OR (rating >= 0 AND rating <= 5)", name="rating"),
        CheckConstraint("reviews_count IS NULL OR reviews_count >= 0", name="reviews_count"),
        CheckConstraint(
            "website_score IS NULL OR (website_score BETWEEN 0 AND 100)", name="website_score"
        ),
        Index("ix_leads_team_created", "team_id", "created_at", "id"),
        Index("ix_leads_team_status", "team_id", "status"),
        Index("ix_leads_team_owner", "team_id", "owner_id"),
        Index("ix_leads_team_source", "team_id", "source"),
        Index(
            "uq_leads_team_email",
            "team_id",
            "email_normalized",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("ix_leads_team_company", "team_id", "company_name"),
        Index("ix_leads_team_industry", "team_id", "industry"),
        Index("ix_leads_team_updated", "team_id", "updated_at", "id"),
    )


class CallLog(StandardObject, Base):
    __tablename__ = "call_logs"
    lead_id: Mapped[str | None] = mapped_column(Text)
    contact_id: Mapped[str | None] = mapped_column(Text)
    member_id: Mapped[str | None] = mapped_column(Text)
    direction: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'outbound'"))
    phone_number: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    duration: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    outcome: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    transcript: Mapped[str | None] = mapped_column(Text)
    recording_url: Mapped[str | None] = mapped_column(Text)
    ai_suggestions: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    __table_args__ = (
        ForeignKeyConstraint(["team_id", "lead_id"], ["app.leads.team_id", "app.leads.id"]),
        ForeignKeyConstraint(
            ["team_id", "contact_id"], ["app.contacts.team_id", "app.contacts.id"]
        ),
        member_fk("member_id"),
        CheckConstraint("duration >= 0", name="duration"),
        CheckConstraint(f"direction IN {CALL_DIRECTIONS!r}", name="direction"),
        Index("ix_call_logs_team_created", "team_id", "created_at", "id"),
        Index("ix_call_logs_team_lead", "team_id", "lead_id"),
        Index("ix_call_logs_team_contact", "team_id", "contact_id"),
        Index("ix_call_logs_team_member", "team_id", "member_id"),
        Index("ix_call_logs_team_started", "team_id", "started_at"),
    )
