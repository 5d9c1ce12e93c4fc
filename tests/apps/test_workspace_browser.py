"""The workspace's bugs of issue 23, each walked in a real browser (Debian's chromium through
Playwright, ``streamlit run apps/server.py``, the real API): the refused drag on the Pipeline
board, the builder's edit form, the calendar's times, the sign-in that survives a reload, and
Swagger UI without a CDN; then a rep's day (sign in as a ``user``, reload and stay signed in,
open a deal from the board and a lead from the sidebar's search, edit a field inline, log a
call, convert the lead; the record page and My tasks at a phone's 390 px). Screenshots land in
``LEADLY_SCREENSHOT_DIR``."""

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
from tests.plugin import PASSWORD

pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("apps"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=MISSING),
]

CHICAGO = "America/Chicago"


def api(base: str, who: SeededTeam | str, method: str, path: str, **kw: Any) -> dict[str, Any]:
    """Call the API as ``who``: a seeded team's owner, or a session token."""
    headers = {"Authorization": f"Bearer {who}"} if isinstance(who, str) else who.headers
    r = httpx.request(method, f"{base}/api/v1{path}", headers=headers, timeout=30, **kw)
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


# --------------------------------------------------------------------------- a rep's day


@pytest.fixture(scope="module")
def day(api_url: str) -> dict[str, Any]:
    """A team whose rep (role ``user``) owns a lead to work and a deal on the board."""
    team = seed_team(api_url, "Walk Team", [], with_rep=True)
    assert team.rep_email
    rep = httpx.post(
        f"{api_url}/api/v1/auth/login",
        json={"email": team.rep_email, "password": PASSWORD},
        timeout=30,
    ).json()
    token, rep_id = rep["token"], rep["member"]["id"]
    lead = api(api_url, token, "POST", "/leads", json={
        "first_name": "Marta", "last_name": "Quokka", "email": "marta@quokka.example",
        "company_name": "Quokka Logistics", "status": "qualified", "owner_id": rep_id,
    })  # fmt: skip
    deal = api(api_url, token, "POST", "/deals", json={
        "name": "Quokka fleet renewal", "value": "48000", "owner_id": rep_id,
        "expected_close_date": "2027-02-26",
    })  # fmt: skip
    api(api_url, token, "POST", "/tasks", json={
        "title": "Call Marta back", "related_to_type": "lead", "related_to_id": lead["id"],
        "assignee_ids": [rep_id], "due_at": "2027-01-05T15:00:00Z",
    })  # fmt: skip
    return {"team": team, "token": token, "rep_id": rep_id, "lead": lead, "deal": deal}


def shot(page: Any, name: str) -> None:
    settled(page)
    page.screenshot(path=str(SHOTS / f"leadly-e2e-{name}.png"), full_page=True)


def test_a_reps_day(app_url: str, api_url: str, day: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    team: SeededTeam = day["team"]
    lead, deal = day["lead"], day["deal"]
    with chromium() as ctx:
        page = ctx.new_page()
        sign_in(page, app_url, str(team.rep_email))
        wait_for_cookie(ctx, present=True)
        page.reload()
        expect(page.get_by_text("Signed in as").first).to_be_visible()
        expect(page.get_by_text("Walk Team Rep").first).to_be_visible()

        # The board: the card shows owner, value and close date; it opens the deal's record.
        open_nav(page, "Pipeline board")
        board = page.frame_locator("iframe[title*='sortables']").first
        card = board.get_by_text("Quokka fleet renewal")
        expect(card).to_contain_text("$48,000.00 · Walk Team Rep · closes 26 Feb 2027")
        shot(page, "board")
        box = page.get_by_test_id("stSelectbox").filter(has=page.get_by_text("Open a deal"))
        box.get_by_role("combobox").click()
        page.get_by_role("option", name=re.compile("^Quokka fleet renewal")).click()
        expect(page.get_by_role("heading", name="Quokka fleet renewal")).to_be_visible()
        assert page.url.endswith(f"/Record?id={deal['id']}")
        expect(page.get_by_text("owned by Walk Team Rep").first).to_be_visible()
        shot(page, "record-deal")
        page.reload()  # the URL carries the record
        expect(page.get_by_role("heading", name="Quokka fleet renewal")).to_be_visible()

        # The sidebar's search finds the lead by its company; its link opens the record.
        sidebar = page.get_by_test_id("stSidebar")
        sidebar.get_by_role("textbox", name="Search Leadly").fill("quokka log")
        sidebar.get_by_role("button", name="Find").click()
        expect(page.get_by_role("heading", name="Search", exact=True)).to_be_visible()
        assert "q=quokka+log" in page.url or "q=quokka%20log" in page.url
        # The hit is a row of the records' table (a canvas grid: its cells are in the DOM).
        expect(
            page.get_by_text(re.compile("Marta Quokka · Quokka Logistics")).first
        ).to_be_attached()
        page.wait_for_timeout(500)  # let the grid paint before the screenshot
        shot(page, "search")
        page.goto(f"{app_url}/Record?id={lead['id']}")
        title = "Marta Quokka · Quokka Logistics"
        expect(page.get_by_role("heading", name=title)).to_be_visible()

        # Edit a field inline.
        page.get_by_text("Edit", exact=True).click()
        page.get_by_role("textbox", name="Title").fill("Head of Fleet")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_text("Saved Title.")).to_be_visible()
        assert api(api_url, day["token"], "GET", f"/leads/{lead['id']}")["title"] == "Head of Fleet"
        expect(page.get_by_text("Head of Fleet")).to_be_visible()
        shot(page, "record-lead")

        # Log a call on the timeline.
        page.get_by_role("tab", name="Timeline").click()
        page.get_by_text("Log a call, email, meeting or note").click()
        panel = page.get_by_role("tabpanel", name="Timeline")
        panel.get_by_role("textbox", name="Subject").fill("Fleet sizing call")
        panel.get_by_role("button", name="Log it").click()
        expect(panel.get_by_text("Logged.")).to_be_visible()
        shot(page, "record-timeline")
        calls = api(api_url, day["token"], "GET", f"/leads/{lead['id']}/timeline")["data"]
        assert any(a["subject"] == "Fleet sizing call" for a in calls)

        # Convert the lead.
        page.get_by_role("tab", name="Actions").click()
        page.get_by_role("button", name="Convert lead").click()
        expect(page.get_by_text(re.compile(r"^Converted: contact Marta Quokka"))).to_be_visible()
        converted = api(api_url, day["token"], "GET", f"/leads/{lead['id']}")
        assert converted["status"] == "converted"
        shot(page, "record-converted")

    # A phone between meetings: the record page and My tasks fit 390 px.
    with chromium() as ctx:
        page = ctx.new_page()
        page.set_viewport_size({"width": 390, "height": 844})
        sign_in(page, app_url, str(team.rep_email))
        wait_for_cookie(ctx, present=True)
        page.goto(f"{app_url}/Record?id={lead['id']}")
        expect(page.get_by_role("heading", name=re.compile("^Marta Quokka"))).to_be_visible()
        settled(page)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        shot(page, "mobile-record")
        page.goto(f"{app_url}/My_tasks")
        expect(page.get_by_role("heading", name="Tasks", exact=True)).to_be_visible()
        expect(page.get_by_text("Call Marta back").first).to_be_attached()  # a grid cell
        settled(page)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        shot(page, "mobile-tasks")
