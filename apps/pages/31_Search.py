"""Search: the records whose names, emails, companies or deals match (each object's list
filters, searched by the API), then full-text search over the team's activities and comments
(``GET /api/v1/search/activities?q=``): best matches first, matching words highlighted. The
sidebar's search box opens this page with ``?q=``; every hit opens its record's page."""

from __future__ import annotations

import hashlib
import json

import streamlit as st

from apps import fmt, lookup, objects, record, timeline, ui
from apps.client import ApiError
from leadly.html import sanitize as safe_html

session = ui.start("Search")
api = session.api
st.caption(
    'All words must match (stemmed: "renewals" finds "renewal"); "quoted phrase", '
    "word OR word and -word work like a web search."
)

if "q" in st.query_params and st.session_state.get("search_from_url") != st.query_params["q"]:
    st.session_state["search_from_url"] = st.session_state["search_q"] = st.query_params["q"]
with st.form("search_form"):
    c1, c2 = st.columns([3, 1])
    q = c1.text_input("Search for", key="search_q")
    types = c2.multiselect("Types", timeline.TYPES, key="search_types")
    st.form_submit_button("Search", type="primary")

if not q.strip():
    st.info("Type what you are looking for.")
    st.stop()
st.query_params["q"] = q.strip()
zone = session.member.get("time_zone") or "UTC"
st.subheader("Records")
found = lookup.search_all(api, q)
if not found:
    st.caption("No lead, contact, account, deal or call log matches.")
for api_name in objects.RECORD_OBJECTS:
    desc = objects.OBJECTS[api_name]
    rows = [r for d, r in found if d is desc]
    if rows:
        st.markdown(f"**{desc.plural_label}**")
        record.table(api, desc, rows, team_id=session.team_id, zone=zone, key=f"search_{api_name}")
st.subheader("Activities and comments")
params = {"q": q.strip(), "limit": "20"}
if types:
    params["type"] = ",".join(types)
signature = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()
if st.session_state.get("search_signature") != signature:
    st.session_state["search_signature"] = signature
    st.session_state["search_cursors"] = [None]
cursors: list[str | None] = st.session_state["search_cursors"]
try:
    page = api.get(
        "/search/activities", {**params, **({"cursor": cursors[-1]} if cursors[-1] else {})}
    )
except ApiError as e:
    ui.stop_on_error(e, "Search failed")

names = lookup.members(api, session.team_id)
hits = page.get("data", [])
records = lookup.names(api, [h["activity"]["related_to_id"] for h in hits])
if not hits:
    st.info("No activity matches." if len(cursors) == 1 else "No more matches.")
for hit in hits:
    a = hit["activity"]
    with st.container(border=True):
        icon = timeline.ICONS.get(a["type"], "•")
        st.markdown(f"{icon} **{a.get('subject') or a['type']}**")
        where = "in a comment · " if hit.get("comment_id") else ""
        rid = a["related_to_id"]
        on = (
            fmt.link(records.get(rid), rid)
            if rid in records
            else fmt.escape_md(f"{fmt.label(a['related_to_type'])} {rid}")
        )
        st.markdown(
            f"{where}{fmt.label(a['type'])} on {on} · {fmt.when(a['occurred_at'], zone)} · "
            f"{fmt.escape_md(names.get(a.get('member_id') or '', 'Leadly'))}"
        )
        # The snippet is the API's: text escaped, matching words in <mark>.
        st.markdown(safe_html(hit["snippet"]), unsafe_allow_html=True)
        if objects.of_id(rid) is not None:
            st.page_link(record.RECORD_PAGE, label="Open the record", query_params={"id": rid})
prev_col, next_col, _ = st.columns([1, 1, 6])
if prev_col.button("← Previous", disabled=len(cursors) == 1, key="search_prev"):
    cursors.pop()
    st.rerun()
if next_col.button("Next →", disabled=not page.get("has_more"), key="search_next"):
    cursors.append(page["next_cursor"])
    st.rerun()
