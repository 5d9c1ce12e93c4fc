"""Pieces every page shares: the signed-in session, the navigation, the sidebar, API errors, the
date range.

The session lives in ``st.session_state`` (``token`` and ``me``, the answer of ``GET /me``) and,
for a reload or a page URL opened directly, in an HttpOnly cookie holding the API session token
(``apps/session_cookie.py``): a new connection without a session reads the cookie and asks the
API who it is, so the cookie lasts and ends exactly as the API session does.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import streamlit as st

from apps import session_cookie
from apps.client import ApiClient, ApiError

if TYPE_CHECKING:
    import pandas as pd

TOKEN = "token"
ME = "me"
TICKET = "cookie_ticket"  # (code, monotonic deadline) the page still posts to set the cookie
REFUSED = "cookie_refused"  # a cookie's token the API refused (expired or revoked)

PAGES: tuple[tuple[str, str, str], ...] = (
    ("pages/1_Overview.py", "Overview", "KPIs with trends against the previous period"),
    ("pages/2_Lead_funnel.py", "Lead funnel", "created → contacted → qualified → converted"),
    ("pages/3_Lead_explorer.py", "Lead explorer", "filter, browse and export leads"),
    ("pages/4_Imports.py", "Imports", "upload a CSV or Excel file, map columns, import"),
    ("pages/10_Pipeline_board.py", "Pipeline board", "drag deals between stages"),
    ("pages/11_Deal.py", "Deal", "a deal, its stage timeline and history"),
    ("pages/12_Pipeline_builder.py", "Pipeline builder", "stages, probabilities, rules (admins)"),
    ("pages/13_Forecast.py", "Forecast", "weighted pipeline, forecast by close month, velocity"),
    ("pages/14_Win_loss.py", "Win/loss", "reasons, competitors, by owner and period"),
    ("pages/20_My_tasks.py", "My tasks", "my and my team's tasks, filters, bulk actions"),
    ("pages/21_Task_board.py", "Task board", "tasks by status"),
    ("pages/22_Task_calendar.py", "Task calendar", "due dates on a calendar, the feed URL"),
    ("pages/23_Gantt.py", "Gantt", "a project's tasks and their dependencies"),
    ("pages/24_Recurring_tasks.py", "Recurring tasks", "build a repeating task"),
    ("pages/30_Record_timeline.py", "Timeline", "a record's activities, comments, mentions"),
    ("pages/31_Search.py", "Search", "find records, activities and comments"),
    ("pages/32_Record.py", "Record", "any record: fields, related lists, timeline, actions"),
    ("pages/40_Notifications.py", "Notifications", "the notification center"),
    ("pages/41_Notification_preferences.py", "Notification preferences", "channels, quiet hours"),
    ("pages/50_Report_builder.py", "Report builder", "metrics × dimensions, preview, save, export"),
    ("pages/51_Dashboards.py", "Dashboards", "saved reports on a grid, PDF, share links"),
)


@dataclass(frozen=True)
class Session:
    token: str
    member: dict[str, Any]
    team: dict[str, Any]

    @property
    def team_id(self) -> str:
        return str(self.team["id"])

    @property
    def api(self) -> ApiClient:
        return ApiClient(self.token)


SECTIONS: tuple[tuple[int, str], ...] = (
    (10, "Leads"),
    (20, "Deals"),
    (30, "Tasks"),
    (40, "Activity"),
    (50, "Notifications"),
    (60, "Reports"),
)


# KPI cards wrap a long label or value instead of cutting it off ("Demo schedu…").
WRAP_METRICS = """<style>
[data-testid="stMetricLabel"] *, [data-testid="stMetricValue"] * {
  white-space: normal !important; overflow: visible !important; text-overflow: clip !important;
}
[data-testid="stMetricValue"] { overflow-wrap: anywhere; }
</style>"""


def page(title: str) -> None:
    st.set_page_config(page_title=f"{title} · Leadly", page_icon="📈", layout="wide")
    st.html(WRAP_METRICS)


def home_page() -> st.Page:
    """The Home page (sign-in when signed out): ``apps/start.py`` (not ``home.py``: beside
    ``Home.py`` it would clash on case-insensitive file systems)."""
    return st.Page("start.py", title="Home", icon="🏠", default=True)


def navigation(session: Session | None) -> st.Page:
    """The app's pages for ``st.navigation``, by section, all listed. Signed out, only the
    sign-in page is (Streamlit draws no menu for a single page); the others stay reachable by
    URL and ask to sign in first."""
    hidden = "hidden" if session is None else "visible"
    sections: dict[str, list[st.Page]] = {"": [home_page()]}
    for path, label, _ in PAGES:
        number = int(path.split("/")[-1].split("_", 1)[0])
        section = next(name for limit, name in SECTIONS if number < limit)
        page = st.Page(path, title=label, visibility=hidden)
        sections.setdefault(section, []).append(page)
    return st.navigation(sections, expanded=True)


def current() -> Session | None:
    """The signed-in session: this connection's, else the sign-in cookie's (if the API still
    knows its token)."""
    token, me = st.session_state.get(TOKEN), st.session_state.get(ME)
    if token and me:
        return Session(token, me["member"], me["team"])
    return _restore()


def _cookie_token() -> str | None:
    try:
        return st.context.cookies.get(session_cookie.COOKIE) or None
    except Exception:  # no browser connection (a bare run)
        return None


def _restore() -> Session | None:
    token = _cookie_token()
    if not token or st.session_state.get(REFUSED) == token:
        return None
    try:
        me = ApiClient(token).me()
    except ApiError as e:
        if e.unauthorized:  # expired or revoked: clear the cookie, don't ask again
            st.session_state[REFUSED] = token
            _set_cookie(None)
        return None
    st.session_state[TOKEN] = token
    st.session_state[ME] = me
    return Session(token, me["member"], me["team"])


def _set_cookie(token: str | None, max_age: int = 0) -> None:
    code = session_cookie.issue(token, max_age)
    st.session_state[TICKET] = (code, time.monotonic() + session_cookie.TICKET_SECONDS)


def sync_cookie() -> None:
    """Draw the pending cookie ticket (the browser posts it to the cookie route) while it lasts."""
    pending = st.session_state.get(TICKET)
    if not pending:
        return
    code, deadline = pending
    if deadline < time.monotonic():
        del st.session_state[TICKET]
        return
    with st.sidebar:
        st.html(session_cookie.script(code), unsafe_allow_javascript=True)


def _seconds_until(expires_at: str | None) -> int:
    if not expires_at:
        return 0
    end = dt.datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
    return max(0, int((end - dt.datetime.now(dt.UTC)).total_seconds()))


def sign_in(email: str, password: str) -> Session:
    """Log in through the API and keep the session (here and in the sign-in cookie); raises
    :class:`ApiError`."""
    client = ApiClient()
    out = client.login(email.strip(), password, client_address=st.context.ip_address)
    me = client.me()
    st.session_state.pop(REFUSED, None)
    st.session_state[TOKEN] = out["token"]
    st.session_state[ME] = me
    _set_cookie(out["token"], _seconds_until(out.get("expires_at")))
    return Session(out["token"], me["member"], me["team"])


def forget() -> None:
    """Drop this connection's session and everything the pages kept (the cookie's token, if
    any, is remembered as refused: the API no longer takes it)."""
    cookie = _cookie_token()
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    if cookie:
        st.session_state[REFUSED] = cookie


def sign_out() -> None:
    """End the session at the API (the token stops working), forget it here and clear the
    cookie."""
    token = st.session_state.get(TOKEN)
    if token:
        # Already expired or revoked: nothing left to end.
        with contextlib.suppress(ApiError):
            ApiClient(token).logout()
    forget()
    _set_cookie(None)


def start(title: str, heading: str | None = None) -> Session:
    """The opening of a page titled ``title``: its configuration, the signed-in session (or a
    prompt to sign in, and the page stops) and its heading (``heading``, default ``title``)."""
    page(title)
    session = require_session()
    st.title(heading or title)
    return session


def require_session() -> Session:
    """The signed-in session, or a prompt to sign in (and the page stops)."""
    session = current()
    if session is None:
        st.info("Sign in on the Home page to see this page.")
        st.page_link(home_page(), label="Go to sign-in", icon="🔑")
        st.stop()
    sidebar(session)
    return session


def zone() -> str:
    """The signed-in member's time zone (their profile's), UTC when signed out."""
    me = st.session_state.get(ME) or {}
    return str((me.get("member") or {}).get("time_zone") or "UTC")


def sidebar(session: Session) -> None:
    with st.sidebar:
        st.markdown(
            f"Signed in as **{session.member['name']}** ({session.member['role']})  \n"
            f"Team **{session.team['name']}**"
        )
        notification_bell(session)
        with st.form("global_search", border=False, enter_to_submit=True):
            q = st.text_input("Search Leadly", key="global_q", placeholder="names, emails, deals…")
            if st.form_submit_button("Find") and q.strip():
                st.switch_page("pages/31_Search.py", query_params={"q": q.strip()})
        if st.button("Sign out", key="sidebar_sign_out"):
            sign_out()
            st.switch_page(home_page())


def notification_bell(session: Session) -> None:
    """🔔 with the unread notification count, opening the notification center (nothing when
    the count cannot be read: the sidebar never fails a page)."""
    try:
        count = int(session.api.get("/notifications/unread-count")["count"])
    except (ApiError, KeyError, TypeError, ValueError):
        return
    label = f"🔔 Notifications ({count} unread)" if count else "🔔 Notifications"
    if st.button(label, key="sidebar_notifications"):
        st.switch_page("pages/40_Notifications.py")


def show_api_error(e: ApiError, action: str | None = None) -> None:
    """Show a failed API call: the problem's detail and each field error."""
    if e.unauthorized and current() is not None:
        forget()
        _set_cookie(None)
        st.warning("Your session has ended. Sign in again on the Home page.")
        st.page_link(home_page(), label="Go to sign-in", icon="🔑")
        return
    lines = [f"{action}: {e.detail}" if action else e.detail]
    for err in e.errors:
        where = err.get("field") or err.get("row") or ""
        lines.append(f"- **{where}**: {err.get('message', '')}" if where else f"- {err}")
    st.error("\n".join(lines))


def stop_on_error(e: ApiError, action: str | None = None) -> NoReturn:
    show_api_error(e, action)
    st.stop()


def date_range(key: str, default_days: int = 30) -> tuple[dt.date, dt.date]:
    """A start–end date picker (inclusive), defaulting to the last ``default_days`` days."""
    today = dt.date.today()
    value = st.date_input(
        "Date range",
        value=(today - dt.timedelta(days=default_days - 1), today),
        max_value=today + dt.timedelta(days=1),
        key=key,
        format="YYYY-MM-DD",
    )
    if isinstance(value, tuple | list):
        if len(value) == 2:
            return value[0], value[1]
        if len(value) == 1:
            return value[0], value[0]
        st.info("Pick a start and an end date.")
        st.stop()
    return value, value


def report(read: Callable[[], pd.DataFrame], what: str, empty: str) -> pd.DataFrame:
    """The rows of ``read()`` (a team-scoped read of a reporting model, ``apps.data``); the page
    says so and stops when the models are not built yet (``what``: what is missing) or when
    there are no rows (``empty``: why)."""
    from apps import data

    try:
        rows = read()
    except data.ReportNotReady as e:
        not_ready(what, str(e))
        st.stop()
    if rows.empty:
        st.info(empty)
        st.stop()
    return rows


def not_ready(what: str, reason: str | None = None) -> None:
    st.info(
        f"No {what} yet: the reporting models have not been built. They are built by dbt "
        "(`leadly up` builds them at start-up, Dagster refreshes them every 15 minutes)."
        + (f"\n\nDetails: `{reason}`" if reason else "")
    )
