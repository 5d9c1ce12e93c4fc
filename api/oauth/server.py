"""The OAuth 2.0 authorization server: authlib's grants and endpoints on a synchronous
connection, run in a worker thread.

authlib's server side is synchronous (a grant calls ``query_client``, ``save_token``... and
expects answers), so each call to :func:`run` happens in ``asyncio.to_thread``: a fresh
:class:`Server` is built for the request (cheap: it only registers classes), given one
synchronous SQLAlchemy connection of its own (psycopg 3, the API role, row-level security), and
the whole exchange is one transaction, committed when authlib has answered (an error answer
included: a detected refresh-token reuse must stay revoked) and rolled back on any exception.
The event loop never blocks on the database or on authlib.

The team is unknown until the client is: ``query_client`` resolves it through the SECURITY
DEFINER look-up ``app.auth_oauth_client_lookup`` and sets ``app.team_id`` for the rest of the
transaction, so codes and tokens are then read under row-level security.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from authlib.oauth2 import AuthorizationServer, OAuth2Error
from authlib.oauth2.rfc6749 import (
    AuthorizationCodeMixin,
    ClientMixin,
    OAuth2Request,
    TokenMixin,
    grants,
)
from authlib.oauth2.rfc6749.errors import (
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from sqlalchemy import Connection, insert, select, text, update
from sqlalchemy.engine import Engine

from api.auth import crypto
from api.oauth.service import (
    ACCESS_PREFIX,
    CODE_PREFIX,
    OAUTH_ACTOR,
    REFRESH_PREFIX,
    codes,
    tokens,
)
from leadly import clock
from leadly.ids import new_id
from leadly.settings import get_settings
from warehouse.db import database_url, make_engine
from warehouse.events import EventRecord
from warehouse.models import Event, TeamMember

events_table, members = Event.__table__, TeamMember.__table__
GRANT_TYPES = ("authorization_code", "client_credentials", "refresh_token")
SECRET_METHODS = ["client_secret_basic", "client_secret_post"]
ALL_METHODS = [*SECRET_METHODS, "none"]


@lru_cache(maxsize=4)
def _engine(url: str, role: str) -> Engine:
    return make_engine(url, role, pool_size=5, max_overflow=5)


def sync_engine() -> Engine:
    """The process's synchronous engine (API role) for the authorization server's threads."""
    s = get_settings()
    return _engine(database_url(s), s.api_db_role)


# ----------------------------------------------------------------------------- models


@dataclass
class Member:
    team_id: str
    member_id: str

    def get_user_id(self) -> str:
        return self.member_id


@dataclass
class Client(ClientMixin):
    team_id: str
    client_id: str
    name: str
    type: str
    secret_hash: bytes | None
    redirect_uris: list[str]
    scopes: list[str]
    created_by: str

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None  # the redirect URI is always sent and matched exactly

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """No scope asked: every scope of the client; one it was not given: refused."""
        if not scope:
            return " ".join(self.scopes)
        asked = scope_to_list(scope)
        if not set(asked) <= set(self.scopes):
            return None
        return " ".join(dict.fromkeys(asked))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        if self.secret_hash is None:
            return False
        return hmac.compare_digest(self.secret_hash, crypto.token_hash(client_secret))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.type == "public":
            return method == "none"
        return method in SECRET_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        if self.type == "public":
            return grant_type in ("authorization_code", "refresh_token")
        return grant_type in GRANT_TYPES


@dataclass
class Code(AuthorizationCodeMixin):
    id: str
    client_id: str
    member_id: str
    redirect_uri: str
    scopes: list[str]
    code_challenge: str
    code_challenge_method: str

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return " ".join(self.scopes)


@dataclass
class Token(TokenMixin):
    id: str
    client_id: str
    member_id: str
    family_id: str
    grant_type: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime
    refresh_expires_at: datetime | None
    refreshed_at: datetime | None
    revoked_at: datetime | None
    member_active: bool
    is_refresh: bool = False

    def check_client(self, client: Client) -> bool:
        return self.client_id == client.client_id

    def get_scope(self) -> str:
        return " ".join(self.scopes)

    def get_expires_in(self) -> int:
        return int((self.expires_at - self.created_at).total_seconds())

    def is_expired(self) -> bool:
        ends = self.refresh_expires_at if self.is_refresh else self.expires_at
        return ends is None or ends <= clock.now()

    def is_revoked(self) -> bool:
        return (
            self.revoked_at is not None
            or not self.member_active
            or (self.is_refresh and self.refreshed_at is not None)
        )

    def get_user(self) -> Member:
        return Member("", self.member_id)

    def get_client(self) -> Any:
        return None


_TOKEN_COLUMNS = (
    tokens.c.id,
    tokens.c.client_id,
    tokens.c.member_id,
    tokens.c.family_id,
    tokens.c.grant_type,
    tokens.c.scopes,
    tokens.c.created_at,
    tokens.c.expires_at,
    tokens.c.refresh_expires_at,
    tokens.c.refreshed_at,
    tokens.c.revoked_at,
    members.c.is_active.label("member_active"),
)


# ----------------------------------------------------------------------------- the server


class Request(OAuth2Request):
    """A request as authlib sees it: the form (or the JSON approval's fields) and headers."""

    def __init__(self, method: str, uri: str, form: Mapping[str, str], headers: Mapping[str, str]):
        super().__init__(method, uri, headers=headers)  # case-insensitive (Litestar's)
        self._form = dict(form)
        self.payload = BasicOAuth2Payload(self._form)

    @property
    def args(self) -> dict[str, str]:
        return self._form

    @property
    def form(self) -> dict[str, str]:
        return self._form


@dataclass
class Response:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class Server(AuthorizationServer):
    def __init__(self, conn: Connection, *, team_id: str | None = None) -> None:
        super().__init__()
        self.conn = conn
        self.team_id = team_id  # the approving member's team: another team's client is unknown
        self.client: Client | None = None
        self.events: list[EventRecord] = []
        self.register_token_generator("default", self.generate_bearer_token)
        self.register_grant(CodeGrant, [Pkce(required=True)])
        self.register_grant(RefreshGrant)
        self.register_grant(CredentialsGrant)
        self.register_endpoint(Revocation)
        self.register_endpoint(Introspection)

    # -- authlib's hooks

    def query_client(self, client_id: str) -> Client | None:
        if self.client is not None:
            return self.client if self.client.client_id == client_id else None
        row = self.conn.execute(
            text("SELECT * FROM app.auth_oauth_client_lookup(:c)"), {"c": client_id[:200]}
        ).first()
        if row is None or (self.team_id is not None and row.team_id != self.team_id):
            return None
        self.conn.execute(text("SELECT set_config('app.team_id', :t, true)"), {"t": row.team_id})
        self.client = Client(**row._mapping)
        return self.client

    def save_token(self, token: dict[str, Any], request: Request) -> None:
        s = get_settings()
        client: Client = request.client
        now = clock.now()
        previous: Token | None = request.refresh_token
        member_id = request.user.member_id if request.user else client.created_by
        values = {
            "team_id": client.team_id,
            "id": new_id("otk"),
            "client_id": client.client_id,
            "member_id": member_id,
            "family_id": previous.family_id if previous else new_id("ofam"),
            "grant_type": request.payload.grant_type,
            "access_hash": crypto.token_hash(token["access_token"]),
            "scopes": scope_to_list(token.get("scope") or ""),
            "created_at": now,
            "expires_at": now + timedelta(seconds=token["expires_in"]),
        }
        if "refresh_token" in token:
            values["refresh_hash"] = crypto.token_hash(token["refresh_token"])
            values["refresh_expires_at"] = now + timedelta(days=s.oauth_refresh_token_ttl_days)
        self.conn.execute(insert(tokens).values(**values))

    def generate_bearer_token(
        self,
        grant_type: str,
        client: Client,
        user: Member | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": crypto.new_token(ACCESS_PREFIX),
            "expires_in": expires_in or get_settings().oauth_access_token_ttl_seconds,
            "scope": scope or "",
        }
        if include_refresh_token:
            token["refresh_token"] = crypto.new_token(REFRESH_PREFIX)
        return token

    def create_oauth2_request(self, request: Request) -> Request:
        return request

    def create_json_request(self, request: Request) -> Request:
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> Response:
        return Response(status, body, dict(headers))

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass

    # -- Leadly's helpers

    def member(self, member_id: str) -> Member | None:
        """The member a grant acts as, if still active (a deactivated member's grants fail)."""
        assert self.client is not None
        active = self.conn.execute(
            select(members.c.is_active).where(
                members.c.team_id == self.client.team_id, members.c.id == member_id
            )
        ).scalar()
        return Member(self.client.team_id, member_id) if active else None

    def token(self, column: Any, value: str, *, lock: bool = False) -> Token | None:
        assert self.client is not None
        q = (
            select(*_TOKEN_COLUMNS)
            .join(
                members,
                (members.c.team_id == tokens.c.team_id) & (members.c.id == tokens.c.member_id),
            )
            .where(tokens.c.team_id == self.client.team_id, column == crypto.token_hash(value))
        )
        if lock:
            q = q.with_for_update(of=tokens)
        row = self.conn.execute(q).first()
        if row is None:
            return None
        return Token(**row._mapping, is_refresh=column is tokens.c.refresh_hash)

    def revoke_family(self, family_id: str) -> None:
        assert self.client is not None
        self.conn.execute(
            update(tokens)
            .where(
                tokens.c.team_id == self.client.team_id,
                tokens.c.family_id == family_id,
                tokens.c.revoked_at.is_(None),
            )
            .values(revoked_at=clock.now())
        )

    def event(self, member_id: str | None, action: str, data: dict[str, Any] | None = None) -> None:
        assert self.client is not None
        self.conn.execute(
            insert(events_table).values(
                EventRecord(
                    self.client.team_id,
                    OAUTH_ACTOR if member_id is None else "member",
                    member_id or self.client.client_id,
                    "oauth_client",
                    self.client.client_id,
                    action,
                    {},
                    None,
                    data,
                ).row()
            )
        )


class Pkce(CodeChallenge):
    """PKCE with S256 only: the challenge is required and ``plain`` is refused (RFC 9700)."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send 'code_challenge' (S256).")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be 'S256'.")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'.")
        super().validate_code_verifier(grant, result)


class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ALL_METHODS
    server: Server

    def generate_authorization_code(self) -> str:
        return crypto.new_token(CODE_PREFIX)

    def save_authorization_code(self, code: str, request: Request) -> None:
        client: Client = request.client
        data = request.payload.data
        self.server.conn.execute(
            insert(codes).values(
                team_id=client.team_id,
                id=new_id("ocd"),
                code_hash=crypto.token_hash(code),
                client_id=client.client_id,
                member_id=request.user.member_id,
                redirect_uri=request.payload.redirect_uri,
                scopes=scope_to_list(request.scope or ""),
                code_challenge=data["code_challenge"],
                code_challenge_method="S256",
                expires_at=clock.now() + timedelta(seconds=get_settings().oauth_code_ttl_seconds),
            )
        )
        self.server.event(request.user.member_id, "authorized", {"scopes": request.scope})

    def query_authorization_code(self, code: str, client: Client) -> Code | None:
        row = self.server.conn.execute(
            select(
                codes.c.id,
                codes.c.client_id,
                codes.c.member_id,
                codes.c.redirect_uri,
                codes.c.scopes,
                codes.c.code_challenge,
                codes.c.code_challenge_method,
                codes.c.expires_at,
            )
            .where(
                codes.c.team_id == client.team_id,
                codes.c.code_hash == crypto.token_hash(code),
                codes.c.client_id == client.client_id,
            )
            .with_for_update()
        ).first()
        if row is None or row.expires_at <= clock.now():
            return None
        values = dict(row._mapping)
        values.pop("expires_at")
        return Code(**values)

    def delete_authorization_code(self, authorization_code: Code) -> None:
        assert self.server.client is not None
        self.server.conn.execute(
            codes.delete().where(
                codes.c.team_id == self.server.client.team_id, codes.c.id == authorization_code.id
            )
        )

    def authenticate_user(self, authorization_code: Code) -> Member | None:
        return self.server.member(authorization_code.member_id)


class RefreshGrant(grants.RefreshTokenGrant):
    """Rotation: each use answers a new refresh token and retires the old one; presenting a
    retired one again revokes every token of its family (the thief's and the owner's)."""

    TOKEN_ENDPOINT_AUTH_METHODS = ALL_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True
    server: Server

    def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
        token = self.server.token(tokens.c.refresh_hash, refresh_token, lock=True)
        if token is None or not token.check_client(self.server.client):
            return None
        if token.refreshed_at is not None and token.revoked_at is None:
            self.server.revoke_family(token.family_id)
            self.server.event(None, "refresh_token_reused", {"family_id": token.family_id})
            return None
        if token.is_revoked() or token.is_expired():
            return None
        return token

    def authenticate_user(self, refresh_token: Token) -> Member | None:
        return self.server.member(refresh_token.member_id)

    def create_token_response(self) -> Any:
        if self.authenticate_user(self.request.refresh_token) is None:
            raise InvalidGrantError("The member of this token is no longer active.")
        return super().create_token_response()

    def revoke_old_credential(self, refresh_token: Token) -> None:
        assert self.server.client is not None
        now = clock.now()
        self.server.conn.execute(
            update(tokens)
            .where(tokens.c.team_id == self.server.client.team_id, tokens.c.id == refresh_token.id)
            .values(refreshed_at=now, expires_at=now)  # its access token ends with it
        )


class CredentialsGrant(grants.ClientCredentialsGrant):
    """A confidential client acting as the admin who registered it, within its scopes."""

    TOKEN_ENDPOINT_AUTH_METHODS = SECRET_METHODS
    server: Server

    def validate_token_request(self) -> None:
        super().validate_token_request()
        client: Client = self.request.client
        scope = client.get_allowed_scope(self.request.payload.scope)
        if scope is None:
            raise InvalidScopeError()
        if self.server.member(client.created_by) is None:
            raise UnauthorizedClientError("The member who registered this client is not active.")
        self.request.scope = scope

    def create_token_response(self) -> Any:
        token = self.generate_token(scope=self.request.scope, include_refresh_token=False)
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER


class _Lookup:
    server: Server
    CLIENT_AUTH_METHODS = ALL_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
        order = [tokens.c.access_hash, tokens.c.refresh_hash]
        if token_type_hint == "refresh_token":
            order.reverse()
        for column in order:
            found = self.server.token(column, token_string)
            if found is not None:
                return found
        return None


class Revocation(_Lookup, RevocationEndpoint):
    def revoke_token(self, token: Token, request: Request) -> None:
        """A refresh token takes its family with it; an access token goes alone."""
        if token.is_refresh:
            self.server.revoke_family(token.family_id)
            return
        assert self.server.client is not None
        self.server.conn.execute(
            update(tokens)
            .where(tokens.c.team_id == self.server.client.team_id, tokens.c.id == token.id)
            .values(revoked_at=clock.now())
        )


class Introspection(_Lookup, IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = SECRET_METHODS

    def check_permission(self, token: Token, client: Client, request: Request) -> bool:
        return token.client_id == client.client_id

    def introspect_token(self, token: Token) -> dict[str, Any]:
        assert self.server.client is not None
        ends = token.refresh_expires_at if token.is_refresh else token.expires_at
        return {
            "active": True,
            "scope": token.get_scope(),
            "client_id": token.client_id,
            "sub": token.member_id,
            "team_id": self.server.client.team_id,
            "token_type": "refresh_token" if token.is_refresh else "Bearer",
            "exp": int(ends.timestamp()) if ends else None,
            "iat": int(token.created_at.timestamp()),
        }


# ----------------------------------------------------------------------------- entry points


def _in_transaction(team_id: str | None, fn: Any) -> Response:
    with sync_engine().connect() as conn, conn.begin():
        server = Server(conn, team_id=team_id)
        return fn(server)


def token(request: Request) -> Response:
    return _in_transaction(None, lambda s: s.create_token_response(request))


def revoke(request: Request) -> Response:
    return _in_transaction(None, lambda s: s.create_endpoint_response("revocation", request))


def introspect(request: Request) -> Response:
    return _in_transaction(None, lambda s: s.create_endpoint_response("introspection", request))


def authorize(request: Request, member: Member | None, approve: bool) -> Response:
    """Validate an authorization request and answer the redirect: with a code when the member
    approves, ``error=access_denied`` when they refuse. An invalid client or redirect URI is
    never redirected to (authlib answers 400 with the error)."""

    def run(s: Server) -> Response:
        try:
            grant = s.get_consent_grant(request, end_user=member)
        except OAuth2Error as error:
            return s.handle_error_response(request, error)
        return s.create_authorization_response(
            request, grant_user=member if approve else None, grant=grant
        )

    return _in_transaction(member.team_id if member else None, run)


@dataclass
class Consent:
    client: Client
    team_name: str
    scopes: list[str]


def consent(request: Request) -> Consent | Response:
    """What the consent page shows (client, scopes, team), or authlib's error."""

    def run(s: Server) -> Consent | Response:
        try:
            grant = s.get_consent_grant(request, end_user=None)
        except OAuth2Error as error:
            return s.handle_error_response(request, error)
        client: Client = grant.client
        team = s.conn.execute(
            text("SELECT name FROM app.teams WHERE id = :t"), {"t": client.team_id}
        ).scalar()
        return Consent(client, team or "", scope_to_list(request.scope or ""))

    with sync_engine().connect() as conn, conn.begin():
        return run(Server(conn))


__all__ = ["InvalidClientError", "Member", "Request", "Response", "authorize", "token"]
