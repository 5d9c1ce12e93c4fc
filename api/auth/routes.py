"""HTTP routes for sign-up, sign-in, the current member, members, API keys and invitations.

Every JSON body is checked by ``strict_body`` before Litestar parses it (every bad field named,
dates in range, no NUL, nesting and UTF-8 checked), as on every other route."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.params import Parameter

from api.auth import schemas as s
from api.auth import service, verification
from api.common.guards import values_of
from api.common.listing import parse_params
from api.web.body import strict_body
from api.web.http import current_actor, if_match, json_response, read, whole_list, write
from leadly import forwarded
from leadly.actor import Actor
from leadly.problem import validation
from leadly.settings import get_settings
from warehouse.db import api_engine, tenant_tx


def _client_ip(request: Request) -> str:
    """The peer address (a reverse proxy's X-Forwarded-For only when LEADLY_TRUSTED_PROXIES
    names it: uvicorn applies it), or the end user's address the dashboards vouch for."""
    vouched = forwarded.verify(request.headers.get(forwarded.HEADER), get_settings().secret_key)
    if vouched:
        return vouched
    return request.client.host if request.client else "unknown"


def _rid(request: Request) -> str | None:
    return request.scope.get("state", {}).get("request_id")


def _client(request: Request) -> dict[str, Any]:
    """Who opens a session: the request id, the user agent and the client's address."""
    return {
        "request_id": _rid(request),
        "user_agent": request.headers.get("user-agent"),
        "ip": _client_ip(request),
    }


async def _write_secret(actor: Actor, fn):  # type: ignore[no-untyped-def]
    """A write whose response carries a secret (an API key).

    It does not go through ``Idempotency-Key`` replay, which would store the response body, and
    with it the secret in plain text, in ``app.idempotency_keys``. A retried request simply
    creates a second credential; the first is never shown again and can be revoked.
    """
    async with tenant_tx(api_engine(), actor.team_id, actor.member_id) as conn:
        return await fn(conn)


def _like_pattern(search: str) -> str:
    """``search`` as a literal substring for ILIKE ... ESCAPE '\\'."""
    if "\x00" in search:
        raise validation([{"field": "search", "message": "Must not contain NUL characters."}])
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class AuthController(Controller):
    path = "/api/v1"
    tags = ["auth"]

    @post("/auth/signup", status_code=201, before_request=strict_body(s.SignupIn))
    async def signup(self, request: Request, data: s.SignupIn) -> Response[s.SignupOut]:
        out = await service.signup(
            data.team_name,
            data.name,
            data.email,
            data.password,
            data.time_zone,
            **_client(request),
        )
        return json_response(out, 201)

    @post("/auth/login", status_code=200, before_request=strict_body(s.LoginIn, nul=False))
    async def login(self, request: Request, data: s.LoginIn) -> Response[s.LoginOut]:
        out = await service.login(
            data.email,
            data.password,
            **_client(request),
        )
        return json_response(out)

    @post(
        "/auth/verify-email",
        status_code=200,
        before_request=strict_body(s.VerifyEmailIn),
    )
    async def verify_email(
        self, request: Request, data: s.VerifyEmailIn
    ) -> Response[s.VerifyEmailOut]:
        out = await verification.verify_email(data.token, request_id=_rid(request))
        return json_response(out)

    @post("/auth/verify-email/resend", status_code=202)
    async def resend_verification(self, request: Request) -> Response[s.ResendOut]:
        return json_response(await verification.resend(current_actor(request)), 202)

    @post("/auth/logout", status_code=204)
    async def logout(self, request: Request) -> None:
        await service.logout(current_actor(request))

    @get("/me")
    async def me(self, request: Request) -> Response[s.MeOut]:
        return json_response(await service.me(current_actor(request)))


class MembersController(Controller):
    path = "/api/v1/members"
    tags = ["members"]

    @get("/")
    async def list_members(
        self,
        request: Request,
        search: Annotated[str | None, Parameter(query="search", max_length=200)] = None,
    ) -> Response[list[s.MemberOut]]:
        actor = current_actor(request)
        service.check_scope(actor, "members:read")
        params = parse_params(request.query_params, default_sort="name")
        ms = service.member_service
        extra = []
        if search:
            pat = _like_pattern(search)
            extra.append(
                ms.table.c.name.ilike(pat, escape="\\") | ms.table.c.email.ilike(pat, escape="\\")
            )

        async def run(conn):  # type: ignore[no-untyped-def]
            page = await ms.list(conn, actor, params, extra)
            page["data"] = await ms.present(conn, actor, page["data"])
            return json_response(page)

        return await read(actor, run)

    @get("/{member_id:str}")
    async def get_member(self, request: Request, member_id: str) -> Response[s.MemberOut]:
        actor = current_actor(request)
        service.check_scope(actor, "members:read")

        async def run(conn):  # type: ignore[no-untyped-def]
            ms = service.member_service
            row = (await ms.present(conn, actor, [await ms.get(conn, actor, member_id)]))[0]
            return json_response(row, headers={"ETag": f'"{row["version"]}"'})

        return await read(actor, run)

    @patch("/{member_id:str}", before_request=strict_body(s.MemberUpdate))
    async def update_member(
        self, request: Request, member_id: str, data: s.MemberUpdate
    ) -> Response[s.MemberOut]:
        actor = current_actor(request)
        expected = if_match(request)

        async def run(conn):  # type: ignore[no-untyped-def]
            row = await service.update_member(conn, actor, member_id, values_of(data), expected)
            return json_response(row, headers={"ETag": f'"{row["version"]}"'})

        return await write(request, actor, run)


class ApiKeysController(Controller):
    path = "/api/v1/api-keys"
    tags = ["api keys"]

    @post("/", status_code=201, before_request=strict_body(s.ApiKeyIn))
    async def create_key(self, request: Request, data: s.ApiKeyIn) -> Response[s.ApiKeyOut]:
        actor = current_actor(request)

        async def run(conn):  # type: ignore[no-untyped-def]
            out = await service.create_api_key(
                conn, actor, data.name, data.scopes, data.expires_at, data.rate_limit_per_hour
            )
            return json_response(out, 201)

        return await _write_secret(actor, run)

    @get("/")
    async def list_keys(self, request: Request) -> Response[list[s.ApiKeyOut]]:
        actor = current_actor(request)

        async def run(conn):  # type: ignore[no-untyped-def]
            return whole_list(await service.list_api_keys(conn, actor))

        return await read(actor, run)

    @delete("/{key_id:str}", status_code=204)
    async def revoke_key(self, request: Request, key_id: str) -> None:
        actor = current_actor(request)

        async def run(conn):  # type: ignore[no-untyped-def]
            await service.revoke_api_key(conn, actor, key_id)
            return Response(content=b"", status_code=204)

        await write(request, actor, run)


class InvitationsController(Controller):
    path = "/api/v1/invitations"
    tags = ["members"]

    @post("/", status_code=201, before_request=strict_body(s.InvitationIn, writes=("members",)))
    async def invite(self, request: Request, data: s.InvitationIn) -> Response[s.InvitationOut]:
        actor = current_actor(request)

        async def run(conn):  # type: ignore[no-untyped-def]
            return json_response(await service.invite(conn, actor, data.email, data.role), 201)

        return await write(request, actor, run)

    @post("/{token:str}/accept", status_code=201, before_request=strict_body(s.AcceptIn))
    async def accept(self, request: Request, token: str, data: s.AcceptIn) -> Response[s.AcceptOut]:
        out = await service.accept_invitation(
            token,
            data.name,
            data.password,
            data.time_zone,
            **_client(request),
        )
        return json_response(out, 201)


routers = [AuthController, MembersController, ApiKeysController, InvitationsController]
