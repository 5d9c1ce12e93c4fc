"""Home: sign-in and sign-out through the real API."""

from __future__ import annotations

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from apps import ui
from tests.apps.conftest import SeededTeam
from tests.plugin import APPS, PASSWORD

# One xdist worker runs the app tests (`--dist loadgroup`): one API server, seed and dbt build.
pytestmark = pytest.mark.xdist_group("apps")


def home() -> AppTest:
    at = AppTest.from_file(str(APPS / "Home.py"), default_timeout=30)
    at.run()
    assert not at.exception, at.exception
    return at


def sign_in(at: AppTest, email: str, password: str) -> AppTest:
    at.text_input(key="sign_in_email").input(email)
    at.text_input(key="sign_in_password").input(password)
    at.button[0].click()  # the form's "Sign in"
    at.run()
    assert not at.exception, at.exception
    return at


def test_sign_in_shows_the_member_and_links_to_the_pages(
    api_url: str, teams: dict[str, SeededTeam]
) -> None:
    acme = teams["acme"]
    at = sign_in(home(), acme.email, PASSWORD)
    assert not at.error, [e.value for e in at.error]
    assert "Acme Dashboards Owner" in at.success[0].value
    assert any("Acme Dashboards" in m.value for m in at.markdown)
    token = at.session_state["token"]
    assert token.startswith("lds_")
    labels = [link.label for link in at.get("page_link")]
    assert [label.split(" — ")[0] for label in labels][:4] == [
        "Overview",
        "Lead funnel",
        "Lead explorer",
        "Imports",
    ]
    # Every page of apps/pages/ is linked from Home, in the sidebar's (number) order.
    pages = sorted((APPS / "pages").glob("*.py"), key=lambda p: int(p.name.split("_", 1)[0]))
    assert [path for path, _, _ in ui.PAGES] == [f"pages/{p.name}" for p in pages]
    assert len(labels) == len(pages)

    # Sign out: the token stops working at the API and the form is back.
    at.button(key="home_sign_out").click()
    at.run()
    assert "token" not in at.session_state
    assert at.text_input(key="sign_in_email") is not None
    r = httpx.get(f"{api_url}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


def test_wrong_password_shows_the_api_problem(teams: dict[str, SeededTeam]) -> None:
    at = sign_in(home(), teams["acme"].email, "not-the-password")
    assert "token" not in at.session_state
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith("Sign-in failed: "), errors
    assert len(errors[0]) > len("Sign-in failed: ")


def test_invalid_email_shows_field_errors(api_url: str) -> None:
    at = sign_in(home(), "x" * 400, "whatever-password")
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "Sign-in failed" in errors[0], errors
    assert "**email**" in errors[0], errors


def test_pages_ask_to_sign_in_first(api_url: str) -> None:
    for page in ("1_Overview.py", "2_Lead_funnel.py", "3_Lead_explorer.py", "4_Imports.py"):
        at = home()
        at.switch_page(f"pages/{page}")
        at.run()
        assert not at.exception, (page, at.exception)
        assert "Sign in on the Home page" in at.info[0].value, page
        assert not at.metric and not at.dataframe, page
