"""Declarative base and the column conventions every tenant table shares."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA = "app"

convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(schema=SCHEMA, naming_convention=convention)
    type_annotation_map = {
        dict[str, Any]: JSONB,
        datetime: DateTime(timezone=True),
        int: Integer,
        str: Text,
    }


def now_default() -> Any:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


def member_fk(column: str, *, ondelete: str | None = None) -> ForeignKeyConstraint:
    """``(team_id, column)`` names a member of the same team (``app.team_members``)."""
    return ForeignKeyConstraint(
        ["team_id", column], ["app.team_members.team_id", "app.team_members.id"], ondelete=ondelete
    )


class TenantMixin:
    """``(team_id, id)`` primary key: every tenant row is addressed within its team."""

    team_id: Mapped[str] = mapped_column(Text, primary_key=True)
    id: Mapped[str] = mapped_column(Text, primary_key=True)


class TimestampsMixin:
    created_at: Mapped[datetime] = now_default()
    updated_at: Mapped[datetime] = now_default()


class VersionMixin:
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("1"))


class SoftDeleteMixin:
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CustomFieldsMixin:
    custom: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )


__all__ = [
    "SCHEMA",
    "Base",
    "BigInteger",
    "CustomFieldsMixin",
    "SoftDeleteMixin",
    "TenantMixin",
    "TimestampsMixin",
    "VersionMixin",
]
