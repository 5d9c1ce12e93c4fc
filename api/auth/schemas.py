"""Request and response shapes of authentication, members, API keys and invitations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from warehouse.models.tenancy import SYSTEM_ROLES

# No whitespace or NUL (PostgreSQL text cannot hold NUL, so it would fail deep in the driver).
Email = Annotated[str, Meta(pattern=r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$", max_length=320)]
Password = Annotated[str, Meta(min_length=10, max_length=256)]
# At least one visible character, no NUL.
Name = Annotated[str, Meta(min_length=1, max_length=200, pattern=r"^[^\x00]*[^\x00\s][^\x00]*$")]
# An IANA name such as ``Europe/Lisbon``; checked against the zone database by the service.
TimeZone = Annotated[str, Meta(min_length=1, max_length=64)]
AwareDatetime = Annotated[datetime, Meta(tz=True)]
RoleKey = Literal[SYSTEM_ROLES]
Scope = Annotated[str, Meta(pattern=r"^(\*|[a-z_]+:(read|write|\*))$")]


class Strict(Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class SignupIn(Strict):
    team_name: Name
    name: Name
    email: Email
    password: Password
    time_zone: TimeZone = "UTC"


class LoginIn(Strict):
    email: Annotated[str, Meta(max_length=320, pattern=r"^[^\x00]*$")]
    password: Annotated[str, Meta(max_length=256)]


class MemberOut(Struct, kw_only=True):
    id: str
    email: str
    name: str
    role: str
    time_zone: str
    is_active: bool
    email_verified: bool
    """The member followed the link mailed to ``email`` (or accepted an invitation sent there):
    only then does the address sign in with a password."""
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None
    version: int


class TeamOut(Struct, kw_only=True):
    id: str
    name: str
    slug: str
    created_at: datetime


class SignupOut(Struct, kw_only=True):
    team: TeamOut
    member: MemberOut
    token: str
    expires_at: datetime


class LoginOut(Struct, kw_only=True):
    token: str
    expires_at: datetime
    member: MemberOut


class MeOut(Struct, kw_only=True):
    member: MemberOut
    team: TeamOut
    auth: Literal["session", "api_key", "oauth_client"]
    scopes: list[str] | None


class MemberUpdate(Strict):
    role: RoleKey | UnsetType = UNSET
    is_active: bool | UnsetType = UNSET
    name: Name | UnsetType = UNSET
    time_zone: TimeZone | UnsetType = UNSET


class ApiKeyIn(Strict):
    name: Name
    scopes: Annotated[list[Scope], Meta(min_length=1, max_length=100)]
    expires_at: AwareDatetime | None = None
    rate_limit_per_hour: Annotated[int, Meta(ge=1, le=1_000_000)] = 1000


class ApiKeyOut(Struct, kw_only=True):
    id: str
    name: str
    scopes: list[str]
    rate_limit_per_hour: int
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    key: str | UnsetType = UNSET


class InvitationIn(Strict):
    email: Email
    role: RoleKey = "user"


class InvitationOut(Struct, kw_only=True):
    """The invitation's token is mailed to ``email``, never shown to the inviter."""

    id: str
    email: str
    role: str
    expires_at: datetime


class AcceptIn(Strict):
    name: Name
    password: Password
    time_zone: TimeZone = "UTC"


class VerifyEmailIn(Strict):
    token: Annotated[str, Meta(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]


class VerifyEmailOut(Struct, kw_only=True):
    member: MemberOut


class ResendOut(Struct, kw_only=True):
    email: str
    """Where the new link went."""
    expires_at: datetime


class AcceptOut(Struct, kw_only=True):
    member: MemberOut
    token: str
    expires_at: datetime


def to_builtins(obj: object) -> object:
    return msgspec.to_builtins(obj)
