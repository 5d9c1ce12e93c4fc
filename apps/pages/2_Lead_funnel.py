"""Lead funnel: created → contacted → qualified → converted for leads created in a date range,
by source or by owner, with conversion rates and hours between steps (``rpt_lead_funnel``)."""

from __future__ import annotations

import altair as alt
import streamlit as st

from apps import data, ui

session = ui.start("Lead funnel")

left, right = st.columns([2, 1])
with left:
    start, end = ui.date_range("funnel_range", default_days=90)
with right:
    by_label = st.radio(
        "Split by", ["All leads", "Source", "Owner"], horizontal=True, key="funnel_by"
    )
by = {"All leads": None, "Source": "source", "Owner": "owner_name"}[by_label]
st.caption(
    f"Leads created {start:%Y-%m-%d} to {end:%Y-%m-%d}; each step counts the leads that "
    "reached it. Source: analytics_reporting.rpt_lead_funnel."
)

rows = ui.report(
    lambda: data.lead_funnel(session.team_id, start, end),
    "funnel",
    "No leads were created in this period.",
)

with st.expander("Filter", expanded=False):
    sources = sorted(rows["source"].unique())
    owners = sorted(rows["owner_name"].unique())
    pick_sources = st.multiselect("Sources", sources, key="funnel_sources")
    pick_owners = st.multiselect("Owners", owners, key="funnel_owners")
if pick_sources:
    rows = rows[rows["source"].isin(pick_sources)]
if pick_owners:
    rows = rows[rows["owner_name"].isin(pick_owners)]
if rows.empty:
    st.info("No leads match these filters.")
    st.stop()

total = data.funnel_summary(rows)
t = total.iloc[0]
for col, step in zip(st.columns(4), data.FUNNEL_STEPS, strict=True):
    n = int(t[f"leads_{step}"])
    rate = "" if step == "created" else f"{t[f'{step}_rate']:.1%} of created"
    col.metric(f"Leads {step}", f"{n:,}", help=rate or None, border=True)
    if rate:
        col.caption(rate)

summary = data.funnel_summary(rows, by)
segments = list(summary["segment"])
if by and len(segments) > 12:
    st.caption(f"Showing the 12 largest of {len(segments)} segments.")
    summary = summary.head(12)
long = data.funnel_long(summary)
STEP_LABELS = [s.capitalize() for s in data.FUNNEL_STEPS]
STEP_COLORS = ["#1f4e79", "#2e75b6", "#5b9bd5", "#70ad47"]


def funnel_chart(part):
    """Horizontal bars centred on one axis, widest at the top: one funnel."""
    order = list(part.sort_values("step_order")["label"])
    return (
        alt.Chart(part)
        .mark_bar()
        .encode(
            y=alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=260)),
            x=alt.X("leads:Q", stack="center", axis=None),
            color=alt.Color(
                "step:N",
                sort=STEP_LABELS,
                scale=alt.Scale(domain=STEP_LABELS, range=STEP_COLORS),
                legend=None,
            ),
            tooltip=[
                alt.Tooltip("segment:N", title="Segment"),
                alt.Tooltip("step:N", title="Step"),
                alt.Tooltip("leads:Q", title="Leads", format=","),
                alt.Tooltip("share:Q", title="Of created", format=".1%"),
            ],
        )
        .properties(height=170, title=str(part["segment"].iloc[0]) if by else "")
    )


if by:
    cols = st.columns(3)
    for i, segment in enumerate(summary["segment"]):
        with cols[i % 3]:
            st.altair_chart(funnel_chart(long[long["segment"] == segment]), width="stretch")
else:
    st.altair_chart(funnel_chart(long), width="stretch")

st.subheader("By " + by_label.lower() if by else "Summary")
table = summary.rename(
    columns={
        "segment": by_label if by else "Segment",
        "leads_created": "Created",
        "leads_contacted": "Contacted",
        "leads_qualified": "Qualified",
        "leads_converted": "Converted",
        "contacted_rate": "Contacted %",
        "qualified_rate": "Qualified %",
        "converted_rate": "Converted %",
        "avg_hours_to_contacted": "Hours to contacted",
        "avg_hours_to_qualified": "Hours to qualified",
        "avg_hours_to_converted": "Hours to converted",
    }
)
st.dataframe(
    table,
    hide_index=True,
    width="stretch",
    column_config={
        **{
            c: st.column_config.NumberColumn(format="%d")
            for c in ("Created", "Contacted", "Qualified", "Converted")
        },
        **{
            c: st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1)
            for c in ("Contacted %", "Qualified %", "Converted %")
        },
        **{
            c: st.column_config.NumberColumn(format="%.1f")
            for c in ("Hours to contacted", "Hours to qualified", "Hours to converted")
        },
    },
)
