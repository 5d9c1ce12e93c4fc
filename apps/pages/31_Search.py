"""Search: full-text search over the team's activities and comments
(``GET /api/v1/search/activities?q=``): best matches first, matching words highlighted."""

from __future__ import annotations

import hashlib
import json

import streamlit as st

from apps import timeline, ui
from apps.client import ApiError
from leadly.html import sanitize as safe_html

ui.page("Search")
session = ui.require_session()
api = session.api
st.title("Search activities")
st.caption(
    'All words must match (stemmed: "renewals" finds "renewal"); "quoted phrase", '
    "word OR word and -word work like a web search."
)

with st.form("search_form"):
    c1, c2 = st.columns([3, 1])
    q = c1.text_input("Search for", key="search_q")
    types = c2.multiselect("Types", timeline.TYPES, key="search_types")
    st.form_submit_button("Search", type="primary")

if not q.strip():
    st.info("Type what you are looking for.")
    st.stop()
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

try:
    names = timeline.member_names(session.team_id, session.token)
except ApiError:
    names = {}
hits = page.get("data", [])
if not hits:
    st.info("No activity matches." if len(cursors) == 1 else "No more matches.")
for hit in hits:
    a = hit["activity"]
    with st.container(border=True):
        icon = timeline.ICONS.get(a["type"], "•")
        st.markdown(f"{icon} **{a.get('subject') or a['type']}**")
        where = "in a comment · " if hit.get("comment_id") else ""
        st.caption(
            f"{where}{a['type'].replace('_', ' ')} on {a['related_to_type']} "
            f"{a['related_to_id']} · {a['occurred_at'][:16].replace('T', ' ')} · "
            f"{names.get(a.get('member_id') or '', 'Leadly')} · rank {hit['rank']:.3f}"
        )
        # The snippet is the API's: text escaped, matching words in <mark>.
        st.markdown(safe_html(hit["snippet"]), unsafe_allow_html=True)
        if a["related_to_type"] in {o for _, o in timeline.OBJECTS.values()}:
            st.page_link(
                "pages/30_Record_timeline.py",
                label="Open the timeline",
                query_params={"type": a["related_to_type"], "id": a["related_to_id"]},
            )
prev_col, next_col, _ = st.columns([1, 1, 6])
if prev_col.button("← Previous", disabled=len(cursors) == 1, key="search_prev"):
    cursors.pop()
    st.rerun()
if next_col.button("Next →", disabled=not page.get("has_more"), key="search_next"):
    cursors.append(page["next_cursor"])
    st.rerun()
