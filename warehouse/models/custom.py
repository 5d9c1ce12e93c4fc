"""Custom objects and fields: the metadata (objects, fields) and the records of custom objects.

Records of every custom object share one table, ``custom_records``, their field values in
``data`` (jsonb, keyed by field api name); standard objects keep theirs in their ``custom``
column. Indexed and unique fields get expression indexes built concurrently (see
``api/common/custom_fields.py`` and docs/architecture.md, "Custom objects").
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    Integer,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from warehouse.models.base import (
    Base,
    SoftDeleteMixin,
    TenantMixin,
    TimestampsMixin,
    VersionMixin,
    member_fk,
)

#: The types a custom field may have.
FIELD_TYPES = (
    "text",
    "long_text",
    "integer",
    "decimal",
    "currency",
    "percent",
    "date",
    "datetime",
    "boolean",
    "picklist",
    "multi_picklist",
    "lookup",
    "formula",
    "auto_number",
    "url",
    "email",
    "phone",
)
#: What a formula field's expression returns.
FORMULA_RETURN_TYPES = ("text", "number", "currency", "percent", "date", "datetime", "boolean")
#: What deleting a record does to the records whose lookup names it.
DELETE_RULES = ("restrict", "set_null", "cascade")
#: How a custom record gets its name.
RECORD_NAME_TYPES = ("text", "auto_number")
#: The standard objects that take custom fields (their API plural).
STANDARD_OBJECTS = ("leads", "contacts", "accounts", "deals", "tasks")
#: Index states of an indexed or unique field (built concurrently after the metadata commits).
INDEX_STATES = ("none", "building", "ready")
#: Type changes that keep every stored value valid as it is (no rewrite of the records).
SAFE_CONVERSIONS = frozenset(
    {
        ("text", "long_text"),
        ("url", "text"),
        ("url", "long_text"),
        ("email", "text"),
        ("email", "long_text"),
        ("phone", "text"),
        ("phone", "long_text"),
        ("picklist", "text"),
        ("picklist", "long_text"),
        ("picklist", "multi_picklist"),
        ("integer", "decimal"),
        ("integer", "currency"),
        ("integer", "percent"),
        ("decimal", "currency"),
        ("decimal", "percent"),
        ("currency", "decimal"),
        ("percent", "decimal"),
    }
)
#: Limits (a create beyond one answers 422 naming it).
MAX_OBJECTS = 200
MAX_FIELDS = 500
MAX_FORMULA_LENGTH = 3900
MAX_PICKLIST_OPTIONS = 1000
#: Days a deleted field keeps its values and can be restored.
FIELD_RESTORE_DAYS = 15


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN {values!r}"


class CustomObject(TenantMixin, TimestampsMixin, VersionMixin, SoftDeleteMixin, Base):
    __tablename__ = "custom_objects"
    api_name: Mapped[str] = mapped_column(Text, nullable=False)
    label: Mapped[str] = mapped_column(Text, nullable=False)
    plural_label: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    record_name: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("""'{"type": "text"}'::jsonb""")
    )
    searchable_fields: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default=text("'{}'")
    )
    created_by: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        Index(
            "uq_custom_objects_team_api_name",
            "team_id",
            "api_name",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )


class CustomField(TenantMixin, TimestampsMixin, VersionMixin, SoftDeleteMixin, Base):
    """A field of a custom object (``object_id`` its id) or of a standard one (its plural)."""

    __tablename__ = "custom_fields"
    object_id: Mapped[str] = mapped_column(Text, nullable=False)
    api_name: Mapped[str] = mapped_column(Text, nullable=False)
    label: Mapped[str] = mapped_column(Text, nullable=False)
    type: Mapped[str] = mapped_column(Text, nullable=False)
    help_text: Mapped[str | None] = mapped_column(Text)
    required: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    default: Mapped[Any] = mapped_column(JSONB)
    unique: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    indexed: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    options: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    precision: Mapped[int | None] = mapped_column(Integer)
    scale: Mapped[int | None] = mapped_column(Integer)
    lookup: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    formula: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    auto_number: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    index_state: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'none'"))
    created_by: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        CheckConstraint(_in("type", FIELD_TYPES), name="type"),
        CheckConstraint(_in("index_state", INDEX_STATES), name="index_state"),
        # A deleted field keeps its name (its values are still stored) until it is purged.
        Index(
            "uq_custom_fields_team_object_api_name", "team_id", "object_id", "api_name", unique=True
        ),
    )


class CustomCounter(TenantMixin, Base):
    """The next number of an auto-number (an object's record name or a field; ``id`` its id)."""

    __tablename__ = "custom_counters"
    next_value: Mapped[int] = mapped_column(BigInteger, nullable=False)


class CustomRecord(TenantMixin, TimestampsMixin, VersionMixin, SoftDeleteMixin, Base):
    __tablename__ = "custom_records"
    object_id: Mapped[str] = mapped_column(Text, nullable=False)
    name: Mapped[str | None] = mapped_column(Text)
    owner_id: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    created_by: Mapped[str | None] = mapped_column(Text)
    updated_by: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        ForeignKeyConstraint(
            ["team_id", "object_id"], ["app.custom_objects.team_id", "app.custom_objects.id"]
        ),
        member_fk("owner_id"),
        Index("ix_custom_records_team_object_created", "team_id", "object_id", "created_at", "id"),
        Index("ix_custom_records_team_object_name", "team_id", "object_id", "name"),
        Index("ix_custom_records_team_owner", "team_id", "owner_id"),
    )


class CustomValidationRule(TenantMixin, TimestampsMixin, VersionMixin, SoftDeleteMixin, Base):
    """A rule of an object (a custom object's id or a standard plural): ``condition`` is a
    formula that is true when a record is invalid; ``message`` answers it, on ``error_field``."""

    __tablename__ = "custom_validation_rules"
    object_id: Mapped[str] = mapped_column(Text, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    condition: Mapped[str] = mapped_column(Text, nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    error_field: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    created_by: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        Index(
            "uq_custom_validation_rules_team_object_name",
            "team_id",
            "object_id",
            "name",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )


#: Who sees a list view: its owner only, or the whole team.
LIST_VIEW_VISIBILITIES = ("personal", "team")


class Layout(TenantMixin, TimestampsMixin, VersionMixin, SoftDeleteMixin, Base):
    """A page layout of an object (a custom object's api name or a standard plural):
    ``sections`` is ``[{label, fields: [api names, in order]}]``."""

    __tablename__ = "layouts"
    object: Mapped[str] = mapped_column(Text, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    sections: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False)
    created_by: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (Index("ix_layouts_team_object", "team_id", "object"),)


class ListView(TenantMixin, TimestampsMixin, VersionMixin, SoftDeleteMixin, Base):
    """A saved list of an object: ``columns``, ``filters`` (``{"field__op": "value"}``, the
    list API's ``filter[...]`` parameters), ``sort``; personal (its owner's) or the team's."""

    __tablename__ = "list_views"
    object: Mapped[str] = mapped_column(Text, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    columns: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default=text("'{}'")
    )
    filters: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    sort: Mapped[str | None] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'personal'"))
    owner_id: Mapped[str] = mapped_column(Text, nullable=False)
    created_by: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        member_fk("owner_id"),
        CheckConstraint(_in("visibility", LIST_VIEW_VISIBILITIES), name="visibility"),
        Index("ix_list_views_team_object", "team_id", "object"),
        Index("ix_list_views_team_owner", "team_id", "owner_id"),
    )
