"""OAuth 2.0 clients, authorization codes and tokens; the request log of API keys and clients.

Secrets, codes and tokens are stored as keyed hashes (``api.auth.crypto.token_hash``), never in
the clear. A token row holds one access token and (for the code flow) one refresh token; the
rows issued from one authorization share a ``family_id``, so a reused refresh token revokes the
whole family at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from warehouse.models.base import Base, TenantMixin, member_fk

OAUTH_CLIENT_TYPES = ("confidential", "public")
OAUTH_GRANT_TYPES = ("authorization_code", "client_credentials", "refresh_token")
REQUEST_CREDENTIAL_TYPES = ("api_key", "oauth_client")


def _client_fk() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["team_id", "client_id"],
        ["app.oauth_clients.team_id", "app.oauth_clients.id"],
        ondelete="CASCADE",
    )


class OAuthClient(TenantMixin, Base):
    """``id`` is the public ``client_id``."""

    __tablename__ = "oauth_clients"
    name: Mapped[str] = mapped_column(Text, nullable=False)
    type: Mapped[str] = mapped_column(Text, nullable=False)
    secret_hash: Mapped[bytes | None] = mapped_column(LargeBinary)
    redirect_uris: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    created_by: Mapped[str] = mapped_column(Text, nullable=False)
    """The admin who registered it; client-credentials tokens act as this member."""
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    __table_args__ = (
        member_fk("created_by", ondelete="CASCADE"),
        CheckConstraint(f"type IN {OAUTH_CLIENT_TYPES!r}", name="type"),
        CheckConstraint("(type = 'public') = (secret_hash IS NULL)", name="secret"),
        Index("ix_oauth_clients_team_created", "team_id", "created_at"),
    )


class OAuthCode(TenantMixin, Base):
    __tablename__ = "oauth_codes"
    code_hash: Mapped[bytes] = mapped_column(LargeBinary, nullable=False, unique=True)
    client_id: Mapped[str] = mapped_column(Text, nullable=False)
    member_id: Mapped[str] = mapped_column(Text, nullable=False)
    redirect_uri: Mapped[str] = mapped_column(Text, nullable=False)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    code_challenge: Mapped[str] = mapped_column(Text, nullable=False)
    code_challenge_method: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    __table_args__ = (
        _client_fk(),
        member_fk("member_id", ondelete="CASCADE"),
        CheckConstraint("code_challenge_method = 'S256'", name="s256"),
        Index("ix_oauth_codes_team_client", "team_id", "client_id"),
        Index("ix_oauth_codes_team_member", "team_id", "member_id"),
        Index("ix_oauth_codes_expires", "expires_at"),
    )


class OAuthToken(TenantMixin, Base):
    __tablename__ = "oauth_tokens"
    client_id: Mapped[str] = mapped_column(Text, nullable=False)
    member_id: Mapped[str] = mapped_column(Text, nullable=False)
    family_id: Mapped[str] = mapped_column(Text, nullable=False)
    grant_type: Mapped[str] = mapped_column(Text, nullable=False)
    access_hash: Mapped[bytes] = mapped_column(LargeBinary, nullable=False, unique=True)
    refresh_hash: Mapped[bytes | None] = mapped_column(LargeBinary, unique=True)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    """When the access token stops working."""
    refresh_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    refreshed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """When its refresh token was used (rotated): a second use is a reuse."""
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        _client_fk(),
        member_fk("member_id", ondelete="CASCADE"),
        CheckConstraint(f"grant_type IN {OAUTH_GRANT_TYPES!r}", name="grant_type"),
        Index("ix_oauth_tokens_team_family", "team_id", "family_id"),
        Index("ix_oauth_tokens_team_member_client", "team_id", "member_id", "client_id"),
        Index("ix_oauth_tokens_team_client", "team_id", "client_id"),
        Index("ix_oauth_tokens_purge", "refresh_expires_at", "expires_at"),
    )


class ApiRequest(TenantMixin, Base):
    """One request made with an API key or an OAuth client's token (kept 30 days)."""

    __tablename__ = "api_requests"
    credential_type: Mapped[str] = mapped_column(Text, nullable=False)
    credential_id: Mapped[str] = mapped_column(Text, nullable=False)
    """The API key's id, or the OAuth client's ``client_id``."""
    member_id: Mapped[str] = mapped_column(Text, nullable=False)
    method: Mapped[str] = mapped_column(Text, nullable=False)
    endpoint: Mapped[str] = mapped_column(Text, nullable=False)
    """The route template (``/api/v1/leads/{lead_id}``), never a query string."""
    status: Mapped[int] = mapped_column(Integer, nullable=False)
    duration_ms: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    __table_args__ = (
        CheckConstraint(f"credential_type IN {REQUEST_CREDENTIAL_TYPES!r}", name="credential"),
        Index("ix_api_requests_team_credential", "team_id", "credential_id", "created_at", "id"),
        Index("ix_api_requests_created", "created_at"),
    )
