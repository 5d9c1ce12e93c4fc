"""Task calendar: the member's tasks with a due date on a month/week calendar
(streamlit-calendar), recurring tasks expanded from their rule, and the calendar feed URL."""

from __future__ import annotations

import contextlib
import datetime as dt
from zoneinfo import ZoneInfo

import streamlit as st
from streamlit_calendar import calendar

from apps import tasks_ui as T
from apps import ui
from apps.client import ApiError

session = ui.start("Task calendar")
api = session.api
zone = session.member.get("time_zone") or "UTC"

view = st.radio("Tasks", ["mine", "team"], format_func=T.VIEWS.get, horizontal=True, key="tc_view")
params = T.view_params(view)
params["filter[due_at__isnull]"] = "false"
try:
    tasks = T.load_tasks(api, params, cap=1000)
except ApiError as e:
    ui.stop_on_error(e, "Loading tasks")


def wall_time(value: str) -> dt.datetime:
    """An API timestamp as the wall-clock time in the member's zone, without an offset.

    The calendar is given these and ``timeZone: "UTC"``: without a time-zone plugin FullCalendar
    cannot convert to a named zone (it drew the UTC time), and a time with an offset would be
    shifted; a wall time in UTC mode is drawn as it is, whatever the browser's zone."""
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    with contextlib.suppress(KeyError, ValueError):
        moment = moment.astimezone(ZoneInfo(zone))
    return moment.replace(tzinfo=None)


COLORS = {"low": "#9ca3af", "medium": "#3b82f6", "high": "#f97316", "urgent": "#ef4444"}
events = []
for t in tasks:
    start = wall_time(t["due_at"])
    events.append(
        {
            "id": t["id"],
            "title": ("🔁 " if t["recurrence_rule"] else "")
            + ("✓ " if t["status"] == "completed" else "")
            + t["title"],
            "start": start.isoformat(),
            "end": (start + dt.timedelta(minutes=30)).isoformat(),
            "color": COLORS.get(t["priority"], "#3b82f6"),
        }
    )
    if t["recurrence_rule"] and t["status"] not in ("completed", "cancelled"):
        try:
            upcoming = api.get(f"/tasks/{t['id']}/occurrences", params={"limit": 12})
        except ApiError:
            upcoming = []
        for i, when in enumerate(upcoming[1:], start=1):
            moment = wall_time(when)
            events.append(
                {
                    "id": f"{t['id']}#{i}",
                    "title": "🔁 " + t["title"],
                    "start": moment.isoformat(),
                    "end": (moment + dt.timedelta(minutes=30)).isoformat(),
                    "color": "#a5b4fc",
                }
            )

mode = st.radio(
    "Show",
    ["dayGridMonth", "timeGridWeek", "listWeek"],
    horizontal=True,
    format_func={"dayGridMonth": "Month", "timeGridWeek": "Week", "listWeek": "List"}.get,
    key="tc_mode",
)
st.caption(f"{len(tasks)} task(s) with a due date · times in {zone}")
state = calendar(
    events=events,
    options={
        "initialView": mode,
        "timeZone": "UTC",  # the events are wall times in the member's zone (wall_time)
        "initialDate": wall_time(dt.datetime.now(dt.UTC).isoformat()).date().isoformat(),
        "height": 700,
        "headerToolbar": {"left": "prev,next today", "center": "title", "right": ""},
    },
    key=f"tc_calendar_{mode}",
)
clicked = (state or {}).get("eventClick", {}).get("event", {}).get("id")
if clicked:
    task = next((t for t in tasks if t["id"] == clicked.split("#")[0]), None)
    if task:
        st.info(
            f"**{task['title']}** · {T.STATUS_LABELS[task['status']]} · "
            f"due {T.when(task['due_at'], zone)}"
        )

with st.expander("📅 Subscribe in your calendar app"):
    st.write(
        "A private link to your tasks for Google Calendar, Apple Calendar or Outlook. "
        "Anyone with the link can read it: revoke it here if it leaks."
    )
    if st.button("Create a calendar link", key="tc_feed_new"):
        try:
            feed = api.post("/calendar-feeds", json={"name": "Streamlit"})
        except ApiError as e:
            ui.show_api_error(e, "Creating the link")
        else:
            st.code(feed["url"])
            st.caption("Copy it now: it is not shown again.")
    try:
        feeds = api.get("/calendar-feeds")
    except ApiError as e:
        ui.stop_on_error(e, "Loading your links")
    for f in [f for f in feeds if not f["revoked_at"]]:
        c1, c2 = st.columns([3, 1])
        c1.write(f"{f['name'] or 'Feed'} · created {T.when(f['created_at'], zone)}")
        if c2.button("Revoke", key=f"tc_revoke_{f['id']}"):
            try:
                api.request("DELETE", f"/calendar-feeds/{f['id']}")
            except ApiError as e:
                ui.show_api_error(e, "Revoking")
            else:
                st.rerun()
