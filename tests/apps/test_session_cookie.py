"""The sign-in cookie's route (``apps/session_cookie.py``) on its own: a ticket sets the token
as an HttpOnly cookie, a sign-out ticket clears it, anything else is refused."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.testclient import TestClient

from apps import session_cookie


def client() -> TestClient:
    return TestClient(Starlette(routes=session_cookie.routes()), base_url="https://app.test")


def test_a_ticket_sets_the_token_as_an_httponly_cookie() -> None:
    code = session_cookie.issue("lds_token", max_age=3600)
    r = client().post(session_cookie.ROUTE, json={"ticket": code})
    assert r.status_code == 204
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{session_cookie.COOKIE}=lds_token;")
    for part in ("HttpOnly", "Max-Age=3600", "Path=/", "SameSite=strict", "Secure"):
        assert part in cookie, cookie
    assert "lds_token" not in session_cookie.script(code)  # the page only sees the ticket


def test_a_sign_out_ticket_clears_the_cookie() -> None:
    code = session_cookie.issue(None)
    r = client().post(session_cookie.ROUTE, json={"ticket": code})
    assert r.status_code == 204
    assert r.headers["set-cookie"].startswith(f'{session_cookie.COOKIE}="";')
    assert "Max-Age=0" in r.headers["set-cookie"]


def test_unknown_tickets_and_other_bodies_are_refused() -> None:
    c = client()
    assert c.post(session_cookie.ROUTE, json={"ticket": "guessed"}).status_code == 403
    assert c.post(session_cookie.ROUTE, json=["x"]).status_code == 403
    assert c.post(session_cookie.ROUTE, content=b"not json").status_code == 403
    assert c.get(session_cookie.ROUTE).status_code == 405
    assert "set-cookie" not in c.post(session_cookie.ROUTE, json={"ticket": "x"}).headers
