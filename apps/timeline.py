"""The activity timeline component: a record's timeline with filters, grouping, pages, comment
threads with @mention autocomplete, and a form to log a call, email, meeting or note.

    from apps import timeline
    timeline.render(session.api, "deals", deal_id, key="deal_tl")

Everything goes through the API as the signed-in member: ``GET /{plural}/{id}/timeline``,
``POST /activities``, ``GET|POST /activities/{id}/comments``, ``GET /members?search=``.
Descriptions, comments and search snippets come back sanitised by the API (nh3), so they are
shown as HTML.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
from typing import Any

import streamlit as st

from apps import fmt, lookup, ui
from apps.client import ApiClient, ApiError
from leadly.html import sanitize as safe_html
from warehouse.models.activities import ACTIVITY_TYPES

TYPES = list(ACTIVITY_TYPES)
LOGGABLE = ["note", "call", "email", "meeting"]
ICONS = {
    "call": "📞",
    "email": "✉️",
    "meeting": "📅",
    "note": "📝",
    "task": "✅",
    "status_change": "🔀",
    "field_update": "✏️",
    "file": "📎",
    "system": "⚙️",
}
GROUPS = {"No grouping": None, "By day": "day", "By type": "type"}
#: The objects with a timeline: label → (URL plural, singular object name).
OBJECTS = {
    "Lead": ("leads", "lead"),
    "Contact": ("contacts", "contact"),
    "Account": ("accounts", "account"),
    "Deal": ("deals", "deal"),
}


@st.cache_data(ttl=300, show_spinner=False)
def member_names(team_id: str, _token: str) -> dict[str, str]:
    """Member id → name (cached per team)."""
    return {m["id"]: m["name"] for m in ApiClient(_token).members()}


def mention(name: str, member_id: str) -> str:
    """The text the API reads as a mention of ``member_id``."""
    clean = name.replace("[", "(").replace("]", ")")
    return f"@[{clean}]({member_id})"


def _when(value: str) -> str:
    return fmt.when(value, ui.zone())


def _meta_line(activity: dict[str, Any], stages: dict[str, str] | None = None) -> str:
    m = activity.get("metadata") or {}
    kind = activity["type"]
    if kind == "call":
        parts = [fmt.duration(int(m.get("duration") or 0))]
        if m.get("outcome"):
            parts.append(f"outcome: {m['outcome']}")
        return " · ".join(parts)
    if kind == "meeting":
        return (
            f"{m.get('status', '')} · starts {_when(m['starts_at'])}" if m.get("starts_at") else ""
        )
    if kind == "email":
        return str(m.get("status") or "")
    if kind == "status_change":
        names = stages if m.get("field") == "stage" and stages else {}
        old, new = (names.get(v) or fmt.label(v) for v in (m.get("old"), m.get("new")))
        return f"{fmt.label(m.get('field'))}: {old} → {new}"
    if kind == "field_update":
        return "changed: " + ", ".join(fmt.label(f) for f in m.get("fields") or [])
    return ""


# --------------------------------------------------------------------------- comments


def _post_comment(api: ApiClient, activity_id: str, key: str) -> None:
    """on_click: post the drafted comment (or reply), then clear the draft."""
    text = st.session_state.get(f"{key}_draft", "")
    parent = st.session_state.get(f"{key}_parent") or None
    try:
        api.post(
            f"/activities/{activity_id}/comments",
            json={"text": text, "parent_comment_id": parent},
        )
    except ApiError as e:
        st.session_state[f"{key}_error"] = e
        return
    st.session_state.pop(f"{key}_error", None)
    st.session_state[f"{key}_draft"] = ""
    st.session_state[f"{key}_posted"] = True


def _insert_mention(key: str, names: dict[str, str]) -> None:
    """on_click: append the picked member's mention to the draft."""
    picked = st.session_state.get(f"{key}_pick")
    if not picked:
        return
    draft = st.session_state.get(f"{key}_draft", "")
    sep = "" if not draft or draft.endswith(" ") else " "
    st.session_state[f"{key}_draft"] = f"{draft}{sep}{mention(names[picked], picked)} "
    st.session_state[f"{key}_find"] = ""


def _thread(comments: list[dict[str, Any]], names: dict[str, str], depth: int = 0) -> list[str]:
    lines = []
    for c in comments:
        pad = "&nbsp;" * 6 * depth
        who = html.escape(names.get(c["author_id"], c["author_id"]))
        if c["deleted"]:
            body = "<i>comment deleted</i>"
        else:
            edited = " <small>(edited)</small>" if c.get("edited_at") else ""
            body = safe_html(c["text"]) + edited
        lines.append(f"{pad}<b>{who}</b> · <small>{_when(c['created_at'])}</small><br>{pad}{body}")
        lines += _thread(c.get("replies") or [], names, depth + 1)
    return lines


def _flatten(comments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for c in comments:
        out.append(c)
        out += _flatten(c.get("replies") or [])
    return out


def comments(api: ApiClient, activity: dict[str, Any], names: dict[str, str], key: str) -> None:
    """The activity's threads and a comment form with mention autocomplete."""
    try:
        page = api.get(f"/activities/{activity['id']}/comments", {"limit": "100"})
    except ApiError as e:
        ui.show_api_error(e, "Could not load the comments")
        return
    threads = page.get("data", [])
    if threads:
        st.markdown("<br>".join(_thread(threads, names)), unsafe_allow_html=True)
    else:
        st.caption("No comments yet.")
    if st.session_state.pop(f"{key}_posted", False):
        st.success("Comment posted.")
    err = st.session_state.get(f"{key}_error")
    if err is not None:
        ui.show_api_error(err, "Could not post the comment")
    # Mention autocomplete: GET /members?search= as the member types.
    f1, f2, f3 = st.columns([2, 2, 1])
    find = f1.text_input("Mention someone", key=f"{key}_find", placeholder="Type a name")
    matches: dict[str, str] = {}
    if find.strip():
        try:
            found = api.get("/members", {"search": find.strip(), "limit": "10"})
            matches = {m["id"]: m["name"] for m in found.get("data", [])}
        except ApiError as e:
            ui.show_api_error(e, "Could not search the members")
    f2.selectbox(
        "Matching members",
        list(matches),
        format_func=lambda i: matches.get(i, i),
        key=f"{key}_pick",
        disabled=not matches,
    )
    f3.button(
        "Insert mention",
        key=f"{key}_insert",
        on_click=_insert_mention,
        args=(key, matches),
        disabled=not matches,
    )
    flat = _flatten(threads)
    options = ["", *[c["id"] for c in flat if not c["deleted"]]]
    labels = {c["id"]: f"{names.get(c['author_id'], '?')}: {c['text'][:40]}" for c in flat}
    st.selectbox(
        "Reply to",
        options,
        format_func=lambda i: labels.get(i, "New thread"),
        key=f"{key}_parent",
    )
    st.text_area("Comment", key=f"{key}_draft", height=80)
    st.button(
        "Post comment",
        key=f"{key}_post",
        on_click=_post_comment,
        args=(api, activity["id"], key),
        type="primary",
    )


# --------------------------------------------------------------------------- entries


def entry(
    api: ApiClient,
    activity: dict[str, Any],
    names: dict[str, str],
    key: str,
    records: dict[str, str] | None = None,
    stages: dict[str, str] | None = None,
) -> None:
    with st.container(border=True):
        who = names.get(activity.get("member_id") or "", "Leadly")
        icon = ICONS.get(activity["type"], "•")
        subject = activity.get("subject") or fmt.label(activity["type"])
        st.markdown(f"{icon} **{fmt.escape_md(subject)}**")
        rid = activity["related_to_id"]
        on = (
            fmt.link(records[rid], rid)
            if records and rid in records
            else fmt.escape_md(f"{fmt.label(activity['related_to_type'])} {rid}")
        )
        extra = _meta_line(activity, stages)
        st.markdown(
            f"{fmt.label(activity['type'])} · {_when(activity['occurred_at'])} · "
            f"{fmt.escape_md(who)} · {on}" + (f" · {fmt.escape_md(extra)}" if extra else "")
        )
        if activity.get("description"):
            st.markdown(safe_html(activity["description"]), unsafe_allow_html=True)
        ckey = f"{key}_{activity['id']}"
        if st.toggle("Comments", key=f"{ckey}_open"):
            comments(api, activity, names, ckey)


def _log_form(api: ApiClient, object_type: str, record_id: str, key: str) -> None:
    with (
        st.expander("Log a call, email, meeting or note"),
        st.form(f"{key}_log", clear_on_submit=True),
    ):
        kind = st.selectbox("Type", LOGGABLE, key=f"{key}_log_type")
        subject = st.text_input("Subject", key=f"{key}_log_subject")
        description = st.text_area("Description", key=f"{key}_log_description")
        c1, c2 = st.columns(2)
        duration = c1.number_input(
            "Call duration (minutes)", min_value=0, max_value=600, key=f"{key}_log_minutes"
        )
        outcome = c2.text_input("Call outcome", key=f"{key}_log_outcome")
        starts = st.date_input("Meeting date", key=f"{key}_log_date")
        if st.form_submit_button("Log it", type="primary"):
            metadata: dict[str, Any] = {}
            if kind == "call":
                metadata = {"duration": int(duration) * 60}
                if outcome.strip():
                    metadata["outcome"] = outcome.strip()
            elif kind == "meeting":
                metadata = {
                    "starts_at": dt.datetime.combine(starts, dt.time(9), dt.UTC).isoformat()
                }
            body = {
                "type": kind,
                "related_to_type": object_type,
                "related_to_id": record_id,
                "subject": subject.strip() or None,
                "description": description.strip() or None,
                "metadata": metadata,
            }
            try:
                api.post("/activities", json=body)
            except ApiError as e:
                ui.show_api_error(e, "Could not log the activity")
            else:
                st.success("Logged.")


# --------------------------------------------------------------------------- the component


def render(
    api: ApiClient,
    plural: str,
    record_id: str,
    *,
    team_id: str,
    key: str = "tl",
    page_size: int = 25,
) -> None:
    """The timeline of ``/{plural}/{record_id}`` (newest first), with its filters."""
    object_type = next((o for p, o in OBJECTS.values() if p == plural), plural.rstrip("s"))
    try:
        names = member_names(team_id, api.token or "")
    except ApiError as e:
        ui.stop_on_error(e, "Could not load the team's members")
    _log_form(api, object_type, record_id, key)
    c1, c2, c3, c4 = st.columns(4)
    types = c1.multiselect("Types", TYPES, key=f"{key}_types")
    period = c2.date_input("Between", value=(), key=f"{key}_period", format="YYYY-MM-DD")
    member = c3.selectbox(
        "Member",
        ["", *sorted(names, key=lambda i: names[i])],
        format_func=lambda i: names.get(i, "Anyone"),
        key=f"{key}_member",
    )
    group_label = c4.selectbox("Group", list(GROUPS), key=f"{key}_group")
    params: dict[str, str] = {"limit": str(page_size)}
    if types:
        params["type"] = ",".join(types)
    if isinstance(period, tuple | list) and period:
        params["from"] = period[0].isoformat()
        params["to"] = (period[1] if len(period) > 1 else period[0]).isoformat()
    if member:
        params["member_id"] = member
    if GROUPS[group_label]:
        params["group_by"] = GROUPS[group_label]

    signature = hashlib.sha256(
        json.dumps([plural, record_id, params], sort_keys=True).encode()
    ).hexdigest()
    if st.session_state.get(f"{key}_signature") != signature:
        st.session_state[f"{key}_signature"] = signature
        st.session_state[f"{key}_cursors"] = [None]
    cursors: list[str | None] = st.session_state[f"{key}_cursors"]
    query = {**params, **({"cursor": cursors[-1]} if cursors[-1] else {})}
    try:
        page = api.get(f"/{plural}/{record_id}/timeline", query)
    except ApiError as e:
        ui.stop_on_error(e, "Could not load the timeline")

    records = lookup.names(api, [a["related_to_id"] for a in page["data"]])
    stages = lookup.stage_names(api, team_id)
    if not page["data"]:
        st.info("Nothing on this timeline yet." if len(cursors) == 1 else "No more entries.")
    elif "groups" in page:
        for group in page["groups"]:
            title = group["key"].replace("_", " ")
            st.subheader(f"{title} ({group['count']})")
            for activity in group["items"]:
                entry(api, activity, names, key, records, stages)
    else:
        for activity in page["data"]:
            entry(api, activity, names, key, records, stages)
    prev_col, next_col, _ = st.columns([1, 1, 6])
    if prev_col.button("← Newer", disabled=len(cursors) == 1, key=f"{key}_prev"):
        cursors.pop()
        st.rerun()
    if next_col.button("Older →", disabled=not page.get("has_more"), key=f"{key}_next"):
        cursors.append(page["next_cursor"])
        st.rerun()
