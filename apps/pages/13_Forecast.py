"""Forecast: the weighted pipeline over time (``rpt_weighted_pipeline``), the forecast by
category and close month as of any day (``rpt_forecast``: a past day shows what the forecast
was that day) and deal velocity per stage (``GET /api/v1/deals/velocity``)."""

from __future__ import annotations

import datetime as dt

import altair as alt
import pandas as pd
import streamlit as st

from apps import data, fmt, lookup, ui
from apps.client import ApiError

session = ui.start("Forecast")
CATEGORIES = ["closed", "commit", "best_case", "pipeline", "omitted", "unknown"]

today = dt.datetime.now(dt.UTC).date()
left, right = st.columns([2, 1])
with left:
    start, end = ui.date_range("fc_range", default_days=30)
with right:
    as_of = st.date_input("Forecast as of", value=today, max_value=today, key="fc_as_of")

try:
    weighted = data.weighted_pipeline(session.team_id, start, end)
    forecast = data.deal_forecast(session.team_id, as_of)
except data.ReportNotReady as e:
    ui.not_ready("forecast", str(e))
    st.stop()

st.subheader("Weighted pipeline")
if weighted.empty:
    st.info("No open deals in this period.")
else:
    latest = weighted[weighted["snapshot_date"] == weighted["snapshot_date"].max()]
    m = st.columns(3)
    m[0].metric("Open deals", f"{int(latest['open_deals'].sum()):,}", border=True)
    for card, (title, col) in zip(
        m[1:],
        (("Pipeline value", "total_value"), ("Weighted value", "weighted_value")),
        strict=True,
    ):
        amount = latest[col].sum()
        card.metric(title, fmt.kpi(amount), help=fmt.money(amount), border=True)
    daily = (
        weighted.groupby(["snapshot_date", "stage_name"], dropna=False)["weighted_value"]
        .sum()
        .reset_index()
    )
    daily["stage_name"] = daily["stage_name"].fillna("(removed stage)")
    st.altair_chart(
        alt.Chart(daily)
        .mark_area()
        .encode(
            x=alt.X("snapshot_date:T", title=None),
            y=alt.Y("weighted_value:Q", title="Weighted value", stack=True),
            color=alt.Color("stage_name:N", title="Stage"),
            tooltip=[
                "snapshot_date:T",
                "stage_name",
                alt.Tooltip("weighted_value:Q", format=",.2f"),
            ],
        )
        .properties(height=280),
        width="stretch",
    )

st.subheader(f"Forecast as of {as_of:%Y-%m-%d}")
if forecast.empty:
    st.info("No deals on that day.")
else:
    totals = forecast.groupby("forecast_category")[["deals", "total_value", "weighted_value"]].sum()
    cats = [c for c in CATEGORIES if c in totals.index]
    for col, cat in zip(st.columns(len(cats)), cats, strict=True):
        col.metric(
            fmt.label(cat),
            fmt.kpi(totals.loc[cat, "total_value"]),
            help=f"{fmt.money(totals.loc[cat, 'total_value'])} · "
            f"{int(totals.loc[cat, 'deals'])} deals · weighted "
            f"{fmt.money(totals.loc[cat, 'weighted_value'])}",
            border=True,
        )
    chart = forecast.copy()
    chart["close_month"] = chart["close_month"].map(
        lambda d: "no date" if pd.isna(d) else f"{d:%Y-%m}"
    )
    st.altair_chart(
        alt.Chart(chart)
        .mark_bar()
        .encode(
            x=alt.X("close_month:N", title="Close month"),
            y=alt.Y("total_value:Q", title="Value"),
            color=alt.Color("forecast_category:N", sort=CATEGORIES, title="Category"),
            tooltip=["close_month", "forecast_category", "deals", "total_value", "weighted_value"],
        )
        .properties(height=280),
        width="stretch",
    )
    table = forecast.assign(close_month=forecast["close_month"].map(fmt.month))
    st.dataframe(
        lookup.readable(session.api, session.team_id, table),
        hide_index=True,
        width="stretch",
        key="fc_table",
    )

st.subheader("Velocity")
try:
    velocity = session.api.get(
        "/deals/velocity", {"from": start.isoformat(), "to": end.isoformat()}
    )
except ApiError as e:
    ui.stop_on_error(e, "Loading the velocity")
rows = pd.DataFrame(velocity["by_pipeline"])
if rows.empty:
    st.info("No stage changes in this period.")
else:
    long = rows.melt(
        id_vars=["stage", "transitions"],
        value_vars=["average_days", "median_days"],
        var_name="measure",
        value_name="days",
    )
    st.altair_chart(
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("days:Q", title="Days in stage"),
            y=alt.Y("stage:N", title=None),
            yOffset="measure:N",
            color=alt.Color("measure:N", title=None),
            tooltip=["stage", "measure", "days", "transitions"],
        )
        .properties(height=60 * len(rows) + 40),
        width="stretch",
    )
    by_owner = pd.DataFrame(velocity["by_owner"])
    with st.expander("By owner"):
        st.dataframe(
            lookup.readable(session.api, session.team_id, by_owner),
            hide_index=True,
            width="stretch",
            key="fc_velocity_owner",
        )
