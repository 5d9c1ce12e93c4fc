"""Request and response shapes of the OAuth 2.0 authorization server's JSON endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from msgspec import UNSET, Meta, Struct, UnsetType

from api.auth.schemas import Name, Scope, Strict
from api.common.structs import page_of
from warehouse.models.oauth import OAUTH_CLIENT_TYPES

# An absolute http(s) URI without a fragment (RFC 6749 §3.1.2); checked further by the service.
RedirectUri = Annotated[str, Meta(min_length=8, max_length=2000, pattern=r"^https?://[^\s#\x00]+$")]
ClientType = Literal[OAUTH_CLIENT_TYPES]


class ClientIn(Strict):
    name: Name
    scopes: Annotated[list[Scope], Meta(min_length=1, max_length=100)]
    redirect_uris: Annotated[list[RedirectUri], Meta(max_length=20)] = []
    type: ClientType = "confidential"


class ClientOut(Struct, kw_only=True):
    client_id: str
    name: str
    redirect_uris: list[str]
    scopes: list[str]
    type: str
    created_at: datetime
    created_by: str
    client_secret: str | UnsetType = UNSET
    """Only in the answer to the registration (confidential clients): never shown again."""


ClientPage = page_of(ClientOut)


class AuthorizeIn(Strict):
    client_id: Annotated[str, Meta(min_length=1, max_length=200)]
    redirect_uri: Annotated[str, Meta(min_length=1, max_length=2000)]
    code_challenge: Annotated[str, Meta(max_length=200)]
    scope: Annotated[str, Meta(max_length=2000)] = ""
    state: Annotated[str, Meta(max_length=500)] | None = None
    code_challenge_method: Annotated[str, Meta(max_length=20)] = "S256"
    approve: bool = True


class AuthorizeOut(Struct, kw_only=True):
    redirect_to: str


class AuthorizationOut(Struct, kw_only=True):
    """An app a member has authorised (it holds live tokens acting as them)."""

    client_id: str
    name: str
    scopes: list[str]
    authorized_at: datetime
    last_used_at: datetime | None


AuthorizationPage = page_of(AuthorizationOut)


class RequestOut(Struct, kw_only=True):
    """One request made with an API key or an OAuth client's token."""

    id: str
    method: str
    endpoint: str
    status: int
    duration_ms: int
    member_id: str
    created_at: datetime


RequestPage = page_of(RequestOut)
