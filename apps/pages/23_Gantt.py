"""Gantt chart: the tasks of a project — a related record (lead, deal, account, ...) or a parent
task with its subtasks — on a timeline (plotly), with their dependencies drawn as arrows."""

from __future__ import annotations

import datetime as dt

import plotly.express as px
import streamlit as st

from apps import fmt, lookup, record, ui
from apps import tasks_ui as T
from apps.client import ApiError

session = ui.start("Gantt")
api = session.api
zone = session.member.get("time_zone") or "UTC"

try:
    everything = T.load_tasks(api, {"sort": "due_at", "limit": "500"}, cap=2000)
except ApiError as e:
    ui.stop_on_error(e, "Loading tasks")
projects: dict[str, tuple[str, dict[str, str]]] = {}
records = lookup.names(api, [t["related_to_id"] for t in everything if t["related_to_type"]])
for t in everything:
    if t["related_to_type"]:
        key = f"{t['related_to_type']}:{t['related_to_id']}"
        name = records.get(t["related_to_id"], t["related_to_id"])
        projects[key] = (
            f"{fmt.label(t['related_to_type'])}: {name}",
            {
                "filter[related_to_type]": t["related_to_type"],
                "filter[related_to_id]": t["related_to_id"],
            },
        )
parents = {t["parent_task_id"] for t in everything if t["parent_task_id"]}
titles = {t["id"]: t["title"] for t in everything}
for p in parents:
    projects[f"task:{p}"] = (f"Task “{titles.get(p, p)}” and its subtasks", {})
if not projects:
    st.info("No project yet: relate tasks to a record, or give a task subtasks.")
    st.stop()
# ``?project=lead:lead_01…`` (a record page's link) picks the project.
wanted = st.query_params.get("project")
if wanted in projects and "gantt_project" not in st.session_state:
    st.session_state["gantt_project"] = wanted
choice = st.selectbox(
    "Project", list(projects), format_func=lambda k: projects[k][0], key="gantt_project"
)
st.query_params["project"] = choice
label, params = projects[choice]
if not choice.startswith("task:"):
    rid = choice.split(":", 1)[1]
    st.page_link(record.RECORD_PAGE, label=f"Open {label}", query_params={"id": rid})
if choice.startswith("task:"):
    root = choice.split(":", 1)[1]
    ids = {root}
    changed = True
    while changed:  # the subtasks, any depth
        more = {t["id"] for t in everything if t["parent_task_id"] in ids}
        changed = not more <= ids
        ids |= more
    tasks = [t for t in everything if t["id"] in ids]
else:
    try:
        tasks = T.load_tasks(api, {**params, "sort": "due_at", "limit": "500"})
    except ApiError as e:
        ui.stop_on_error(e, "Loading the project")

now = dt.datetime.now(dt.UTC)


def parse(v: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(v.replace("Z", "+00:00")) if v else None


bars = []
for t in tasks:
    end = parse(t["completed_at"]) or parse(t["due_at"])
    start = parse(t["started_at"]) or parse(t["created_at"]) or now
    if end is None:
        end = start + dt.timedelta(hours=float(t["estimated_hours"] or 8))
    if t["estimated_hours"] and not t["started_at"] and t["due_at"]:
        start = min(start, end - dt.timedelta(hours=float(t["estimated_hours"])))
    if end <= start:
        end = start + dt.timedelta(hours=1)
    bars.append(
        {
            "id": t["id"],
            "Task": t["title"],
            "Start": start,
            "Finish": end,
            "Status": T.STATUS_LABELS[t["status"]],
        }
    )
if not bars:
    st.info("This project has no tasks.")
    st.stop()

links = []
for t in tasks:
    try:
        deps = api.get(f"/tasks/{t['id']}/dependencies")
    except ApiError:
        continue
    for d in deps["depends_on"]:
        links.append((d["depends_on_task_id"], d["task_id"], d["type"]))

fig = px.timeline(bars, x_start="Start", x_end="Finish", y="Task", color="Status")
fig.update_yaxes(autorange="reversed")
by_id = {b["id"]: b for b in bars}
for before, after, kind in links:
    a, b = by_id.get(before), by_id.get(after)
    if not a or not b:
        continue
    x0 = a["Start"] if kind == "start_to_start" else a["Finish"]
    x1 = b["Finish"] if kind == "finish_to_finish" else b["Start"]
    fig.add_annotation(
        x=x1,
        y=b["Task"],
        ax=x0,
        ay=a["Task"],
        xref="x",
        yref="y",
        axref="x",
        ayref="y",
        showarrow=True,
        arrowhead=2,
        arrowcolor="#64748b",
    )
fig.update_layout(height=120 + 40 * len(bars), margin={"l": 10, "r": 10, "t": 30, "b": 10})
st.plotly_chart(fig, use_container_width=True, key="gantt_chart")
st.caption(f"{label}: {len(bars)} task(s), {len(links)} dependenc(ies).")
if links:
    st.dataframe(
        [
            {"task": titles.get(a2, a2), "waits for": titles.get(b2, b2), "type": k}
            for b2, a2, k in links
        ],
        hide_index=True,
        use_container_width=True,
    )
