"""Recurring-task builder: choose how a task repeats (daily, weekly on chosen days, monthly on a
day or "the second Tuesday", until a date or a number of times, skipped dates), see the rule and
its next dates, and create the task through the API."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from apps import tasks_ui as T
from apps import ui
from apps.client import ApiError

session = ui.start("Recurring tasks")
api = session.api
zone = session.member.get("time_zone") or "UTC"

title = st.text_input("Title", value="Weekly pipeline review", key="rt_title")
c1, c2 = st.columns(2)
first_day = c1.date_input(
    "First date", value=dt.date.today() + dt.timedelta(days=1), key="rt_first"
)
at = c2.time_input("Time", value=dt.time(9, 0), key="rt_time")
freqs = {"DAILY": "Daily", "WEEKLY": "Weekly", "MONTHLY": "Monthly"}
freq = st.radio(
    "Repeats", list(freqs), format_func=freqs.get, index=1, horizontal=True, key="rt_freq"
)
interval = st.number_input(
    "Every … (1 = every time)", min_value=1, max_value=52, value=1, key="rt_interval"
)
weekdays: list[str] = []
monthly, month_day, ordinal, ordinal_day = "day", 1, 2, "TU"
if freq == "WEEKLY":
    weekdays = st.multiselect(
        "On",
        T.WEEKDAYS,
        default=[T.WEEKDAYS[first_day.weekday()]],
        format_func=T.WEEKDAY_NAMES.get,
        key="rt_days",
    )
elif freq == "MONTHLY":
    monthly = st.radio(
        "On",
        ["day", "weekday"],
        horizontal=True,
        key="rt_monthly",
        format_func={
            "day": "a day of the month",
            "weekday": "a weekday (e.g. the second Tuesday)",
        }.get,
    )
    if monthly == "day":
        month_day = st.number_input(
            "Day", min_value=1, max_value=31, value=first_day.day, key="rt_month_day"
        )
    else:
        o1, o2 = st.columns(2)
        ordinal = o1.selectbox(
            "Which", list(T.ORDINALS), index=1, format_func=T.ORDINALS.get, key="rt_ordinal"
        )
        ordinal_day = o2.selectbox(
            "Weekday", T.WEEKDAYS, index=1, format_func=T.WEEKDAY_NAMES.get, key="rt_ordinal_day"
        )
ends = st.radio(
    "Ends",
    ["never", "on", "after"],
    horizontal=True,
    key="rt_ends",
    format_func={"never": "Never", "on": "On a date", "after": "After"}.get,
)
until = count = None
if ends == "on":
    until = st.date_input("Last date", value=first_day + dt.timedelta(days=90), key="rt_until")
elif ends == "after":
    count = st.number_input("Occurrences", min_value=1, max_value=1000, value=10, key="rt_count")
skipped = st.multiselect(
    "Skip these dates (exceptions)",
    [first_day + dt.timedelta(days=i) for i in range(1, 120)],
    format_func=lambda d: d.strftime("%a %d %b %Y"),
    key="rt_skip",
)
rule = T.build_rule(
    freq,
    interval=int(interval),
    weekdays=weekdays,
    monthly=monthly,
    month_day=int(month_day),
    ordinal=int(ordinal),
    ordinal_day=ordinal_day,
    until=until,
    count=int(count) if count else None,
)
st.markdown(f"**{T.describe(rule)}** at {at.strftime('%H:%M')} ({zone})")
st.code(f"RRULE:{rule}", language="text")

if st.button("Create the recurring task", key="rt_create", type="primary"):
    body = {
        "title": title,
        "due_at": dt.datetime.combine(first_day, at).isoformat(),  # in the member's zone
        "assignee_ids": [session.member["id"]],
        "recurrence_rule": rule,
        "recurrence_exdates": [dt.datetime.combine(d, at).isoformat() for d in skipped],
    }
    try:
        task = api.post("/tasks", json=body)
        upcoming = api.get(f"/tasks/{task['id']}/occurrences", params={"limit": 8})
    except ApiError as e:
        ui.show_api_error(e, "Creating the task")
    else:
        st.success(f"Created “{task['title']}”. Completing it creates the next occurrence.")
        st.session_state["rt_created"] = task["id"]
        st.write("Next dates:")
        for when in upcoming:
            st.write(f"- {T.when(when, zone)}")
