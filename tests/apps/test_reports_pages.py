"""The report builder and dashboards pages, through the API as the signed-in member: the
catalogue drives the builder, a preview runs, a report saved on the page is the member's, and a
dashboard made from a template shows its widgets."""

from __future__ import annotations

import httpx
import pytest

from tests.apps.conftest import SeededTeam
from tests.plugin import open_page

pytestmark = pytest.mark.xdist_group("apps")


def test_report_builder_previews_and_saves(teams: dict[str, SeededTeam], api_url: str) -> None:
    acme = teams["acme"]
    at = open_page(acme, "50_Report_builder.py")
    chosen = at.multiselect(key="rb_metrics")
    assert "Lead conversion rate" in chosen.options and chosen.value == ["leads_created"]
    at.multiselect(key="rb_dims").set_value(["lead_source"]).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.dataframe, "no preview"
    at.text_input(key="rb_name").input("Leads by source (page)")
    at.radio(key="rb_visibility").set_value("team")
    next(b for b in at.button if b.label == "Save report").click().run()
    assert not at.error, [e.value for e in at.error]
    saved = httpx.get(f"{api_url}/api/v1/reports", headers=acme.headers).json()["data"]
    mine = next(r for r in saved if r["name"] == "Leads by source (page)")
    assert mine["dimensions"] == ["lead_source"] and mine["visibility"] == "team"
    other = teams["globex"]
    theirs = httpx.get(f"{api_url}/api/v1/reports", headers=other.headers).json()["data"]
    assert all(r["id"] != mine["id"] for r in theirs)


def test_dashboards_page_shows_a_templates_widgets(
    teams: dict[str, SeededTeam], api_url: str
) -> None:
    globex = teams["globex"]
    at = open_page(globex, "51_Dashboards.py")
    assert any("No dashboards yet" in i.value for i in at.info)
    r = httpx.post(
        f"{api_url}/api/v1/dashboard-templates/rep/dashboards", json={}, headers=globex.headers
    )
    assert r.status_code == 201, r.text
    at = open_page(globex, "51_Dashboards.py")
    titles = [s.value for s in at.subheader]
    assert {
        "Sales funnel",
        "Activities: calls, emails, meetings",
        "Lead source attribution",
    } <= set(titles)
