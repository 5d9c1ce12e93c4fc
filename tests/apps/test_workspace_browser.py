"""The workspace's bugs of issue 23, each walked in a real browser (Debian's chromium through
Playwright, ``streamlit run apps/server.py``, the real API): the refused drag on the Pipeline
board, the builder's edit form, the calendar's times, the sign-in that survives a reload, and
Swagger UI without a CDN. Screenshots land in ``LEADLY_SCREENSHOT_DIR``."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.apps.browser import (
    CHROMIUM,
    COUNT_RUNS,
    MISSING,
    SHOTS,
    choose,
    chromium,
    drag,
    open_nav,
    settled,
    sign_in,
    streamlit,
    wait_for_cookie,
)
from tests.apps.conftest import SeededTeam, seed_team

pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("apps"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=MISSING),
]

CHICAGO = "America/Chicago"


def api(base: str, team: SeededTeam, method: str, path: str, **kw: Any) -> dict[str, Any]:
    r = httpx.request(method, f"{base}/api/v1{path}", headers=team.headers, timeout=30, **kw)
    assert r.status_code < 300, r.text
    return r.json() if r.content else {}


@pytest.fixture(scope="module")
def app_url(api_url: str) -> Iterator[str]:
    with streamlit(api_url) as base:
        yield base


@pytest.fixture(scope="module")
def team(api_url: str) -> SeededTeam:
    """A team of its own, its owner in Chicago."""
    team = seed_team(api_url, "Workspace Browser", [])
    api(api_url, team, "PATCH", f"/members/{team.member_id}", json={"time_zone": CHICAGO})
    return team


def column(board: Any, stage: str) -> Any:
    """The board's column of ``stage`` (its header's text)."""
    header = board.locator(".sortable-container-header", has_text=re.compile(f"^{stage}$"))
    return board.locator(".sortable-container", has=header)


def test_a_refused_drag_is_tried_once_and_the_card_goes_back(
    app_url: str, api_url: str, team: SeededTeam
) -> None:
    """Dragging a Negotiation deal to Won without a win reason: the gate's error shows once,
    the card is drawn back in Negotiation, the page settles (the forms below the board are
    drawn and work); a move through the form then draws the card in its new column."""
    from playwright.sync_api import expect

    deal = api(
        api_url,
        team,
        "POST",
        "/deals",
        json={"name": "Refused drag", "value": "500", "expected_close_date": "2027-01-15"},
    )
    api(api_url, team, "POST", f"/deals/{deal['id']}/move", json={"stage": "negotiation"})
    with chromium() as ctx:
        page = ctx.new_page()
        page.add_init_script(COUNT_RUNS)
        sign_in(page, app_url, team.email)
        open_nav(page, "Pipeline board")
        board = page.frame_locator("iframe[title*='sortables']").first
        card = column(board, "Negotiation").get_by_text("Refused drag")
        expect(card).to_be_visible()
        settled(page)
        page.evaluate("window.__leadlyRuns = 0")

        drag(page, card, board.locator(".sortable-container-header", has_text=re.compile("^Won$")))

        expect(page.get_by_text("Moving Refused drag to Won")).to_be_visible()
        expect(page.get_by_text("win_reason").first).to_be_visible()
        expect(page.get_by_text("Move a deal")).to_be_visible()  # the run reached the end
        settled(page)
        expect(column(board, "Negotiation").get_by_text("Refused drag")).to_be_visible()
        expect(column(board, "Won").get_by_text("Refused drag")).to_have_count(0)
        runs = page.evaluate("window.__leadlyRuns")
        assert 1 <= runs <= 4, f"{runs} runs after one drag"
        assert api(api_url, team, "GET", f"/deals/{deal['id']}")["stage"] == "negotiation"
        page.screenshot(path=str(SHOTS / "leadly-e2e-board-refused.png"), full_page=True)

        # The form below works, and the card is drawn where the form moved it.
        page.get_by_text("Move a deal").click()
        choose(page, "Deal", "Refused drag")
        choose(page, "To stage", "Won")
        page.get_by_role("textbox", name="Win or loss reason").fill("Fit")
        page.get_by_role("button", name="Move", exact=True).click()
        expect(page.get_by_text("Moved Refused drag to Won.")).to_be_visible()
        expect(column(board, "Won").get_by_text("Refused drag")).to_be_visible()
        expect(column(board, "Negotiation").get_by_text("Refused drag")).to_have_count(0)
        assert api(api_url, team, "GET", f"/deals/{deal['id']}")["stage"] == "won"


def test_the_builder_edits_the_stage_picked(app_url: str, api_url: str, team: SeededTeam) -> None:
    """Picking Negotiation in "Rename / edit" shows Negotiation's name and probability."""
    from playwright.sync_api import expect

    pipelines = api(api_url, team, "GET", "/pipelines")["data"]
    stages = {s["key"]: s for s in next(p for p in pipelines if p["is_default"])["stages"]}
    with chromium() as ctx:
        page = ctx.new_page()
        sign_in(page, app_url, team.email)
        open_nav(page, "Pipeline builder")
        page.get_by_role("tab", name="Rename / edit").click()
        panel = page.get_by_role("tabpanel", name="Rename / edit")
        expect(panel.get_by_role("textbox", name="New name")).to_have_value(
            stages["qualified"]["name"]
        )
        choose(page, "Stage", "negotiation")
        expect(panel.get_by_role("textbox", name="New name")).to_have_value("Negotiation")
        expect(panel.get_by_role("spinbutton", name="Probability")).to_have_value(
            str(stages["negotiation"]["probability"])
        )
        page.screenshot(path=str(SHOTS / "leadly-e2e-builder.png"), full_page=True)


def test_the_calendar_draws_due_times_in_the_members_zone(
    app_url: str, api_url: str, team: SeededTeam
) -> None:
    """A task due at 09:00 in Chicago (the member's zone) is drawn at 9, with the browser in
    Tokyo."""
    from playwright.sync_api import expect

    today = dt.datetime.now(ZoneInfo(CHICAGO)).date()
    due = dt.datetime.combine(today, dt.time(9), ZoneInfo(CHICAGO))
    api(
        api_url,
        team,
        "POST",
        "/tasks",
        json={"title": "Call at nine", "due_at": due.isoformat(), "assignee_ids": [team.member_id]},
    )
    with chromium(timezone_id="Asia/Tokyo") as ctx:
        page = ctx.new_page()
        sign_in(page, app_url, team.email)
        open_nav(page, "Task calendar")
        expect(page.get_by_text(f"times in {CHICAGO}")).to_be_visible()
        cal = page.frame_locator("iframe[title*='calendar']").first
        event = cal.locator(".fc-event", has_text="Call at nine").first
        expect(event.locator(".fc-event-time")).to_have_text("9a")
        page.screenshot(path=str(SHOTS / "leadly-e2e-calendar.png"), full_page=True)


def test_sign_in_survives_a_reload_and_sign_out_ends_it(
    app_url: str, api_url: str, team: SeededTeam
) -> None:
    """Signed out, the sidebar lists only the sign-in page. Signed in, the session is kept in
    an HttpOnly cookie (never in the URL): a reload and a page URL opened directly stay signed
    in; signing out revokes it and clears the cookie, and a reload stays signed out."""
    from playwright.sync_api import expect

    with chromium() as ctx:
        page = ctx.new_page()
        page.goto(app_url)
        nav = page.get_by_test_id("stSidebarNav")
        expect(page.get_by_role("textbox", name="Email")).to_be_visible()
        settled(page)
        expect(nav.get_by_role("link")).to_have_count(0)  # one page: no menu

        sign_in(page, app_url, team.email)
        expect(nav.get_by_role("link", name="Pipeline board")).to_be_visible()
        cookie = wait_for_cookie(ctx, present=True)
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        r = httpx.get(
            f"{api_url}/api/v1/me", headers={"Authorization": f"Bearer {cookie['value']}"}
        )
        assert r.status_code == 200  # the API session's own token

        page.reload()
        expect(page.get_by_text("Signed in as").first).to_be_visible()
        page.goto(f"{app_url}/Lead_explorer")
        expect(page.get_by_role("heading", name="Lead explorer")).to_be_visible()
        expect(page.get_by_text("Signed in as").first).to_be_visible()
        assert cookie["value"] not in page.url

        page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("textbox", name="Email")).to_be_visible()
        wait_for_cookie(ctx, present=False)
        page.reload()
        expect(page.get_by_role("textbox", name="Email")).to_be_visible()
        settled(page)
        expect(nav.get_by_role("link")).to_have_count(0)
        r = httpx.get(
            f"{api_url}/api/v1/me", headers={"Authorization": f"Bearer {cookie['value']}"}
        )
        assert r.status_code == 401  # revoked


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.urls.append(str(a["src"]))
        if tag == "link" and a.get("href"):
            self.urls.append(str(a["href"]))


@pytest.mark.parametrize("ui", ["swagger", "redoc"])
def test_api_docs_load_their_assets_from_the_api(api_url: str, ui: str) -> None:
    html = httpx.get(f"{api_url}/api/v1/schema/{ui}", timeout=30)
    assert html.status_code == 200
    parser = _Assets()
    parser.feed(html.text)
    assert parser.urls
    for url in parser.urls:
        assert url.startswith("/api/v1/schema/assets/"), url
        assert httpx.get(api_url + url, timeout=30).status_code == 200, url
    assert httpx.get(f"{api_url}/api/v1/schema/openapi.json", timeout=30).status_code == 200


def test_swagger_ui_renders_without_a_cdn(api_url: str) -> None:
    """With every request to another host refused, Swagger UI still draws the API."""
    from playwright.sync_api import expect

    host = httpx.URL(api_url).host
    with chromium() as ctx:
        blocked: list[str] = []

        def only_the_api(route: Any) -> None:
            if httpx.URL(route.request.url).host == host:
                route.continue_()
            else:
                blocked.append(route.request.url)
                route.abort()

        ctx.route("**/*", only_the_api)
        page = ctx.new_page()
        page.goto(f"{api_url}/api/v1/schema/swagger")
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("Leadly API")
        expect(page.locator(".opblock").first).to_be_visible()
        page.screenshot(path=str(SHOTS / "leadly-e2e-swagger.png"))
