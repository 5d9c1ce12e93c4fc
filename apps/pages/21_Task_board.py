"""Task board: the tasks of a view as a kanban by status; move a card to another column (the API
refuses a move a dependency blocks, naming the blocking task)."""

from __future__ import annotations

import streamlit as st

from apps import fmt, lookup, ui
from apps import tasks_ui as T
from apps.client import ApiError

session = ui.start("Task board")
api = session.api
zone = session.member.get("time_zone") or "UTC"

view = st.radio("View", list(T.VIEWS), format_func=T.VIEWS.get, horizontal=True, key="tb_view")
show_done = st.toggle("Show completed and cancelled", value=False, key="tb_done")
try:
    names = T.member_names(api)
    tasks = T.load_tasks(api, T.view_params(view), cap=500)
except ApiError as e:
    ui.stop_on_error(e, "Loading tasks")
columns = [s for s in T.STATUSES if show_done or s not in ("completed", "cancelled")]
by_status = {s: [t for t in tasks if t["status"] == s] for s in columns}
titles = {t["id"]: t["title"] for t in tasks}
records = lookup.names(api, [t.get("related_to_id") for t in tasks])

for status, col in zip(columns, st.columns(len(columns)), strict=True):
    col.subheader(f"{T.STATUS_LABELS[status]} ({len(by_status[status])})")
    for t in by_status[status]:
        with col.container(border=True):
            st.markdown(f"**{T.label(t)}**")
            who = ", ".join(names.get(m, m) for m in t["assignee_ids"]) or "unassigned"
            rid = t.get("related_to_id")
            on = f" · {fmt.link(records[rid], rid)}" if rid in records else ""
            st.caption(f"Due {T.when(t['due_at'], zone)} · {fmt.escape_md(who)}{on}")
            target = st.selectbox(
                "Move to",
                [s for s in T.STATUSES if s != status],
                format_func=T.STATUS_LABELS.get,
                index=None,
                placeholder="Move to…",
                key=f"tb_move_{t['id']}",
                label_visibility="collapsed",
            )
            if target is not None:
                try:
                    api.request(
                        "PATCH",
                        f"/tasks/{t['id']}",
                        json={"status": target},
                        headers={"If-Match": f'"{t["version"]}"'},
                    )
                except ApiError as e:
                    blocker = e.body.get("blocking_task_id")
                    ui.show_api_error(e, "Cannot move it")
                    if blocker:
                        st.warning(f"Blocked by: {titles.get(blocker, blocker)}")
                else:
                    st.rerun()
