"""A rep's day in the workspace, walked in a real browser (Debian's chromium through Playwright,
``streamlit run apps/server.py``, the real API): sign in as a ``user``, reload and stay signed
in, open a deal from the board and a lead from the sidebar's search, edit a field inline, log
a call, convert the lead; the record page and My tasks at a phone's 390 px. A screenshot of
each page lands in ``LEADLY_SCREENSHOT_DIR``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.apps.browser import (
    CHROMIUM,
    MISSING,
    SHOTS,
    chromium,
    open_nav,
    settled,
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


def api(base: str, token: str, method: str, path: str, **kw: Any) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    r = httpx.request(method, f"{base}/api/v1{path}", headers=headers, timeout=30, **kw)
    assert r.status_code < 300, r.text
    return r.json() if r.content else {}


@pytest.fixture(scope="module")
def app_url(api_url: str) -> Iterator[str]:
    with streamlit(api_url) as base:
        yield base


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


def sign_in(page: Any, base: str, email: str) -> None:
    from playwright.sync_api import expect

    page.goto(base)
    page.get_by_role("textbox", name="Email").fill(email)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Signed in as").first).to_be_visible()


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
