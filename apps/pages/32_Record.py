"""Record: any lead, contact, account, deal or call log on one page (``?id=<record id>``):
fields with inline edit, related lists, timeline, history, follow and actions. Without an id:
find a record (server-side search) or create one (``?type=leads``)."""

from __future__ import annotations

import streamlit as st

from apps import lookup, objects, record, ui
from apps.client import ApiError

ui.page("Record")
session = ui.require_session()
record_id = st.query_params.get("id")
if record_id:
    record.render(session, record_id)
    st.stop()

st.title("Record")
kinds = list(objects.RECORD_OBJECTS)
wanted = objects.of_type(st.query_params.get("type"))
if wanted and wanted.api_name in kinds:  # the URL says which object (a link, a reload)
    st.session_state["record_kind"] = wanted.api_name
st.session_state.setdefault("record_kind", kinds[0])


def _kind_changed() -> None:
    st.query_params["type"] = st.session_state["record_kind"] or kinds[0]


kind = st.segmented_control(
    "Object",
    kinds,
    format_func=lambda k: objects.OBJECTS[k].plural_label,
    key="record_kind",
    on_change=_kind_changed,
)
desc = objects.OBJECTS[kind or kinds[0]]
find, new = st.tabs([f"Find a {desc.label.lower()}", f"New {desc.label.lower()}"])
with find:
    q = st.text_input(f"Search {desc.plural_label.lower()}", key=f"record_q_{desc.api_name}")
    try:
        rows = lookup.find(session.api, desc, q, 50)
    except ApiError as e:
        ui.stop_on_error(e, "Searching")
    record.table(
        session.api,
        desc,
        rows,
        team_id=session.team_id,
        zone=session.member.get("time_zone") or "UTC",
        key=f"record_find_{desc.api_name}",
    )
    st.caption("Click a row (or its name) to open the record.")
with new:
    record.create(session, desc)
