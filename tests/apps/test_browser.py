"""End to end in a real browser: Debian's chromium driven by Playwright against a real
``streamlit run apps/server.py`` and the real API. Sign in through the UI, open the Overview and
the Lead explorer, check what the member sees, export the leads as CSV.

Screenshots land in ``LEADLY_SCREENSHOT_DIR`` (default: the system temp folder).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apps.browser import CHROMIUM, CHROMIUM_ARGS, MISSING, SHOTS, streamlit
from tests.apps.conftest import SeededTeam
from tests.plugin import PASSWORD

pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("apps"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=MISSING),
]


@pytest.fixture(scope="module")
def ui_url(api_url: str, teams: dict[str, SeededTeam]) -> Iterator[str]:
    """The app (``streamlit run apps/server.py``) on a free port, talking to the test API."""
    with streamlit(api_url) as base:
        yield base


def test_sign_in_overview_and_lead_explorer_in_chromium(
    ui_url: str, teams: dict[str, SeededTeam]
) -> None:
    from playwright.sync_api import expect, sync_playwright

    acme = teams["acme"]
    expect.set_options(timeout=60_000)  # first page loads import pandas, altair, SQLAlchemy
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
            page.set_default_timeout(60_000)
            page.goto(ui_url)

            # A wrong password: the API's problem detail, no session.
            page.get_by_role("textbox", name="Email").fill(acme.email)
            page.get_by_role("textbox", name="Password").fill("not-the-password")
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_text("Sign-in failed:")).to_be_visible()

            page.get_by_role("textbox", name="Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_text("Signed in as").first).to_be_visible()
            expect(page.get_by_text("Acme Dashboards Owner").first).to_be_visible()
            page.screenshot(path=str(SHOTS / "leadly-e2e-home.png"), full_page=True)

            # Overview: the team's KPI cards.
            page.get_by_role("link", name="Overview").first.click()
            expect(page.get_by_role("heading", name="Overview")).to_be_visible()
            card = page.get_by_test_id("stMetric").filter(has_text="Leads created")
            expect(card.get_by_test_id("stMetricValue")).to_have_text(str(acme.leads))
            calls = page.get_by_test_id("stMetric").filter(has_text="Calls logged")
            expect(calls.get_by_test_id("stMetricValue")).to_have_text("3")
            expect(page.get_by_test_id("stVegaLiteChart").first).to_be_visible()  # daily trend
            page.screenshot(path=str(SHOTS / "leadly-e2e-overview.png"), full_page=True)

            # Lead explorer: the team's leads, filtered, exported.
            page.get_by_role("link", name="Lead explorer").first.click()
            expect(page.get_by_role("heading", name="Lead explorer")).to_be_visible()
            expect(
                page.get_by_text(f"{acme.leads} leads match · page 1 · rows 1–{acme.leads}")
            ).to_be_visible()
            page.get_by_role("textbox", name="Sources (comma-separated)").fill("website")
            page.get_by_role("button", name="Apply filters").click()
            website = acme.leads_by_source["website"]
            expect(
                page.get_by_text(f"{website} leads match · page 1 · rows 1–{website}")
            ).to_be_visible()
            page.get_by_role("button", name="Prepare export").click()
            download_button = page.get_by_role("button", name="Download leads.csv")
            expect(download_button).to_be_visible()
            page.screenshot(path=str(SHOTS / "leadly-e2e-explorer.png"), full_page=True)
            with page.expect_download() as info:
                download_button.click()
            content = Path(info.value.path()).read_text(encoding="utf-8-sig")
            rows = list(csv.DictReader(io.StringIO(content)))
            assert len(rows) == website
            assert {r["source"] for r in rows} == {"website"}
            assert {r["last_name"] for r in rows} == {"AcmeDashboards"}
        finally:
            browser.close()
