"""Teams, roles, members and their credentials (sessions, API keys, invitations)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from warehouse.models.base import Base, TenantMixin, TimestampsMixin, VersionMixin, member_fk

SYSTEM_ROLES = ("owner", "admin", "manager", "user", "guest")


class Team(TimestampsMixin, VersionMixin, Base):
    __tablename__ = "teams"
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    slug: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    settings: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )


class Role(TenantMixin, TimestampsMixin, Base):
    __tablename__ = "roles"
    key: Mapped[str] = mapped_column(Text, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    is_system: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    permissions: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default=text("'{}'")
    )
    __table_args__ = (
        ForeignKeyConstraint(["team_id"], ["app.teams.id"], ondelete="CASCADE"),
        Index("uq_roles_team_key", "team_id", "key", unique=True),
    )


class TeamMember(TenantMixin, TimestampsMixin, VersionMixin, Base):
    __tablename__ = "team_members"
    email: Mapped[str] = mapped_column(Text, nullable=False)
    email_normalized: Mapped[str] = mapped_column(Text, nullable=False)
    """``api.auth.emails.normalize_email(email)``: what logins and their uniqueness compare."""
    name: Mapped[str] = mapped_column(Text, nullable=False)
    password_hash: Mapped[str | None] = mapped_column(Text)
    role_id: Mapped[str] = mapped_column(Text, nullable=False)
    time_zone: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'UTC'"))
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    email_verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """When the member proved they read mail at ``email`` (a verification link, or accepting an
    invitation sent there). Until then the address neither signs in with a password nor keeps
    anyone else from signing up with it."""
    __table_args__ = (
        ForeignKeyConstraint(["team_id"], ["app.teams.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["team_id", "role_id"], ["app.roles.team_id", "app.roles.id"]),
        # One login identity per verified email across Leadly: login does not ask for a team.
        Index(
            "uq_team_members_email_verified",
            "email_normalized",
            unique=True,
            postgresql_where=text("email_verified_at IS NOT NULL"),
        ),
        # One member per email within a team, verified or not.
        Index("uq_team_members_team_email", "team_id", "email_normalized", unique=True),
        Index("ix_team_members_team_role", "team_id", "role_id"),
    )


class Session(TenantMixin, Base):
    __tablename__ = "sessions"
    member_id: Mapped[str] = mapped_column(Text, nullable=False)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    last_used_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    user_agent: Mapped[str | None] = mapped_column(Text)
    ip: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        member_fk("member_id", ondelete="CASCADE"),
        Index("ix_sessions_team_member", "team_id", "member_id"),
    )


class ApiKey(TenantMixin, Base):
    __tablename__ = "api_keys"
    member_id: Mapped[str] = mapped_column(Text, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    prefix: Mapped[str] = mapped_column(Text, nullable=False)
    key_hash: Mapped[bytes] = mapped_column(LargeBinary, nullable=False, unique=True)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    rate_limit_per_hour: Mapped[int] = mapped_column(
        Integer, nullable=False, server_default=text("1000")
    )
    """Requests an hour this key may make (``api.ratelimit``)."""
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        member_fk("member_id", ondelete="CASCADE"),
        CheckConstraint("rate_limit_per_hour > 0", name="rate_limit_positive"),
        Index("ix_api_keys_team_member", "team_id", "member_id"),
    )


class EmailVerification(TenantMixin, Base):
    """A single-use link that proves a member reads mail at their address (only its hash is
    kept). A new one for the member revokes the earlier ones."""

    __tablename__ = "email_verifications"
    member_id: Mapped[str] = mapped_column(Text, nullable=False)
    email_normalized: Mapped[str] = mapped_column(Text, nullable=False)
    """The address the link was sent to: verifying proves this one, not a later email."""
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        member_fk("member_id", ondelete="CASCADE"),
        Index("ix_email_verifications_team_member", "team_id", "member_id"),
    )


class Invitation(TenantMixin, Base):
    __tablename__ = "invitations"
    email: Mapped[str] = mapped_column(Text, nullable=False)
    role_id: Mapped[str] = mapped_column(Text, nullable=False)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, nullable=False, unique=True)
    invited_by: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    accepted_member_id: Mapped[str | None] = mapped_column(Text)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        ForeignKeyConstraint(["team_id", "role_id"], ["app.roles.team_id", "app.roles.id"]),
        member_fk("invited_by"),
        CheckConstraint("email <> ''", name="email_not_empty"),
        Index("ix_invitations_team_email", "team_id", "email"),
    )
