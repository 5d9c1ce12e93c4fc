"""Overview: the team's KPIs over a date range, each with its change against the period of the
same length just before (``rpt_daily_rollup``, dimension ``all``)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from apps import data, ui

session = ui.start("Overview")

start, end = ui.date_range("overview_range")
prev_start, prev_end = data.previous_period(start, end)
st.caption(
    f"{start:%Y-%m-%d} to {end:%Y-%m-%d}, compared with {prev_start:%Y-%m-%d} to "
    f"{prev_end:%Y-%m-%d}. Source: analytics_reporting.rpt_daily_rollup."
)

rollup = ui.report(
    lambda: data.daily_rollup(session.team_id, prev_start, end),
    "KPIs",
    "No activity in this period or the one before it yet.",
)

now = data.metric_totals(rollup, start, end)
before = data.metric_totals(rollup, prev_start, prev_end)

CARDS = (
    ("leads_created", "Leads created"),
    ("leads_contacted", "Leads contacted"),
    ("leads_qualified", "Leads qualified"),
    ("leads_converted", "Leads converted"),
    ("calls_logged", "Calls logged"),
    ("calls_connected", "Calls connected"),
    ("call_minutes", "Call minutes"),
    ("contacts_created", "Contacts created"),
    ("accounts_created", "Accounts created"),
)


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}"


for row in (CARDS[:4], CARDS[4:7], CARDS[7:]):
    for col, (metric, label) in zip(st.columns(4), row, strict=False):
        delta = now[metric] - before[metric]
        col.metric(
            label,
            _fmt(now[metric]),
            delta=_fmt(delta) if delta else "0",
            delta_color="normal" if delta else "off",
            help=f"Previous period: {_fmt(before[metric])}",
            border=True,
        )

st.subheader("Daily trend")
current = rollup[(rollup["metric_date"] >= start) & (rollup["metric_date"] <= end)]
choices = [m for m, _ in CARDS]
labels = dict(CARDS)
picked = st.multiselect(
    "Metrics",
    choices,
    default=["leads_created", "leads_contacted", "calls_logged"],
    format_func=lambda m: labels[m],
    key="overview_metrics",
)
if picked and not current.empty:
    days = pd.date_range(start, end, freq="D").date
    wide = (
        current[current["metric"].isin(picked)]
        .pivot_table(index="metric_date", columns="metric", values="value", aggfunc="sum")
        .reindex(index=days, columns=picked)
        .fillna(0)
        .rename(columns=labels)
    )
    wide.index.name = "date"
    st.line_chart(wide)
elif picked:
    st.info("No activity in this period yet.")
