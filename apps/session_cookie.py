"""The sign-in cookie: an HttpOnly cookie on the Streamlit origin holding the API session token,
so a reload or a page URL opened directly stays signed in without a token in the URL.

Streamlit's scripts talk to the browser over a WebSocket and cannot set cookies, and JavaScript
cannot set an HttpOnly one. So the app is served by ``apps/server.py`` (``st.App``) with one
route of its own, ``POST /_leadly/session``: the script that signs a member in (or out) hands
the browser a short-lived *ticket* (a random code, kept here in the server's memory, never the
token), the page posts it to that route, and the route answers with ``Set-Cookie``: the token
(HttpOnly, SameSite=Strict, Secure over HTTPS, expiring with the API session), or a cleared
cookie on sign-out. Each new connection reads the cookie through ``st.context.cookies`` and asks
the API who it is (``GET /me``), so a revoked or expired session is signed out there as well.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass

COOKIE = "leadly_session"
ROUTE = "/_leadly/session"
TICKET_SECONDS = 120.0


@dataclass(frozen=True)
class Ticket:
    token: str | None  # None: clear the cookie
    max_age: int
    deadline: float


_tickets: dict[str, Ticket] = {}
_lock = threading.Lock()


def issue(token: str | None, max_age: int = 0) -> str:
    """A ticket that sets the cookie to ``token`` for ``max_age`` seconds (None: clears it)."""
    code = secrets.token_urlsafe(32)
    now = time.monotonic()
    with _lock:
        for old in [c for c, t in _tickets.items() if t.deadline < now]:
            del _tickets[old]
        _tickets[code] = Ticket(token, max(0, int(max_age)), now + TICKET_SECONDS)
    return code


def redeem(code: str) -> Ticket | None:
    """The ticket of ``code`` while it is valid (it can be redeemed again until it expires:
    the page may post it more than once when it is drawn again)."""
    with _lock:
        ticket = _tickets.get(code)
    if ticket is None or ticket.deadline < time.monotonic():
        return None
    return ticket


def script(code: str) -> str:
    """The HTML that posts ``code`` to the route from the member's browser. (``st.App`` serves
    its own routes at the origin's root, whatever ``server.baseUrlPath`` says: a proxy in front
    of the app forwards ``/_leadly/session`` too.)"""
    url = json.dumps(ROUTE)
    body = json.dumps(json.dumps({"ticket": code}))
    return (
        "<script>fetch("
        f"{url}, {{method: 'POST', credentials: 'same-origin', "
        f"headers: {{'Content-Type': 'application/json'}}, body: {body}}})"
        "</script>"
    )


def routes() -> list:
    """The Starlette route of ``apps/server.py``."""
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def session(request: Request) -> Response:
        try:
            code = (await request.json()).get("ticket")
        except (ValueError, AttributeError):
            code = None
        ticket = redeem(code) if isinstance(code, str) else None
        if ticket is None:
            return Response(status_code=403)
        out = Response(status_code=204, headers={"Cache-Control": "no-store"})
        if ticket.token:
            out.set_cookie(
                COOKIE,
                ticket.token,
                max_age=ticket.max_age,
                path="/",
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
            )
        else:
            out.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return out

    return [Route(ROUTE, session, methods=["POST"])]
