"""Helpers the task pages share: loading tasks through the API, member names, labels, the
recurrence builder's rule. No Streamlit state lives here; the pages call the API through
:class:`apps.client.ApiClient`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from apps import fmt
from apps.client import ApiClient
from warehouse.models.tasks import OPEN_STATUSES, TASK_PRIORITIES, TASK_STATUSES

STATUSES = TASK_STATUSES
OPEN = OPEN_STATUSES
STATUS_LABELS = {
    "todo": "To do",
    "in_progress": "In progress",
    "waiting": "Waiting",
    "completed": "Completed",
    "cancelled": "Cancelled",
}
PRIORITIES = TASK_PRIORITIES
PRIORITY_ICONS = {"low": "⚪", "medium": "🔵", "high": "🟠", "urgent": "🔴"}
VIEWS = {
    "mine": "My tasks",
    "team": "Team tasks",
    "overdue": "Overdue",
}
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
WEEKDAY_NAMES = dict(zip(WEEKDAYS, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True))
ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}


def view_params(view: str, *, status: Iterable[str] = (), priority: Iterable[str] = ()) -> dict:
    """List parameters of a view (the API's list filters)."""
    params: dict[str, str] = {"sort": "due_at", "limit": "200"}
    if view == "mine":
        params["filter[assignee_ids__contains]"] = "me"
    elif view == "overdue":
        params["filter[overdue]"] = "true"
    status, priority = list(status), list(priority)
    if status:
        params["filter[status__in]"] = ",".join(status)
    if priority:
        params["filter[priority__in]"] = ",".join(priority)
    return params


def load_tasks(api: ApiClient, params: Mapping[str, str], cap: int = 1000) -> list[dict]:
    out: list[dict] = []
    for row in api.iter_pages("/tasks", params):
        out.append(row)
        if len(out) >= cap:
            break
    return out


def member_names(api: ApiClient) -> dict[str, str]:
    return {m["id"]: m["name"] for m in api.members()}


def when(value: str | None, zone: str = "UTC") -> str:
    """An API timestamp in the member's zone, e.g. "Mon 15 Mar 2027 09:00"."""
    return fmt.when(value, zone)


def label(task: Mapping[str, Any]) -> str:
    return f"{PRIORITY_ICONS.get(task['priority'], '')} {task['title']}"


def rows(
    tasks: Iterable[Mapping[str, Any]],
    names: Mapping[str, str],
    zone: str,
    records: Mapping[str, str] | None = None,
) -> list[dict]:
    """Table rows for a task list (``records``: the related records' names by id; a related
    record is a link to its page)."""
    records = records or {}
    return [
        {
            "title": t["title"],
            "status": STATUS_LABELS.get(t["status"], t["status"]),
            "priority": t["priority"],
            "due": when(t["due_at"], zone),
            "assignees": ", ".join(names.get(m, m) for m in t["assignee_ids"]),
            "related": fmt.record_url(t["related_to_id"])
            + "#"
            + records.get(
                t["related_to_id"], f"{fmt.label(t['related_to_type'])} {t['related_to_id']}"
            )
            if t.get("related_to_type")
            else None,
            "tags": ", ".join(t["tags"]),
            "hours": f"{t['actual_hours']:.1f} / {t['estimated_hours']:.1f}"
            if t.get("estimated_hours") is not None
            else f"{t['actual_hours']:.1f}",
            "repeats": "🔁" if t.get("recurrence_rule") else "",
            "id": t["id"],
        }
        for t in tasks
    ]


def build_rule(
    freq: str,
    *,
    interval: int = 1,
    weekdays: Iterable[str] = (),
    monthly: str = "day",
    month_day: int = 1,
    ordinal: int = 2,
    ordinal_day: str = "TU",
    until: dt.date | None = None,
    count: int | None = None,
) -> str:
    """An RRULE from the builder's choices (daily, weekly on days, monthly by day or by "the
    second Tuesday", until a date or a number of times)."""
    parts = [f"FREQ={freq}"]
    if interval > 1:
        parts.append(f"INTERVAL={interval}")
    if freq == "WEEKLY" and weekdays:
        parts.append("BYDAY=" + ",".join(d for d in WEEKDAYS if d in set(weekdays)))
    if freq == "MONTHLY":
        if monthly == "day":
            parts.append(f"BYMONTHDAY={month_day}")
        else:
            parts.append(f"BYDAY={ordinal}{ordinal_day}")
    if until is not None:
        parts.append(f"UNTIL={until.strftime('%Y%m%d')}")
    elif count:
        parts.append(f"COUNT={count}")
    return ";".join(parts)


def describe(rule: str) -> str:
    """A readable sentence for a rule the builder makes."""
    p = dict(part.split("=", 1) for part in rule.split(";") if "=" in part)
    every = int(p.get("INTERVAL", "1"))
    unit = {"DAILY": "day", "WEEKLY": "week", "MONTHLY": "month", "YEARLY": "year"}[p["FREQ"]]
    text = f"Every {unit}" if every == 1 else f"Every {every} {unit}s"
    if p["FREQ"] == "WEEKLY" and "BYDAY" in p:
        text += " on " + ", ".join(WEEKDAY_NAMES[d] for d in p["BYDAY"].split(","))
    if p["FREQ"] == "MONTHLY" and "BYMONTHDAY" in p:
        text += f" on day {p['BYMONTHDAY']}"
    if p["FREQ"] == "MONTHLY" and "BYDAY" in p:
        code = p["BYDAY"]
        n, day = int(code[:-2]), code[-2:]
        text += f" on the {ORDINALS.get(n, str(n))} {WEEKDAY_NAMES[day]}"
    if "UNTIL" in p:
        text += f", until {p['UNTIL'][:4]}-{p['UNTIL'][4:6]}-{p['UNTIL'][6:8]}"
    if "COUNT" in p:
        text += f", {p['COUNT']} times"
    return text
