"""Bearer authentication (sessions and API keys) and request ids."""

from __future__ import annotations

import uuid

from litestar.connection import ASGIConnection
from litestar.datastructures import MutableScopeHeaders
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api.auth.service import authenticate

PUBLIC_PATHS = [
    "^/api/v1/auth/signup$",
    "^/api/v1/auth/login$",
    "^/api/v1/invitations/[^/]+/accept$",
    "^/api/v1/schema",
    "^/api/v1/health$",
]


class BearerAuthMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if not token and connection.scope["type"] == "websocket":
            token = connection.query_params.get("token", "")
            scheme = "bearer"
        if scheme.lower() != "bearer" or not token:
            raise NotAuthorizedException("Send Authorization: Bearer <token>.")
        actor = await authenticate(token.strip())
        if actor is None:
            raise NotAuthorizedException("The token is invalid, expired or revoked.")
        return AuthenticationResult(user=actor, auth=token)


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
