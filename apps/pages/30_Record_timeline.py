"""Record timeline: every interaction and change on a lead, contact, account (with its
contacts' and deals') or deal, with filters, grouping, comment threads and @mentions.

Open a record directly with ``?type=lead&id=lead_...`` (other pages link here)."""

from __future__ import annotations

import streamlit as st

from apps import lookup, record, timeline, ui

session = ui.start("Record timeline")
api = session.api

wanted_type = st.query_params.get("type", "lead")
labels = list(timeline.OBJECTS)
default = next((i for i, k in enumerate(labels) if timeline.OBJECTS[k][1] == wanted_type), 0)
c1, c2 = st.columns([1, 3])
kind = c1.selectbox("Record type", labels, index=default, key="rt_kind")
plural, _singular = timeline.OBJECTS[kind]
wanted_id = st.query_params.get("id")
with c2:
    # Found by the API as you type (every record, not the first page of a list).
    record_id = record.picker(
        api,
        "Record",
        plural,
        key=f"rt_record_{plural}",
        current=wanted_id,
        current_name=lookup.names(api, [wanted_id]).get(wanted_id or ""),
    )
if not record_id:
    st.info(f"Find a {kind.lower()} above.")
    st.stop()
st.page_link(record.RECORD_PAGE, label="Open its record page", query_params={"id": record_id})
if plural == "accounts":
    st.caption("An account's timeline also shows its contacts' and deals' entries.")
timeline.render(api, plural, record_id, team_id=session.team_id, key="rt")
