"""File imports: the import jobs (``app.imports``) and the landing tables in schema ``raw``.

An import parses a CSV/XLSX file with DuckDB, keeps every rejected row with its reason in
``raw.import_rejects`` and COPYs the accepted rows into ``raw.<object>_import_rows``; batches of
those rows are then written into the operational table (``app.leads``, ``app.call_logs``) with
their events. The raw tables are the landing zone the warehouse checks (Great Expectations) and
are kept after the import finishes.

The raw tables are loaded with ``COPY``, which PostgreSQL refuses on a table with row-level
security, so they are protected differently from ``app``: the API role may only INSERT into
them, and not the ``team_id`` column (its default is the transaction's ``app.team_id``, so a
team can only land rows for itself); it reads and deletes through the ``raw.team_*`` views,
which show the rows of the transaction's team only.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    DateTime,
    Index,
    Integer,
    Numeric,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from warehouse.models.base import Base, TenantMixin, TimestampsMixin, VersionMixin, member_fk

IMPORT_STATUSES = ("queued", "running", "completed", "failed")
IMPORT_OBJECTS = ("leads", "call_logs", "deals")
DUPLICATE_POLICIES = ("skip", "update", "merge")
IMPORT_RUNNERS = ("worker", "cli")
RAW_SCHEMA = "raw"
# The lead fields an import takes from a file, in the table's order, with their kind: the one
# list the DuckDB staging (ingestion/stage.py), the landing table's COPY and the set-based writes
# (api/leads/bulk.py) derive their columns from.
LEAD_FILE_FIELDS: tuple[tuple[str, str], ...] = (
    ("first_name", "text"),
    ("last_name", "text"),
    ("email", "email"),
    ("phone", "text"),
    ("title", "text"),
    ("company_name", "text"),
    ("source", "text"),
    ("status", "status"),
    ("rating", "number"),
    ("reviews_count", "number"),
    ("website", "text"),
    ("website_score", "number"),
    ("industry", "text"),
    ("location", "text"),
)
LEAD_FILE_COLUMNS = tuple(name for name, _ in LEAD_FILE_FIELDS)
# What a staged lead row carries besides the file fields: resolved while writing (owner,
# domain) or kept as is (custom).
LEAD_STAGED_EXTRA = ("owner", "custom", "domain")
# Columns of raw.lead_import_rows in COPY order (``changes``: the created event's changes of the
# file fields, JSON text built while staging).
LEAD_RAW_COLUMNS = (
    "import_id",
    "batch_no",
    "row_no",
    "lead_id",
    "folded",
    *LEAD_FILE_COLUMNS,
    *LEAD_STAGED_EXTRA,
    "changes",
)
_TEAM_DEFAULT = text("current_setting('app.team_id')")


class Import(TenantMixin, TimestampsMixin, VersionMixin, Base):
    """One file import: what was uploaded, how it is mapped, where it stands, what it did."""

    __tablename__ = "imports"
    object: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'queued'"))
    file_name: Mapped[str] = mapped_column(Text, nullable=False)
    file_format: Mapped[str] = mapped_column(Text, nullable=False)
    file_size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    file_sha256: Mapped[str] = mapped_column(Text, nullable=False)
    stored_path: Mapped[str] = mapped_column(Text, nullable=False)
    encoding: Mapped[str | None] = mapped_column(Text)
    delimiter: Mapped[str | None] = mapped_column(Text)
    columns: Mapped[list[Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'[]'::jsonb")
    )
    mapping: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    duplicate_policy: Mapped[str] = mapped_column(
        Text, nullable=False, server_default=text("'skip'")
    )
    runner: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'worker'"))
    batch_size: Mapped[int] = mapped_column(Integer, nullable=False)
    batches_total: Mapped[int | None] = mapped_column(Integer)
    batches_done: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    total_rows: Mapped[int | None] = mapped_column(Integer)
    imported: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    updated: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    skipped_duplicates: Mapped[int] = mapped_column(
        Integer, nullable=False, server_default=text("0")
    )
    rejected: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    error: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(Text)
    staged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        member_fk("created_by"),
        CheckConstraint(f"status IN {IMPORT_STATUSES!r}", name="status"),
        CheckConstraint(f"object IN {IMPORT_OBJECTS!r}", name="object"),
        CheckConstraint(f"duplicate_policy IN {DUPLICATE_POLICIES!r}", name="duplicate_policy"),
        CheckConstraint(f"runner IN {IMPORT_RUNNERS!r}", name="runner"),
        CheckConstraint("batch_size > 0", name="batch_size"),
        Index("ix_imports_team_created", "team_id", "created_at", "id"),
        Index("ix_imports_team_sha256", "team_id", "file_sha256"),
    )


class ImportRowMixin:
    """A row of an import staged in ``raw``, keyed by ``(team_id, import_id, batch_no,
    row_no)`` (first, in this order: COPY writes the columns in table order); the team comes
    from the session's setting."""

    team_id: Mapped[str] = mapped_column(
        Text, primary_key=True, sort_order=-1, server_default=_TEAM_DEFAULT
    )
    import_id: Mapped[str] = mapped_column(Text, primary_key=True, sort_order=-1)
    batch_no: Mapped[int] = mapped_column(Integer, primary_key=True, sort_order=-1)
    row_no: Mapped[int] = mapped_column(Integer, primary_key=True, sort_order=-1)


class LeadImportRow(ImportRowMixin, Base):
    """An accepted lead row of an import (after in-file duplicates were folded into it)."""

    __tablename__ = "lead_import_rows"
    lead_id: Mapped[str] = mapped_column(Text, nullable=False)
    folded: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    first_name: Mapped[str | None] = mapped_column(Text)
    last_name: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    company_name: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[Decimal | None] = mapped_column(Numeric(2, 1))
    reviews_count: Mapped[int | None] = mapped_column(Integer)
    website: Mapped[str | None] = mapped_column(Text)
    website_score: Mapped[int | None] = mapped_column(Integer)
    industry: Mapped[str | None] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(Text)
    custom: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    domain: Mapped[str | None] = mapped_column(Text)
    changes: Mapped[str | None] = mapped_column(Text)
    email_normalized: Mapped[str | None] = mapped_column(Text, Computed("lower(email)"))
    __table_args__ = ({"schema": RAW_SCHEMA},)


class CallLogImportRow(ImportRowMixin, Base):
    """An accepted call-log row of an import (lead, contact and member resolved to ids)."""

    __tablename__ = "call_log_import_rows"
    call_id: Mapped[str] = mapped_column(Text, nullable=False)
    lead_id: Mapped[str | None] = mapped_column(Text)
    contact_id: Mapped[str | None] = mapped_column(Text)
    member_id: Mapped[str | None] = mapped_column(Text)
    direction: Mapped[str | None] = mapped_column(Text)
    phone_number: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duration: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    transcript: Mapped[str | None] = mapped_column(Text)
    recording_url: Mapped[str | None] = mapped_column(Text)
    custom: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    __table_args__ = ({"schema": RAW_SCHEMA},)


# Columns of raw.call_log_import_rows in COPY order (the team comes from the session's setting).
CALL_LOG_RAW_COLUMNS = tuple(
    c.name for c in CallLogImportRow.__table__.columns if c.name != "team_id"
)


class ImportReject(Base):
    """A row an import refused: its original values (in the file's column order) and why."""

    __tablename__ = "import_rejects"
    team_id: Mapped[str] = mapped_column(Text, primary_key=True, server_default=_TEAM_DEFAULT)
    import_id: Mapped[str] = mapped_column(Text, primary_key=True)
    row_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    values: Mapped[list[Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'[]'::jsonb")
    )
    __table_args__ = ({"schema": RAW_SCHEMA},)


__all__ = [
    "DUPLICATE_POLICIES",
    "IMPORT_OBJECTS",
    "IMPORT_RUNNERS",
    "IMPORT_STATUSES",
    "LEAD_FILE_COLUMNS",
    "LEAD_FILE_FIELDS",
    "LEAD_RAW_COLUMNS",
    "LEAD_STAGED_EXTRA",
    "CallLogImportRow",
    "Import",
    "ImportReject",
    "LeadImportRow",
]
