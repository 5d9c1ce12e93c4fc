"""Record timeline: every interaction and change on a lead, contact, account (with its
contacts' and deals') or deal, with filters, grouping, comment threads and @mentions.

Open a record directly with ``?type=lead&id=lead_...`` (other pages link here)."""

from __future__ import annotations

import streamlit as st

from apps import timeline, ui
from apps.client import ApiError

session = ui.start("Record timeline")
api = session.api

LABEL_FIELDS = {
    "leads": ("first_name", "last_name", "company_name", "email"),
    "contacts": ("first_name", "last_name", "email"),
    "accounts": ("name", "domain"),
    "deals": ("name",),
}


def label(plural: str, row: dict) -> str:
    parts = [str(row[f]) for f in LABEL_FIELDS[plural] if row.get(f)]
    return " · ".join(parts) or row["id"]


wanted_type = st.query_params.get("type", "lead")
labels = list(timeline.OBJECTS)
default = next((i for i, k in enumerate(labels) if timeline.OBJECTS[k][1] == wanted_type), 0)
c1, c2 = st.columns([1, 3])
kind = c1.selectbox("Record type", labels, index=default, key="rt_kind")
plural, _singular = timeline.OBJECTS[kind]
try:
    page = api.list(
        plural,
        {"limit": "200", "sort": "-created_at", "fields": ",".join(LABEL_FIELDS[plural])},
    )
except ApiError as e:
    ui.stop_on_error(e, f"Could not list the {plural}")
records = {r["id"]: label(plural, r) for r in page.get("data", [])}
wanted_id = st.query_params.get("id")
if wanted_id and wanted_id not in records:
    records = {wanted_id: wanted_id, **records}
if not records:
    st.info(f"No {plural} yet.")
    st.stop()
ids = list(records)
record_id = c2.selectbox(
    "Record",
    ids,
    index=ids.index(wanted_id) if wanted_id in records else 0,
    format_func=lambda i: records.get(i, i),
    key=f"rt_record_{plural}",
)
if plural == "accounts":
    st.caption("An account's timeline also shows its contacts' and deals' entries.")
timeline.render(api, plural, record_id, team_id=session.team_id, key="rt")
