"""Helpers of the browser tests: Debian's chromium driven by Playwright against a real
``streamlit run apps/server.py`` (the app and its sign-in cookie route) and the real API."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.plugin import APPS, PASSWORD, child, free_port, wait_http

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = Path(os.environ.get("LEADLY_SCREENSHOT_DIR") or tempfile.gettempdir())
MISSING = "/usr/bin/chromium is missing (apt-get install chromium; .ci/run installs it)"

# Counts the script runs the page sees: Streamlit marks its root with the run's state.
COUNT_RUNS = """
window.__leadlyRuns = 0;
new MutationObserver((changes) => {
  for (const c of changes) {
    if (c.target.getAttribute('data-test-script-state') === 'running') window.__leadlyRuns++;
  }
}).observe(document, {subtree: true, attributes: true,
                      attributeFilter: ['data-test-script-state']});
"""


@contextlib.contextmanager
def streamlit(api_url: str) -> Iterator[str]:
    """``streamlit run apps/server.py`` on a free port, talking to ``api_url``; yields its URL."""
    port = free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(APPS / "server.py"), "--server.port",
           str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
           "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false",
           "--client.toolbarMode", "viewer"]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    with child(cmd, {**os.environ, "LEADLY_API_URL": api_url}, "streamlit") as (proc, log):
        wait_http(base + "/_stcore/health", proc, log)
        yield base


@contextlib.contextmanager
def chromium(**context: Any) -> Iterator[Any]:
    """A browser context (``context``: Playwright's new_context options, e.g. ``timezone_id``)
    with generous timeouts: the first page loads import pandas, altair and SQLAlchemy."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=60_000)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            ctx = browser.new_context(viewport={"width": 1600, "height": 1000}, **context)
            ctx.set_default_timeout(60_000)
            yield ctx
        finally:
            browser.close()


def sign_in(page: Any, base: str, email: str, password: str = PASSWORD) -> None:
    """Open the app and sign in through its form."""
    from playwright.sync_api import expect

    page.goto(base)
    page.get_by_role("textbox", name="Email").fill(email)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Signed in as").first).to_be_visible()


def settled(page: Any) -> None:
    """Wait until the app's script is not running (nor asked to run again)."""
    page.wait_for_function(
        "document.querySelector('[data-testid=stApp]')"
        "?.getAttribute('data-test-script-state') === 'notRunning'"
    )


def open_nav(page: Any, label: str) -> None:
    """Open a page from the sidebar's navigation."""
    from playwright.sync_api import expect

    nav = page.get_by_test_id("stSidebarNav")
    more = nav.get_by_role("button", name=re.compile(r"^View \d+ more$"))
    if more.count():
        more.click()
    nav.get_by_role("link", name=label, exact=True).click()
    expect(page.get_by_role("heading", name=label).first).to_be_visible()


def drag(page: Any, card: Any, target: Any) -> None:
    """Drag ``card`` onto ``target`` (locators, in the board's frame) with the mouse."""
    box, to = card.bounding_box(), target.bounding_box()
    assert box and to
    page.mouse.move(box["x"] + 5, box["y"] + 5)
    page.mouse.down()
    page.mouse.move(to["x"] + 10, to["y"] + 30, steps=25)
    page.mouse.up()


def choose(page: Any, label: str, text: str) -> None:
    """Pick the option starting with ``text`` in the selectbox labelled ``label``: type it
    (the options narrow to it) and press Enter; the box then shows it."""
    from playwright.sync_api import expect

    box = page.get_by_test_id("stSelectbox").filter(has=page.get_by_text(label, exact=True))
    combo = box.first.get_by_role("combobox")
    combo.click()
    page.keyboard.type(text)
    page.keyboard.press("Enter")
    expect(combo).to_have_value(re.compile("^" + re.escape(text)))


def wait_for_cookie(ctx: Any, *, present: bool) -> dict[str, Any]:
    """The sign-in cookie once the page has set it (or cleared it): the browser posts the
    ticket after the run that signed in (or out)."""
    page = ctx.pages[0]
    for _ in range(600):
        found = [c for c in ctx.cookies() if c["name"] == "leadly_session"]
        if bool(found) == present:
            return found[0] if found else {}
        page.wait_for_timeout(100)
    raise AssertionError(f"the sign-in cookie was not {'set' if present else 'cleared'}")
