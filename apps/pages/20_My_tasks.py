"""My tasks / Team tasks: the task list with the views (mine, team, overdue), filters, a form to
add a task, and bulk actions (complete, reschedule, assign, delete) on the ticked tasks."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from apps import lookup, ui
from apps import tasks_ui as T
from apps.client import ApiError

session = ui.start("My tasks", heading="Tasks")
api = session.api
zone = session.member.get("time_zone") or "UTC"

c1, c2, c3 = st.columns([2, 2, 2])
view = c1.radio("View", list(T.VIEWS), format_func=T.VIEWS.get, horizontal=True, key="tk_view")
statuses = c2.multiselect(
    "Status",
    T.STATUSES,
    default=list(T.OPEN),
    format_func=T.STATUS_LABELS.get,
    key="tk_status",
)
priorities = c3.multiselect("Priority", T.PRIORITIES, key="tk_priority")
try:
    names = T.member_names(api)
    tasks = T.load_tasks(api, T.view_params(view, status=statuses, priority=priorities))
except ApiError as e:
    ui.stop_on_error(e, "Loading tasks")

with st.expander("➕ New task"), st.form("tk_new", clear_on_submit=True):
    title = st.text_input("Title", key="tk_new_title")
    f1, f2, f3 = st.columns(3)
    due_date = f1.date_input("Due date", value=None, key="tk_new_date")
    due_time = f2.time_input("Time", value=dt.time(9, 0), key="tk_new_time")
    priority = f3.selectbox("Priority", T.PRIORITIES, index=1, key="tk_new_priority")
    assignees = st.multiselect(
        "Assignees",
        list(names),
        default=[session.member["id"]],
        format_func=lambda m: names.get(m, m),
        key="tk_new_assignees",
    )
    estimate = st.number_input("Estimated hours", min_value=0.0, value=0.0, key="tk_new_est")
    if st.form_submit_button("Add task"):
        body: dict = {"title": title, "priority": priority, "assignee_ids": assignees}
        if due_date:
            # No offset: the API reads it in the first assignee's time zone.
            body["due_at"] = dt.datetime.combine(due_date, due_time).isoformat()
        if estimate:
            body["estimated_hours"] = estimate
        try:
            api.post("/tasks", json=body)
        except ApiError as e:
            ui.show_api_error(e, "Adding the task")
        else:
            st.success(f"Added “{title}”.")
            st.rerun()

st.caption(f"{len(tasks)} task(s) · times in {zone}")
if not tasks:
    st.info("No tasks in this view.")
    st.stop()

st.dataframe(
    T.rows(tasks, names, zone, lookup.names(api, [t.get("related_to_id") for t in tasks])),
    key="tk_table",
    hide_index=True,
    use_container_width=True,
    column_config={"related": st.column_config.LinkColumn("related", display_text=r"#(.*)$")},
    column_order=[
        "title",
        "status",
        "priority",
        "due",
        "assignees",
        "related",
        "tags",
        "hours",
        "repeats",
    ],
)
by_id = {t["id"]: t for t in tasks}
chosen = st.multiselect(
    "Select tasks",
    list(by_id),
    format_func=lambda i: f"{T.label(by_id[i])} · due {T.when(by_id[i]['due_at'], zone)}",
    key="tk_selected",
)

st.subheader("Bulk actions")
b1, b2 = st.columns([1, 3])
action = b1.selectbox(
    "Action", ["complete", "reschedule", "assign", "delete"], key="tk_bulk_action"
)
body: dict = {"action": action}
if action == "reschedule":
    how = b2.radio("How", ["Shift", "Set date"], horizontal=True, key="tk_bulk_how")
    if how == "Shift":
        days = b2.number_input("Shift by days", value=1, step=1, key="tk_bulk_days")
        body["shift_by"] = f"{'-' if days < 0 else ''}P{abs(int(days))}D"
    else:
        day = b2.date_input("New due date", key="tk_bulk_date")
        at = b2.time_input("Time", value=dt.time(9, 0), key="tk_bulk_time")
        body["due_at"] = dt.datetime.combine(day, at).isoformat()
elif action == "assign":
    body["assignee_ids"] = b2.multiselect(
        "Members", list(names), format_func=lambda m: names.get(m, m), key="tk_bulk_members"
    )
    body["mode"] = b2.radio(
        "Mode", ["replace", "add", "remove"], horizontal=True, key="tk_bulk_mode"
    )
if st.button(f"Apply to {len(chosen)} selected", key="tk_bulk_apply", disabled=not chosen):
    try:
        out = api.post("/tasks/bulk", json={**body, "ids": chosen})
    except ApiError as e:
        ui.show_api_error(e, "Nothing was changed")
        failed = [r for r in e.body.get("results", []) if r.get("status", 0) >= 400]
        titles = {t["id"]: t["title"] for t in tasks}
        for r in failed:
            st.write(f"- {titles.get(r['id'], r['id'])}: {r.get('detail', r['status'])}")
    else:
        st.success(f"{action.title()}: {len(out['results'])} task(s) done.")
        st.rerun()
