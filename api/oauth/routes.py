"""HTTP routes of the OAuth 2.0 authorization server: client registration (admins), the
consent page and the JSON approval, the token, revocation and introspection endpoints, the
server metadata (RFC 8414) and the apps a member authorised.

The token, revocation and introspection endpoints take ``application/x-www-form-urlencoded``
bodies and answer RFC 6749 error JSON (``{"error": ..., "error_description": ...}``), as OAuth
clients expect; every other route answers problem documents like the rest of the API. authlib
runs in a worker thread (``api.oauth.server``)."""

from __future__ import annotations

import asyncio
import html
from typing import Annotated, Any
from urllib.parse import parse_qsl

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.params import Parameter

from api.auth import service as auth_service
from api.oauth import schemas as s
from api.oauth import server, service, usage
from api.oauth.server import GRANT_TYPES
from api.web.body import strict_body
from api.web.handlers import read_json
from api.web.http import current_actor, json_response, read, whole_list, write
from leadly.problem import Problem
from warehouse.db import api_engine, tenant_tx

OAUTH = "/api/v1/oauth"
FORM = "application/x-www-form-urlencoded"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def issuer(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _uri(request: Request) -> str:
    # authlib refuses plain-http URIs (its transport check); TLS is terminated by the reverse
    # proxy in front of the API, so the request is described by its https form.
    return "https://" + str(request.url).split("://", 1)[1]


def _oauth_answer(r: server.Response) -> Response:
    headers = {**r.headers, **NO_STORE}
    headers.pop("Content-Type", None)
    return Response(
        content=msgspec.json.encode(r.body if r.body != "" else {}),
        status_code=r.status,
        media_type="application/json",
        headers=headers,
    )


def _oauth_error(status: int, error: str, description: str) -> Response:
    return _oauth_answer(
        server.Response(status, {"error": error, "error_description": description})
    )


async def _form_request(request: Request) -> server.Request | Response:
    media = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if media != FORM:
        return _oauth_error(400, "invalid_request", f"Send the body as {FORM}.")
    body = await request.body()
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        return _oauth_error(400, "invalid_request", "The body is not valid UTF-8.")
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form or "\x00" in value:
            return _oauth_error(
                400, "invalid_request", f"Parameter {key!r} is repeated or invalid."
            )
        form[key] = value
    return server.Request("POST", _uri(request), form, request.headers)


async def _endpoint(request: Request, fn: Any) -> Response:
    req = await _form_request(request)
    if isinstance(req, Response):
        return req
    return _oauth_answer(await asyncio.to_thread(fn, req))


class OAuthEndpoints(Controller):
    path = OAUTH
    tags = ["oauth"]

    @post("/token", status_code=200, exclude_from_auth=True, security=[])
    async def token(self, request: Request) -> Response[dict[str, Any]]:
        """RFC 6749 token endpoint: ``authorization_code`` (PKCE S256), ``refresh_token``
        (rotated; a reused one revokes its family) and ``client_credentials``."""
        return await _endpoint(request, server.token)

    @post("/revoke", status_code=200, exclude_from_auth=True, security=[])
    async def revoke(self, request: Request) -> Response[dict[str, Any]]:
        """RFC 7009 revocation (an unknown token answers 200 too)."""
        return await _endpoint(request, server.revoke)

    @post("/introspect", status_code=200, exclude_from_auth=True, security=[])
    async def introspect(self, request: Request) -> Response[dict[str, Any]]:
        """RFC 7662 introspection of the calling client's own tokens."""
        return await _endpoint(request, server.introspect)

    @get(
        "/authorize",
        media_type="text/html",
        status_code=200,
        exclude_from_auth=True,
        security=[],
    )
    async def consent_page(self, request: Request) -> Response[str]:
        """The consent page: the client, the scopes it asks for and the team; the member signs
        in on it and approves or denies."""
        params = dict(request.query_params)
        params.setdefault("response_type", "code")
        req = server.Request("GET", _uri(request), params, request.headers)
        found = await asyncio.to_thread(server.consent, req)
        if isinstance(found, server.Response):
            return _html_error(found)
        return Response(
            content=_consent_html(found, params),
            media_type="text/html",
            headers={**NO_STORE, "X-Frame-Options": "DENY"},
        )

    @post("/authorize/decision", status_code=303, exclude_from_auth=True, security=[])
    async def decision(self, request: Request) -> Response[str]:
        """The consent page's form: sign in (the login throttle applies), then approve or deny."""
        req = await _form_request(request)
        if isinstance(req, Response):
            return req
        form = req.form
        email, password = form.pop("email", ""), form.pop("password", "")
        approve = form.pop("decision", "") == "approve"
        form["response_type"] = "code"
        login = await auth_service.login(
            email,
            password,
            ip=request.client.host if request.client else "unknown",
            user_agent=request.headers.get("user-agent"),
            request_id=request.scope.get("state", {}).get("request_id"),
        )
        actor = await auth_service.authenticate(login["token"])
        try:
            if actor is None:
                raise Problem(401, "Email or password is incorrect.", title="Unauthorized")
            answer = await _approve(actor, form, approve)
        finally:
            if actor is not None:
                await auth_service.logout(actor)  # the sign-in served this decision only
        return Response(content="", status_code=303, headers={"Location": answer})

    @post("/authorize", status_code=200, before_request=strict_body(s.AuthorizeIn))
    async def approve(self, request: Request, data: s.AuthorizeIn) -> Response[s.AuthorizeOut]:
        """A signed-in member approves (or denies) a client: ``{redirect_to}`` is the client's
        redirect URI with ``code`` and ``state`` (or ``error=access_denied``)."""
        actor = current_actor(request)
        form = {
            "response_type": "code",
            "client_id": data.client_id,
            "redirect_uri": data.redirect_uri,
            "scope": data.scope,
            "code_challenge": data.code_challenge,
            "code_challenge_method": data.code_challenge_method,
        }
        if data.state is not None:
            form["state"] = data.state
        return json_response({"redirect_to": await _approve(actor, form, data.approve)})

    @get("/authorizations")
    async def authorizations(self, request: Request) -> Response[s.AuthorizationPage]:
        """The apps holding tokens that act as the calling member."""
        actor = current_actor(request)

        async def run(conn):  # type: ignore[no-untyped-def]
            return whole_list(await service.list_authorizations(conn, actor))

        return await read(actor, run)

    @delete("/authorizations/{client_id:str}", status_code=204)
    async def revoke_authorization(self, request: Request, client_id: str) -> None:
        """Withdraw an app: every token it holds for the member stops at once."""
        actor = current_actor(request)

        async def run(conn):  # type: ignore[no-untyped-def]
            await service.revoke_authorization(conn, actor, client_id)
            return Response(content=b"", status_code=204)

        await write(request, actor, run)


async def _approve(actor: Any, form: dict[str, str], approve: bool) -> str:
    if actor.actor_type != "member":
        raise Problem(403, "Approve an app from a signed-in session.", title="Forbidden")
    req = server.Request("POST", "https://leadly/authorize", form, {})
    member = server.Member(actor.team_id, actor.member_id)
    r = await asyncio.to_thread(server.authorize, req, member, approve)
    if r.status == 302:
        return r.headers["Location"]
    error = (
        r.body.get("error", "invalid_request") if isinstance(r.body, dict) else "invalid_request"
    )
    detail = r.body.get("error_description") if isinstance(r.body, dict) else None
    if error == "invalid_client":
        raise Problem(404, f"No oauth client with id {form.get('client_id', '')!r}.")
    raise Problem(400, detail or "The authorization request is not valid.", error=error)


def _html_error(r: server.Response) -> Response:
    body = r.body if isinstance(r.body, dict) else {}
    if r.status == 302:  # an error the client's (valid) redirect URI may hear
        return Response(content="", status_code=302, headers={"Location": r.headers["Location"]})
    text = html.escape(str(body.get("error_description") or body.get("error") or "Invalid request"))
    return Response(
        content=f"<!doctype html><title>Leadly authorization</title><h1>Cannot authorise</h1><p>{text}</p>",
        status_code=400,
        media_type="text/html",
        headers=NO_STORE,
    )


def _consent_html(c: server.Consent, params: dict[str, str]) -> str:
    e = html.escape
    hidden = "".join(
        f'<input type="hidden" name="{e(k)}" value="{e(v)}">'
        for k, v in params.items()
        if k
        in (
            "client_id",
            "redirect_uri",
            "scope",
            "state",
            "code_challenge",
            "code_challenge_method",
        )
    )
    scopes = "".join(f"<li><code>{e(x)}</code></li>" for x in c.scopes)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Authorise {e(c.client.name)} · Leadly</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 32rem; margin: 3rem auto">
<h1>Authorise <span id="client">{e(c.client.name)}</span></h1>
<p><strong>{e(c.client.name)}</strong> asks to act as you in the team
<strong id="team">{e(c.team_name)}</strong>, with these scopes:</p>
<ul id="scopes">{scopes}</ul>
<p>It will never have more access than you have. You can revoke it at any time.</p>
<form method="post" action="{OAUTH}/authorize/decision">{hidden}
<p><label>Email <input name="email" type="email" autocomplete="username" required></label></p>
<p><label>Password <input name="password" type="password" autocomplete="current-password" required></label></p>
<button name="decision" value="approve">Approve</button>
<button name="decision" value="deny">Deny</button>
</form></body></html>"""


class ClientsController(Controller):
    path = f"{OAUTH}/clients"
    tags = ["oauth"]

    @post("/", status_code=201, before_request=strict_body(s.ClientIn))
    async def create(self, request: Request, data: s.ClientIn) -> Response[s.ClientOut]:
        """Register a client (admins). The answer alone holds a confidential client's secret."""
        actor = current_actor(request)
        async with tenant_tx(api_engine(), actor.team_id, actor.member_id) as conn:
            out = await service.create_client(
                conn, actor, data.name, data.redirect_uris, data.scopes, data.type
            )
        return json_response(out, 201)

    @get("/")
    async def list_clients(self, request: Request) -> Response[s.ClientPage]:
        actor = current_actor(request)

        async def run(conn):  # type: ignore[no-untyped-def]
            return whole_list(await service.list_clients(conn, actor))

        return await read(actor, run)

    @get("/{client_id:str}")
    async def get_client(self, request: Request, client_id: str) -> Response[s.ClientOut]:
        return await read_json(current_actor(request), service.get_client, client_id)

    @delete("/{client_id:str}", status_code=204)
    async def delete_client(self, request: Request, client_id: str) -> None:
        """Delete a client with every code and token it holds."""
        actor = current_actor(request)

        async def run(conn):  # type: ignore[no-untyped-def]
            await service.delete_client(conn, actor, client_id)
            return Response(content=b"", status_code=204)

        await write(request, actor, run)


Cursor = Annotated[str | None, Parameter(query="cursor", max_length=100)]
Limit = Annotated[int, Parameter(query="limit", ge=1, le=usage.MAX_PAGE)]


class RequestLogController(Controller):
    """The request log of an API key or an OAuth client (admins; kept 30 days)."""

    path = "/api/v1"
    tags = ["api keys"]

    @get("/api-keys/{key_id:str}/requests")
    async def key_requests(
        self, request: Request, key_id: str, cursor: Cursor = None, limit: Limit = 50
    ) -> Response[s.RequestPage]:
        args = ("api_key", key_id, cursor, limit)
        return await read_json(current_actor(request), usage.list_requests, *args)

    @get("/oauth/clients/{client_id:str}/requests", tags=["oauth"])
    async def client_requests(
        self, request: Request, client_id: str, cursor: Cursor = None, limit: Limit = 50
    ) -> Response[s.RequestPage]:
        args = ("oauth_client", client_id, cursor, limit)
        return await read_json(current_actor(request), usage.list_requests, *args)


@get("/.well-known/oauth-authorization-server", tags=["oauth"], exclude_from_auth=True, security=[])
async def metadata(request: Request) -> Response[dict[str, Any]]:
    """RFC 8414 server metadata."""
    base = issuer(request)
    return json_response(
        {
            "issuer": base,
            "authorization_endpoint": f"{base}{OAUTH}/authorize",
            "token_endpoint": f"{base}{OAUTH}/token",
            "revocation_endpoint": f"{base}{OAUTH}/revoke",
            "introspection_endpoint": f"{base}{OAUTH}/introspect",
            "response_types_supported": ["code"],
            "grant_types_supported": list(GRANT_TYPES),
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
            "revocation_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
            "introspection_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
            ],
            "scopes_supported": ["*", "<resource>:read", "<resource>:write", "<resource>:*"],
            "service_documentation": f"{base}/api/v1/schema",
        }
    )


routers = [OAuthEndpoints, ClientsController, RequestLogController, metadata]
