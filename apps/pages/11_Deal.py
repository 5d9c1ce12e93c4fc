"""Deal: one deal's numbers, its stage timeline (``GET /deals/{id}/stage-history``) and an
edit form (PATCH with If-Match, the deal gate's errors shown as the API names them)."""

from __future__ import annotations

import datetime as dt

import altair as alt
import pandas as pd
import streamlit as st

from apps import fmt, lookup, record, ui
from apps.client import ApiError

session = ui.start("Deal")
api = session.api

wanted = st.query_params.get("id") or st.query_params.get("deal")
deal_id = record.picker(
    api,
    "Deal",
    "deals",
    key="deal",
    current=wanted,
    current_name=lookup.names(api, [wanted]).get(wanted or ""),
)
if not deal_id:
    st.info("Find a deal above (or create one on the Pipeline board).")
    st.stop()
st.query_params["id"] = deal_id
st.page_link(record.RECORD_PAGE, label="Open the deal's record page", query_params={"id": deal_id})
try:
    deal = api.get(f"/deals/{deal_id}")
    pipeline = api.get(f"/pipelines/{deal['pipeline_id']}")
    history = api.get(f"/deals/{deal_id}/stage-history")["data"]
except ApiError as e:
    ui.stop_on_error(e, "Loading the deal")
stages = {s["key"]: s for s in pipeline["stages"]}
members = lookup.members(api, session.team_id)
stage_name = stages.get(deal["stage"], {}).get("name", deal["stage"])

m = st.columns(5)
m[0].metric(
    "Stage", stage_name, help=f"{pipeline['name']} · {fmt.label(deal['status'])}", border=True
)
m[1].metric(
    "Value",
    fmt.kpi(deal["value"], deal["currency"]),
    help=f"{fmt.money(deal['value'], deal['currency'])} · {fmt.label(deal['value_type'])}",
    border=True,
)
m[2].metric(
    "Weighted",
    fmt.kpi(deal["weighted_value"], deal["currency"]),
    help=fmt.money(deal["weighted_value"], deal["currency"]),
    border=True,
)
m[3].metric("Probability", f"{deal['probability']}%", border=True)
m[4].metric(
    "Days in stage",
    deal["days_in_stage"],
    help="rotting" if deal["is_rotting"] else None,
    border=True,
)
if deal["is_rotting"]:
    st.warning(f"This deal has been in {stage_name} for {deal['days_in_stage']} days.")

st.subheader("Stage timeline")
rows = [
    {
        "entered": stages.get(h["to_stage"], {}).get("name", h["to_stage"]),
        "from": stages.get(h["from_stage"], {}).get("name", h["from_stage"])
        if h["from_stage"]
        else "(created)",
        "changed_at": pd.to_datetime(h["changed_at"]),
        "changed_by": members.get(h["changed_by"] or "", "Leadly"),
        "days_in_previous_stage": None
        if h["duration_in_stage"] is None
        else round(h["duration_in_stage"] / 86400, 2),
    }
    for h in history
]
timeline = pd.DataFrame(rows)
st.dataframe(timeline, hide_index=True, width="stretch", key="deal_timeline")
spent = timeline.dropna(subset=["days_in_previous_stage"])
if not spent.empty:
    st.altair_chart(
        alt.Chart(spent)
        .mark_bar()
        .encode(
            x=alt.X("days_in_previous_stage:Q", title="Days"),
            y=alt.Y("from:N", sort=None, title="Stage"),
            tooltip=["from", "entered", "days_in_previous_stage", "changed_at"],
        )
        .properties(height=40 * len(spent) + 40),
        width="stretch",
    )

st.subheader("Edit")
with st.form("deal_edit"):
    value = st.text_input("Value", value=deal["value"] or "", key="de_value")
    probability = st.number_input(
        "Probability", 0, 100, value=int(deal["probability"]), key="de_prob"
    )
    close = st.date_input(
        "Expected close",
        value=dt.date.fromisoformat(deal["expected_close_date"])
        if deal["expected_close_date"]
        else None,
        key="de_close",
    )
    next_step = st.text_input("Next step", value=deal["next_step"] or "", key="de_next")
    competitor = st.text_input("Competitor", value=deal["competitor"] or "", key="de_comp")
    save = st.form_submit_button("Save")
if save:
    body = {
        "value": value.strip() or None,
        "probability": int(probability),
        "expected_close_date": close.isoformat() if isinstance(close, dt.date) else None,
        "next_step": next_step.strip() or None,
        "competitor": competitor.strip() or None,
    }
    try:
        api.request(
            "PATCH",
            f"/deals/{deal_id}",
            json=body,
            headers={"If-Match": f'"{deal["version"]}"'},
        )
    except ApiError as e:
        ui.show_api_error(e, "Saving the deal")
    else:
        st.success("Saved.")
        st.rerun()
