"""Notification center: the signed-in member's notifications by status, marked read or unread,
archived, snoozed, answered (mentions); everything through ``/api/v1/notifications``."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from apps import fmt, lookup, ui
from apps.client import ApiError

session = ui.start("Notifications")
api = session.api

STATUSES = {"unread": "Unread", "all": "All (not archived)", "read": "Read", "archived": "Archived"}
ICONS = {
    "task_assigned": "✅",
    "mention": "💬",
    "deal_stage_changed": "📈",
    "task_overdue": "⏰",
    "task_reminder": "🔔",
    "meeting_reminder": "📅",
    "lead_assigned": "🧲",
    "member_activity": "👀",
    "system": "⚙️",
}
PAGE_SIZE = 25


def act(method: str, path: str, what: str, **kw: object) -> None:
    try:
        api.request(method, path, **kw)
    except ApiError as e:
        ui.show_api_error(e, what)
        return
    st.rerun()


top = st.columns([3, 1])
status = top[0].radio(
    "Show", list(STATUSES), format_func=STATUSES.get, horizontal=True, key="ntf_status"
)
if top[1].button("Mark all read", key="ntf_read_all", use_container_width=True):
    act("POST", "/notifications/read", "Mark all read", json={"all": True})

params: dict[str, str | int] = {"limit": PAGE_SIZE}
if status != "all":
    params["status"] = status
cursor = st.session_state.get("ntf_cursor")
if cursor:
    params["cursor"] = cursor
try:
    page = api.get("/notifications", params=params)
    count = api.get("/notifications/unread-count")["count"]
except ApiError as e:
    ui.stop_on_error(e, "Loading notifications")

st.caption(f"{count} unread")
items = page["data"]
records = lookup.names(api, [n.get("related_to_id") for n in items])
zone = ui.zone()
if not items:
    st.info("Nothing here." if status != "unread" else "You are all caught up.")

for n in items:
    nid = n["id"]
    with st.container(border=True):
        head = st.columns([6, 1])
        unread = n["status"] == "unread"
        title = f"{ICONS.get(n['type'], '•')} {'**' + n['title'] + '**' if unread else n['title']}"
        head[0].markdown(title)
        head[1].caption(fmt.when(n["created_at"], zone))
        if n["message"]:
            st.write(n["message"])
        meta = f"{fmt.label(n['type'])} · {fmt.label(n['priority'])}"
        rid = n.get("related_to_id")
        if rid and rid in records:
            meta += f" · {fmt.link(records[rid], rid)}"
        elif n.get("action_url"):
            meta += f" · `{n['action_url']}`"
        if n.get("snoozed_until"):
            meta += f" · snoozed until {fmt.when(n['snoozed_until'], zone)}"
        st.caption(meta)
        cols = st.columns(5)
        if unread:
            if cols[0].button("Mark read", key=f"read_{nid}"):
                act("POST", "/notifications/read", "Mark read", json={"ids": [nid]})
        elif n["status"] == "read" and cols[0].button("Mark unread", key=f"unread_{nid}"):
            act("POST", f"/notifications/{nid}/unread", "Mark unread")
        if n["status"] != "archived":
            if cols[1].button("Archive", key=f"archive_{nid}"):
                act("POST", f"/notifications/{nid}/archive", "Archive")
            if cols[2].button("Snooze 1 h", key=f"snooze1h_{nid}"):
                until = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
                act(
                    "POST",
                    f"/notifications/{nid}/snooze",
                    "Snooze",
                    json={"until": until.isoformat()},
                )
            if cols[3].button("Snooze 1 day", key=f"snooze1d_{nid}"):
                until = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
                act(
                    "POST",
                    f"/notifications/{nid}/snooze",
                    "Snooze",
                    json={"until": until.isoformat()},
                )
        if n["type"] == "mention" and n["status"] != "archived":
            with st.form(key=f"reply_form_{nid}", clear_on_submit=True):
                text = st.text_input("Reply", key=f"reply_{nid}")
                if st.form_submit_button("Send reply") and text.strip():
                    act("POST", f"/notifications/{nid}/reply", "Reply", json={"text": text})

nav = st.columns(2)
if cursor and nav[0].button("First page", key="ntf_first"):
    st.session_state.pop("ntf_cursor", None)
    st.rerun()
if page["has_more"] and nav[1].button("Next page", key="ntf_next"):
    st.session_state["ntf_cursor"] = page["next_cursor"]
    st.rerun()
