"""Bearer authentication (sessions and API keys) and request ids."""

from __future__ import annotations

import contextlib
import uuid

from litestar.connection import ASGIConnection
from litestar.datastructures import MutableScopeHeaders
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware._utils import should_bypass_middleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api.auth.service import authenticate_in
from api.common.scope import REQUEST_CONN
from warehouse.db import api_engine

PUBLIC_PATHS = [
    "^/api/v1/auth/signup$",
    "^/api/v1/auth/login$",
    "^/api/v1/auth/verify-email$",
    "^/api/v1/invitations/[^/]+/accept$",
    "^/api/v1/schema",
    "^/api/v1/health$",
]


class BearerAuthMiddleware(AbstractAuthenticationMiddleware):
    """Authenticates in the request's own database transaction.

    A connection is checked out, the credential is resolved and the tenant set in one statement
    (``authenticate_in``), and the open transaction is handed to the route through
    :data:`api.web.http.REQUEST_CONN`; ``read``/``write`` finish it. The connection goes back
    to the pool when the response is sent.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if should_bypass_middleware(
            exclude_http_methods=self.exclude_http_methods,
            exclude_opt_key=self.exclude_opt_key,
            exclude_path_pattern=self.exclude,
            scope=scope,
            scopes=self.scopes,
        ):
            await self.app(scope, receive, send)
            return
        header = ""
        for k, v in scope["headers"]:
            if k == b"authorization":
                header = v.decode("latin-1")
                break
        scheme, _, token = header.partition(" ")
        if not token and scope["type"] == "websocket":
            token = ASGIConnection(scope).query_params.get("token", "")
            scheme = "bearer"
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise NotAuthorizedException("Send Authorization: Bearer <token>.")
        request_id = scope.get("state", {}).get("request_id")
        conn = await api_engine().connect()
        reset = None
        try:
            actor = await authenticate_in(conn, token, request_id)
            if actor is None:
                raise NotAuthorizedException("The token is invalid, expired or revoked.")
            scope["user"] = actor
            scope["auth"] = token
            reset = REQUEST_CONN.set(conn)
            await self.app(scope, receive, send)
        finally:
            if reset is not None:
                REQUEST_CONN.reset(reset)
            # What is left open holds at most the credential's last-used touch: keep it.
            with contextlib.suppress(Exception):
                if conn.in_transaction():
                    await conn.commit()
            await conn.close()

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        raise NotImplementedError  # __call__ does the work in the request's transaction


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        rid = None
        for k, v in scope["headers"]:
            if k == b"x-request-id":
                rid = v.decode("latin-1")[:128]
                break
        rid = rid or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableScopeHeaders.from_message(message)["X-Request-ID"] = rid
            await send(message)

        await app(scope, receive, send_wrapper)

    return middleware
