"""The deal pages against a real API server: the board's column numbers, moves through the
move form (the gate's errors shown inline), drag-and-drop diffs, the deal timeline, the pipeline
builder, and the forecast / win-loss pages against their reporting rows."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from apps.deal_board import BoardLayout, board_moves
from tests.apps.browser import CHROMIUM, CHROMIUM_ARGS, SHOTS, drag, streamlit
from tests.apps.conftest import SeededTeam, rpt_rows, seed_team
from tests.plugin import PASSWORD, open_page

# One xdist worker runs the app tests (`--dist loadgroup`): one API server, seed and dbt build.
pytestmark = pytest.mark.xdist_group("apps")

DEAL_REPORTS = ("rpt_forecast", "rpt_weighted_pipeline", "rpt_win_loss")


def api(base: str, team: SeededTeam, method: str, path: str, **kw: Any) -> dict[str, Any]:
    r = httpx.request(method, f"{base}/api/v1{path}", headers=team.headers, timeout=30, **kw)
    assert r.status_code < 300, r.text
    return r.json() if r.content else {}


def submit(at: AppTest, label: str) -> None:
    next(b for b in at.button if b.label == label).click()
    at.run()
    assert not at.exception, at.exception


@pytest.fixture(scope="module")
def sales(api_url: str, database_url: str) -> dict[str, Any]:
    """A team with four deals (one won, one lost) and the deal reports built."""
    team = seed_team(api_url, "Deals Pages", [], with_rep=True)
    d = {
        "big": api(api_url, team, "POST", "/deals", json={"name": "Big one", "value": "1000"}),
        "small": api(api_url, team, "POST", "/deals", json={"name": "Small", "value": "250.5"}),
        "won": api(api_url, team, "POST", "/deals", json={"name": "Won", "value": "300"}),
        "lost": api(api_url, team, "POST", "/deals", json={"name": "Lost", "value": "80"}),
    }
    api(api_url, team, "PATCH", f"/deals/{d['lost']['id']}", json={"competitor": "HubSpot"})
    for key, stage, extra in (
        ("won", "won", {"win_reason": "Fit"}),
        ("lost", "lost", {"loss_reason": "Price"}),
    ):
        api(api_url, team, "POST", f"/deals/{d[key]['id']}/move", json={"stage": stage, **extra})
    from warehouse.dbt import dbt_env, run_dbt

    work = tempfile.mkdtemp(prefix="leadly-apps-deals-dbt-")
    run_dbt(
        ["build", "--select", *(f"+{m}" for m in DEAL_REPORTS), "--exclude", "test_type:unit"],
        env=dbt_env(target_path=f"{work}/target", log_path=f"{work}/logs"),
    )
    return {"team": team, "deals": d, "url": api_url, "db": database_url}


def test_board_numbers_and_moves_with_gate_errors(sales: dict[str, Any]) -> None:
    team, d, base = sales["team"], sales["deals"], sales["url"]
    at = open_page(team, "10_Pipeline_board.py")
    shown = {m.label: m.value for m in at.metric}
    assert shown["Qualified"] == "2" and shown["Won"] == "1" and shown["Lost"] == "1"
    assert any("Total 1,250.50" in c.value for c in at.caption)
    # Losing a deal without a reason: the gate's 422 names the missing field, nothing moves.
    at.selectbox(key="mv_deal").set_value(d["big"]["id"])
    at.selectbox(key="mv_stage").set_value("lost")
    submit(at, "Move")
    errors = "\n".join(e.value for e in at.error)
    assert "loss_reason" in errors, errors
    assert api(base, team, "GET", f"/deals/{d['big']['id']}")["stage"] == "qualified"
    # Entering Negotiation names both of its required fields.
    at.selectbox(key="mv_stage").set_value("negotiation")
    submit(at, "Move")
    errors = "\n".join(e.value for e in at.error)
    assert "expected_close_date" in errors, errors
    # A valid move goes through and the board follows.
    at.selectbox(key="mv_deal").set_value(d["small"]["id"])
    at.selectbox(key="mv_stage").set_value("contact_made")
    submit(at, "Move")
    assert not at.error, [e.value for e in at.error]
    assert api(base, team, "GET", f"/deals/{d['small']['id']}")["stage"] == "contact_made"
    shown = {m.label: m.value for m in at.metric}
    assert shown["Qualified"] == "1" and shown["Contact made"] == "1"
    # Reopening a lost deal needs the checkbox.
    at.selectbox(key="mv_deal").set_value(d["lost"]["id"])
    at.selectbox(key="mv_stage").set_value("qualified")
    submit(at, "Move")
    assert "reopen" in "\n".join(e.value for e in at.error)
    api(base, team, "POST", f"/deals/{d['small']['id']}/move", json={"stage": "qualified"})


def test_new_deal_form_shows_missing_fields(sales: dict[str, Any]) -> None:
    at = open_page(sales["team"], "10_Pipeline_board.py")
    at.text_input(key="nd_name").input("Rushed")
    at.selectbox(key="nd_stage").set_value("proposal_made")
    submit(at, "Create deal")
    errors = "\n".join(e.value for e in at.error)
    assert "value" in errors and "Creating the deal" in errors, errors


def test_drag_and_drop_diff_becomes_moves() -> None:
    deal = {"value": "5", "currency": "USD", "days_in_stage": 1}
    board = {
        "columns": [
            {
                "stage": "a",
                "deals": [
                    {**deal, "id": "deal_01AAAAAAAAAAAAAAAAAAAAAAA1", "name": "One"},
                    {**deal, "id": "deal_01BBBBBBBBBBBBBBBBBBBAAAAA1", "name": "One"},
                ],
            },
            {
                "stage": "b",
                "deals": [{**deal, "id": "deal_01CCCCCCCCCCCCCCCCCCCCCCC3", "name": "3"}],
            },
        ]
    }
    layout = BoardLayout.of(board, {"a": "Alpha", "b": "Beta"})
    before = layout.columns
    assert [c["header"] for c in before] == ["Alpha", "Beta"]
    one, two = before[0]["items"]
    (three,) = before[1]["items"]
    # Same name, value and id tail: the second card shows its whole id.
    assert one.endswith("#AAAAA1") and two.endswith("#deal_01BBBBBBBBBBBBBBBBBBBAAAAA1")
    assert layout.moves(before) == []
    across = [{"header": "Alpha", "items": [two]}, {"header": "Beta", "items": [one, three]}]
    assert layout.moves(across) == [("deal_01AAAAAAAAAAAAAAAAAAAAAAA1", "b", 0)]
    within = [{"header": "Alpha", "items": [two, one]}, {"header": "Beta", "items": [three]}]
    assert layout.moves(within) == [("deal_01BBBBBBBBBBBBBBBBBBBAAAAA1", "a", 0)]
    assert board_moves(before, within) == [(two, "Alpha", 0)]
    dup = BoardLayout.of(board, {"a": "Same", "b": "Same"})
    assert [c["header"] for c in dup.columns] == ["Same (a)", "Same (b)"]


def test_deal_page_shows_the_stage_timeline(sales: dict[str, Any]) -> None:
    at = open_page(sales["team"], "11_Deal.py")
    at.selectbox(key="deal_pick").set_value(sales["deals"]["won"]["id"])
    at.run()
    assert not at.exception and not at.error
    timeline = at.dataframe[0].value
    assert list(timeline["entered"]) == ["Qualified", "Won"]
    assert {m.label: m.value for m in at.metric}["Stage"] == "Won"
    # A value the API refuses (3 decimals) shows its problem inline.
    at.text_input(key="de_value").input("12.345")
    submit(at, "Save")
    assert "value" in "\n".join(e.value for e in at.error)


def test_pipeline_builder_adds_a_stage_and_reps_cannot(sales: dict[str, Any]) -> None:
    team, base = sales["team"], sales["url"]
    at = open_page(team, "12_Pipeline_builder.py")
    at.text_input(key="pb_add_key").input("discovery")
    at.text_input(key="pb_add_name").input("Discovery")
    at.selectbox(key="pb_add_pos").set_value("contact_made")
    submit(at, "Add stage")
    assert not at.error, [e.value for e in at.error]
    pipeline = api(base, team, "GET", f"/pipelines/{sales['deals']['big']['pipeline_id']}")
    keys = [s["key"] for s in pipeline["stages"]]
    assert keys.index("discovery") == keys.index("contact_made") - 1
    rep = open_page(team, "12_Pipeline_builder.py", email=team.rep_email)
    assert any("Only admins" in i.value for i in rep.info)


def test_forecast_and_win_loss_pages_match_their_reports(sales: dict[str, Any]) -> None:
    team = sales["team"]
    today = dt.datetime.now(dt.UTC).date()
    at = open_page(team, "13_Forecast.py")
    shown = {m.label: m.value for m in at.metric}
    ((open_deals, total, weighted),) = rpt_rows(
        sales["db"],
        "SELECT sum(open_deals), sum(total_value), sum(weighted_value) FROM "
        "analytics_reporting.rpt_weighted_pipeline WHERE team_id = %s AND snapshot_date = %s",
        (team.team_id, today),
    )
    assert shown["Open deals"] == f"{int(open_deals):,}"
    assert shown["Pipeline value"] == f"{Decimal(total):,.2f}"
    assert shown["Weighted value"] == f"{Decimal(weighted):,.2f}"
    closed = rpt_rows(
        sales["db"],
        "SELECT total_value FROM analytics_reporting.rpt_forecast WHERE team_id = %s "
        "AND snapshot_date = %s AND forecast_category = 'closed'",
        (team.team_id, today),
    )
    assert shown["Closed"] == f"{Decimal(closed[0][0]):,.2f}"
    wl = open_page(team, "14_Win_loss.py")
    shown = {m.label: m.value for m in wl.metric}
    assert shown["Won"] == "1" and shown["Lost"] == "1" and shown["Win rate"] == "50%"
    assert shown["Won value"] == "300.00"


@pytest.fixture(scope="module")
def streamlit_url(api_url: str) -> Iterator[str]:
    with streamlit(api_url) as base:
        yield base


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing")
def test_drag_a_card_to_another_stage_in_chromium(
    streamlit_url: str, sales: dict[str, Any]
) -> None:
    """The real component: dragging a card calls the move API; the gate's refusal shows."""
    from playwright.sync_api import expect, sync_playwright

    team, base = sales["team"], sales["url"]
    deal = api(base, team, "POST", "/deals", json={"name": "Dragged", "value": "10"})
    expect.set_options(timeout=60_000)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(streamlit_url)
            page.get_by_role("textbox", name="Email").fill(team.email)
            page.get_by_role("textbox", name="Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_text("Signed in as").first).to_be_visible()
            page.get_by_role("link", name="Pipeline board").first.click()
            expect(page.get_by_role("heading", name="Pipeline board")).to_be_visible()
            board = page.frame_locator("iframe[title*='sortables']").first
            card = board.get_by_text("Dragged", exact=False).first
            expect(card).to_be_visible()
            target = board.get_by_text("Contact made", exact=True).first
            drag(page, card, target)
            expect(page.get_by_text("Moved Dragged to Contact made.")).to_be_visible()
            assert api(base, team, "GET", f"/deals/{deal['id']}")["stage"] == "contact_made"
            page.screenshot(path=str(SHOTS / "leadly-e2e-board.png"), full_page=True)
        finally:
            browser.close()
