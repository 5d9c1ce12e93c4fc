"""The pages with data: the numbers they show come from the signed-in member's team only and
match the team's reporting rows; the Lead explorer lists, pages and exports through the API."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from apps import data
from tests.apps.conftest import SeededTeam, rpt_rows
from tests.plugin import open_page

# One xdist worker runs the app tests (`--dist loadgroup`): one API server, seed and dbt build.
pytestmark = pytest.mark.xdist_group("apps")


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def page_text(at: AppTest) -> str:
    parts = [e.value for e in (*at.markdown, *at.caption, *at.info, *at.title, *at.subheader)]
    for df in at.dataframe:
        parts.append(df.value.to_csv())
    return "\n".join(str(p) for p in parts)


def funnel_totals(database_url: str, team_id: str) -> dict[str, int]:
    row = rpt_rows(
        database_url,
        "SELECT sum(leads_created), sum(leads_contacted), sum(leads_qualified), "
        "sum(leads_converted) FROM analytics_reporting.rpt_lead_funnel WHERE team_id = %s",
        (team_id,),
    )[0]
    return dict(zip(data.FUNNEL_STEPS, (int(v or 0) for v in row), strict=True))


# --------------------------------------------------------------------------- Overview


def test_overview_shows_the_teams_kpis_with_trends(teams: dict[str, SeededTeam]) -> None:
    acme = teams["acme"]
    at = open_page(acme, "1_Overview.py")
    shown = metrics(at)
    assert shown["Leads created"] == str(acme.leads) == "12"
    assert shown["Calls logged"] == "3"
    assert len(shown) == 9
    created = next(m for m in at.metric if m.label == "Leads created")
    # All of it happened today, nothing in the previous period: an upward trend of +12.
    assert created.proto.delta == "12"
    assert "Previous period: 0" in created.proto.help
    assert at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart"), "no trend chart"


def test_overview_of_a_period_without_data(teams: dict[str, SeededTeam]) -> None:
    at = open_page(teams["acme"], "1_Overview.py")
    long_ago = (dt.date(2020, 1, 1), dt.date(2020, 1, 31))
    at.date_input(key="overview_range").set_value(long_ago)
    at.run()
    assert not at.exception and not at.metric
    assert "No activity" in at.info[0].value


# --------------------------------------------------------------------------- Lead funnel


def test_funnel_numbers_match_the_teams_data(
    database_url: str, teams: dict[str, SeededTeam]
) -> None:
    acme = teams["acme"]
    expected = funnel_totals(database_url, acme.team_id)
    assert expected["created"] == acme.leads == 12
    # What the API wrote: 3 of 12 leads still new, one unqualified; one converted.
    assert expected["converted"] == 1
    at = open_page(acme, "2_Lead_funnel.py")
    shown = metrics(at)
    for step, n in expected.items():
        assert shown[f"Leads {step}"] == f"{n:,}", (step, shown)

    at.radio(key="funnel_by").set_value("Source")
    at.run()
    assert not at.exception
    table = at.dataframe[0].value.set_index("Source")
    assert table["Created"].to_dict() == acme.leads_by_source
    charts = at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")
    assert len(charts) == 3  # one funnel per source

    at.radio(key="funnel_by").set_value("Owner")
    at.run()
    table = at.dataframe[0].value.set_index("Owner")
    assert table["Created"].to_dict() == {
        "Acme Dashboards Owner": 8,
        "Acme Dashboards Rep": 4,
    }


def test_pages_never_show_another_teams_numbers(
    database_url: str, teams: dict[str, SeededTeam]
) -> None:
    globex, acme = teams["globex"], teams["acme"]
    at = open_page(globex, "2_Lead_funnel.py")
    assert metrics(at)["Leads created"] == "7"
    at.radio(key="funnel_by").set_value("Source")
    at.run()
    assert list(at.dataframe[0].value["Source"]) == ["cold_call"]
    text = page_text(at)
    for source in acme.leads_by_source:
        assert source not in text

    at = open_page(globex, "1_Overview.py")
    assert metrics(at)["Leads created"] == "7"

    at = open_page(globex, "3_Lead_explorer.py")
    listed = at.dataframe[0].value
    assert len(listed) == 7 and listed["Lead"].str.contains("GlobexDashboards").all()


def test_the_dashboard_connection_is_scoped_to_one_team(teams: dict[str, SeededTeam]) -> None:
    """Row-level security, not the query's filter: a query without any team condition still
    sees only the team of the transaction."""
    acme = teams["acme"]
    for table in ("rpt_lead_funnel", "rpt_daily_rollup"):
        rows = data.read_report(acme.team_id, f"SELECT team_id FROM {data.SCHEMA}.{table}")
        assert set(rows["team_id"]) == {acme.team_id}, table
        nobody = data.read_report("team_nobody", f"SELECT * FROM {data.SCHEMA}.{table}")
        assert nobody.empty, table


def test_missing_reports_show_an_info_not_a_traceback(
    teams: dict[str, SeededTeam], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(data, "SCHEMA", "analytics_not_built_yet")
    st.cache_data.clear()
    try:
        for page in ("1_Overview.py", "2_Lead_funnel.py"):
            at = open_page(teams["acme"], page)
            assert "reporting models have not been built" in at.info[0].value, page
            assert not at.metric
    finally:
        st.cache_data.clear()


# --------------------------------------------------------------------------- Lead explorer


def test_explorer_filters_pages_and_sorts(teams: dict[str, SeededTeam]) -> None:
    acme = teams["acme"]
    at = open_page(acme, "3_Lead_explorer.py")
    listed = at.dataframe[0].value
    assert len(listed) == 12
    assert set(listed["Owner"]) == {"Acme Dashboards Owner", "Acme Dashboards Rep"}
    assert "12 leads match" in at.caption[0].value
    # Each row's name opens the lead's record page.
    assert listed["Lead"].str.match(r"^/Record\?id=lead_\w+#Lead\d+ AcmeDashboards").all()

    at.multiselect(key="lx_status").set_value(["contacted"])
    at.text_input(key="lx_sources").input("website, referral")
    at.button[0].click()  # Apply filters
    at.run()
    listed = at.dataframe[0].value
    assert sorted(listed["Source"]) == ["referral", "website", "website"]
    assert set(listed["Status"]) == {"Contacted"}  # a label, not the key
    assert "3 leads match" in at.caption[0].value

    at.multiselect(key="lx_status").set_value([])
    at.text_input(key="lx_sources").input("")
    at.selectbox(key="lx_limit").set_value(10)
    at.selectbox(key="lx_sort").set_value("Company A–Z")
    at.button[0].click()
    at.run()
    first = at.dataframe[0].value
    assert len(first) == 10
    assert list(first["Company name"]) == sorted(first["Company name"])
    at.button(key="lx_next").click()
    at.run()
    second = at.dataframe[0].value
    assert len(second) == 2 and at.button(key="lx_next").disabled
    assert not set(first["Lead"]) & set(second["Lead"])
    at.button(key="lx_prev").click()
    at.run()
    assert list(at.dataframe[0].value["Lead"]) == list(first["Lead"])
    # Chosen columns only.
    at.multiselect(key="lx_columns").set_value(["email", "rating"])
    at.button[0].click()
    at.run()
    assert list(at.dataframe[0].value.columns) == ["Lead", "Email", "Rating"]


def test_explorer_bad_filter_shows_the_api_problem(teams: dict[str, SeededTeam]) -> None:
    at = open_page(teams["acme"], "3_Lead_explorer.py")
    at.text_input(key="lx_email").input("\x00")
    at.button[0].click()
    at.run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert errors and errors[0].startswith("Could not list the leads"), errors


def test_explorer_export(teams: dict[str, SeededTeam]) -> None:
    at = open_page(teams["acme"], "3_Lead_explorer.py")
    at.text_input(key="lx_sources").input("linkedin")
    at.button[0].click()
    at.run()
    at.selectbox(key="lx_export_format").set_value("csv")
    at.button(key="lx_export_prepare").click()
    at.run()
    assert not at.error, [e.value for e in at.error]
    fmt, content = at.session_state["lx_export"]
    assert fmt == "csv"
    import io

    exported = pd.read_csv(io.BytesIO(content))
    assert len(exported) == 3 and set(exported["source"]) == {"linkedin"}
    assert set(exported["owner"]) == {"Acme Dashboards Owner"}  # names beside the ids
    assert at.get("download_button")
