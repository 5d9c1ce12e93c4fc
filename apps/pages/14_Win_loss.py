"""Win/loss: won and lost deals by close month, reason, competitor, owner and source
(``rpt_win_loss``)."""

from __future__ import annotations

import altair as alt
import streamlit as st

from apps import data, fmt, lookup, ui

session = ui.start("Win/loss")
start, end = ui.date_range("wl_range", default_days=180)
rows = ui.report(
    lambda: data.win_loss(session.team_id, start, end),
    "win/loss analysis",
    "No deals were won or lost in this period.",
)

won = rows[rows["outcome"] == "won"]
lost = rows[rows["outcome"] == "lost"]
n_won, n_lost = int(won["deals"].sum()), int(lost["deals"].sum())
m = st.columns(4)
m[0].metric("Won", f"{n_won:,}", border=True)
m[1].metric("Lost", f"{n_lost:,}", border=True)
m[2].metric("Win rate", f"{n_won / (n_won + n_lost):.0%}" if n_won + n_lost else "—", border=True)
won_value = won["total_value"].sum()
m[3].metric("Won value", fmt.kpi(won_value), help=fmt.money(won_value), border=True)


def bars(df, by: str, title: str):
    agg = df.groupby([by, "outcome"])["deals"].sum().reset_index()
    return (
        alt.Chart(agg)
        .mark_bar()
        .encode(
            x=alt.X("deals:Q", title="Deals"),
            y=alt.Y(f"{by}:N", sort="-x", title=None),
            color=alt.Color(
                "outcome:N", scale=alt.Scale(domain=["won", "lost"], range=["#70ad47", "#c00000"])
            ),
            tooltip=[by, "outcome", "deals"],
        )
        .properties(title=title, height=max(120, 28 * agg[by].nunique()))
    )


left, right = st.columns(2)
with left:
    st.altair_chart(bars(rows, "reason", "Reasons"), width="stretch")
    st.altair_chart(bars(rows, "source", "By source"), width="stretch")
with right:
    st.altair_chart(bars(rows, "competitor", "Competitors"), width="stretch")
    names = lookup.members(session.api, session.team_id)
    owners = rows.assign(owner=rows["owner_id"].map(lambda v: names.get(v, "Unassigned")))
    st.altair_chart(bars(owners, "owner", "By owner"), width="stretch")
monthly = rows.groupby(["close_month", "outcome"])["deals"].sum().reset_index()
st.altair_chart(
    alt.Chart(monthly)
    .mark_bar()
    .encode(x="close_month:T", y="deals:Q", color="outcome:N", xOffset="outcome:N")
    .properties(title="By close month", height=220),
    width="stretch",
)
st.dataframe(
    lookup.readable(
        session.api, session.team_id, rows.assign(close_month=rows["close_month"].map(fmt.month))
    ),
    hide_index=True,
    width="stretch",
    key="wl_table",
)
