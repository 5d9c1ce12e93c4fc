"""Dispatcher consumers that turn events into notifications, and the one that delivers them.

``notifications`` (producer) reads the event log and creates, per event:

- ``task_assigned``: a task ``created`` with ``changes.assignee_ids``, or an update whose
  ``changes.assignee_ids`` adds members: each newly added assignee except the actor. Not for
  the next occurrence of a recurring task (``data.recurrence_of``) or its copied subtasks.
- ``task_reminder`` / ``task_overdue``: a task ``reminder_fired`` event,
  ``data = {member_id, kind: reminder | overdue, due_at, remind_at}``.
- ``mention``: ``object_type = mention``, ``created``, with ``member_id``, ``activity_id``,
  ``comment_id``, ``related_to_type``, ``related_to_id`` (in ``changes`` or ``data``).
- ``deal_stage_changed``: a deal event whose changes contain ``stage`` (or ``stage_id``): the
  owner and the deal's watchers, not the actor.
- ``lead_assigned``: a lead event whose ``changes.owner_id`` gets a new owner (not the actor);
  not for the rows of a file import (``data.import_id``: the import's ``system`` notification
  sums them up).
- ``meeting_reminder``: an activity ``reminder_fired`` event (``data.kind = meeting``) for
  each attendee (``data.member_ids``) — see :mod:`api.notifications.reminders`.
- ``member_activity``: a member's created/converted/merged/won/lost records, for every member
  who watches them.
- ``system``: an import that completed or failed, for the member who started it.

Every notification's ``source_key`` is the event id, so redelivering an event changes nothing.
``notifications.deliver`` sends the external deliveries of each new notification (see
:mod:`api.notifications.delivery`); a failed one makes the dispatcher retry the event with its
backoff, and sent rows are never sent again.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import text

from api.dispatcher.registry import Consumer, DispatchedEvent
from api.notifications.drafts import Draft, create_in, publish
from api.notifications.watches import watchers_of
from warehouse.db import api_engine, tenant_tx
from warehouse.models.notifications import PRIORITIES

log = logging.getLogger("leadly.notifications")

PLURALS = {
    "lead": "leads",
    "contact": "contacts",
    "account": "accounts",
    "deal": "deals",
    "task": "tasks",
    "activity": "activities",
    "call_log": "call-logs",
    "import": "imports",
    "note": "notes",
    "meeting": "activities",
}
WATCHED_ACTIONS = ("created", "converted", "merged", "won", "lost")
WATCHED_OBJECTS = ("lead", "contact", "account", "deal", "task", "activity", "call_log", "note")


def link(object_type: str | None, object_id: str | None) -> str | None:
    if not object_type or not object_id:
        return None
    plural = PLURALS.get(object_type, f"{object_type}s")
    return f"/{plural}/{object_id}"


def after(event: DispatchedEvent, field: str) -> Any:
    v = event.changes.get(field)
    if isinstance(v, list) and len(v) == 2:
        return v[1]
    return None


def before(event: DispatchedEvent, field: str) -> Any:
    v = event.changes.get(field)
    if isinstance(v, list) and len(v) == 2:
        return v[0]
    return None


def value(event: DispatchedEvent, field: str) -> Any:
    """A field's new value from ``changes`` (``[before, after]``), else from ``data``."""
    if field in event.changes:
        v = event.changes[field]
        return v[1] if isinstance(v, list) and len(v) == 2 else v
    return event.data.get(field)


def _ids(v: Any) -> list[str]:
    if isinstance(v, str):
        return [v]
    if isinstance(v, list | tuple):
        return [x for x in v if isinstance(x, str)]
    return []


_TABLES: set[str] = set()  # tables known to exist (they are never dropped while running)


async def _row(conn: Any, table: str, team_id: str, id: str) -> dict[str, Any] | None:
    if table not in _TABLES:
        exists = (
            await conn.execute(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": f"app.{table}"})
        ).scalar()
        if not exists:
            return None
        _TABLES.add(table)
    row = (
        await conn.execute(
            text(f"SELECT to_jsonb(x) AS j FROM app.{table} x WHERE team_id = :t AND id = :id"),
            {"t": team_id, "id": id},
        )
    ).first()
    return row.j if row else None


def _label(row: dict[str, Any] | None, event: DispatchedEvent, fallback: str) -> str:
    for source in (
        row or {},
        {k: value(event, k) for k in ("title", "name", "subject", "first_name", "last_name")},
    ):
        for key in ("title", "name", "subject", "file_name"):
            if source.get(key):
                return str(source[key])
        first, last = source.get("first_name"), source.get("last_name")
        if first or last:
            return " ".join(x for x in (first, last) if x)
    return fallback


#: Member names by (team, member), kept :data:`NAME_TTL` seconds (a rename shows in new
#: notifications within that time).
_NAMES: dict[tuple[str, str], tuple[float, str]] = {}
NAME_TTL = 60.0


async def _actor_name(conn: Any, event: DispatchedEvent) -> str:
    if event.actor_type == "member" and event.actor_id:
        key = (event.team_id, event.actor_id)
        now = time.monotonic()
        hit = _NAMES.get(key)
        if hit is not None and now - hit[0] < NAME_TTL:
            return hit[1]
        row = (
            await conn.execute(
                text("SELECT name FROM app.team_members WHERE team_id = :t AND id = :id"),
                {"t": event.team_id, "id": event.actor_id},
            )
        ).first()
        if row:
            if len(_NAMES) > 10_000:
                _NAMES.clear()
            _NAMES[key] = (now, row.name)
            return row.name
    return "Someone" if event.actor_type == "member" else "Leadly"


def _priority(event: DispatchedEvent, default: str) -> str:
    """``data.priority`` when the producing area set one (e.g. an urgent reminder)."""
    p = event.data.get("priority")
    return p if p in PRIORITIES else default


def _draft(event: DispatchedEvent, member_id: str, type_: str, **kw: Any) -> Draft:
    return Draft(
        member_id=member_id,
        type=type_,
        source_key=f"evt:{event.id}",
        source_event_id=event.id,
        actor_id=event.actor_id if event.actor_type == "member" else None,
        **kw,
    )


# --------------------------------------------------------------------------- per event type


async def _task(conn: Any, event: DispatchedEvent) -> list[Draft]:
    if event.action == "reminder_fired":
        member_id = event.data.get("member_id")
        if not isinstance(member_id, str):
            return []
        kind = event.data.get("kind")
        overdue = kind == "overdue"
        row = await _row(conn, "tasks", event.team_id, event.object_id)
        label = _label(row, event, "a task")
        due = event.data.get("due_at")
        return [
            _draft(
                event,
                member_id,
                "task_overdue" if overdue else "task_reminder",
                title=f"Overdue: {label}" if overdue else f"Reminder: {label}",
                message=f"Due {due}." if due else "",
                priority=_priority(event, "high" if overdue else "normal"),
                related_to_type="task",
                related_to_id=event.object_id,
                action_url=link("task", event.object_id),
                metadata={
                    "kind": kind,
                    "due_at": due,
                    "remind_at": event.data.get("remind_at"),
                },
            )
        ]
    if "assignee_ids" not in event.changes or event.data.get("recurrence_of"):
        return []  # (the next occurrence of a recurring task: its assignees know the series)
    new = set(_ids(after(event, "assignee_ids"))) - set(_ids(before(event, "assignee_ids")))
    if event.action not in ("created", "updated") or not new:
        return []
    row = await _row(conn, "tasks", event.team_id, event.object_id)
    label = _label(row, event, "a task")
    who = await _actor_name(conn, event)
    due = value(event, "due_at") or (row or {}).get("due_at")
    return [
        _draft(
            event,
            m,
            "task_assigned",
            title=f"{who} assigned you a task: {label}",
            message=f"Due {due}." if due else "",
            related_to_type="task",
            related_to_id=event.object_id,
            action_url=link("task", event.object_id),
            metadata={"task_title": label, "due_at": due},
        )
        for m in sorted(new)
        if m != event.actor_id
    ]


async def _mention(conn: Any, event: DispatchedEvent) -> list[Draft]:
    if event.action != "created":
        return []
    member_id = value(event, "member_id")
    if not isinstance(member_id, str) or member_id == event.actor_id:
        return []
    activity_id = value(event, "activity_id")
    comment_id = value(event, "comment_id")
    rtype, rid = value(event, "related_to_type"), value(event, "related_to_id")
    who = await _actor_name(conn, event)
    excerpt = value(event, "excerpt") or value(event, "text") or ""
    return [
        _draft(
            event,
            member_id,
            "mention",
            title=f"{who} mentioned you",
            message=str(excerpt),
            priority="high",
            related_to_type=rtype or ("activity" if activity_id else None),
            related_to_id=rid or activity_id,
            action_url=link(rtype, rid) or link("activity", activity_id),
            metadata={
                "activity_id": activity_id,
                "comment_id": comment_id,
                "mention_id": event.object_id,
            },
        )
    ]


async def _deal(conn: Any, event: DispatchedEvent) -> list[Draft]:
    field = (
        "stage" if "stage" in event.changes else "stage_id" if "stage_id" in event.changes else None
    )
    if field is None or event.action == "created":
        return []
    row = await _row(conn, "deals", event.team_id, event.object_id)
    owner = value(event, "owner_id") or (row or {}).get("owner_id")
    recipients = set(_ids(owner)) | set(_ids(event.data.get("watcher_ids")))
    recipients |= set(await watchers_of(conn, event.team_id, "deal", event.object_id))
    recipients.discard(event.actor_id or "")
    if not recipients:
        return []
    old, new = before(event, field), after(event, field)
    old_name = event.data.get("from_stage_name") or event.data.get("old_stage_name") or old
    new_name = event.data.get("to_stage_name") or event.data.get("stage_name") or new
    label = _label(row, event, "A deal")
    who = await _actor_name(conn, event)
    return [
        _draft(
            event,
            m,
            "deal_stage_changed",
            title=f"{label} moved to {new_name}",
            message=f"{who} moved it from {old_name} to {new_name}.",
            related_to_type="deal",
            related_to_id=event.object_id,
            action_url=link("deal", event.object_id),
            metadata={"from_stage": old, "to_stage": new, "deal_name": label},
        )
        for m in sorted(recipients)
    ]


async def _lead(conn: Any, event: DispatchedEvent) -> list[Draft]:
    if event.data.get("import_id"):
        return []  # a file import: its completion notification sums it up
    owner = after(event, "owner_id")
    if not isinstance(owner, str) or owner == event.actor_id or owner == before(event, "owner_id"):
        return []
    # A created event carries every field; an update only what changed: read the lead then.
    named = any(value(event, k) for k in ("first_name", "last_name"))
    row = None if named else await _row(conn, "leads", event.team_id, event.object_id)
    label = _label(row, event, "a lead")
    who = await _actor_name(conn, event)
    company = value(event, "company_name") or (row or {}).get("company_name")
    return [
        _draft(
            event,
            owner,
            "lead_assigned",
            title=f"{who} assigned you a lead: {label}",
            message=f"{label} ({company})" if company else label,
            related_to_type="lead",
            related_to_id=event.object_id,
            action_url=link("lead", event.object_id),
            metadata={"lead_name": label, "company_name": company},
        )
    ]


async def _import(conn: Any, event: DispatchedEvent) -> list[Draft]:
    status = after(event, "status")
    if event.action != "updated" or status not in ("completed", "failed"):
        return []
    row = await _row(conn, "imports", event.team_id, event.object_id) or {}
    member = row.get("created_by")
    if not isinstance(member, str):
        return []
    name = row.get("file_name") or "import"
    if status == "completed":
        title = f"Import of {name} completed"
        message = (
            f"{row.get('imported', 0)} imported, {row.get('updated', 0)} updated, "
            f"{row.get('skipped_duplicates', 0)} duplicates skipped, "
            f"{row.get('rejected', 0)} rejected."
        )
    else:
        title = f"Import of {name} failed"
        message = str(after(event, "error") or row.get("error") or "")
    return [
        _draft(
            event,
            member,
            "system",
            title=title,
            message=message,
            priority="normal" if status == "completed" else "high",
            related_to_type="import",
            related_to_id=event.object_id,
            action_url=link("import", event.object_id),
            metadata={"kind": f"import_{status}", "status": status},
        )
    ]


async def _meeting(conn: Any, event: DispatchedEvent) -> list[Draft]:
    if event.action != "reminder_fired" or event.data.get("kind") != "meeting":
        return []
    starts = event.data.get("starts_at")
    title = event.data.get("title") or "Meeting"
    return [
        _draft(
            event,
            m,
            "meeting_reminder",
            title=f"Starting soon: {title}",
            message=f"Starts at {starts}." if starts else "",
            priority=_priority(event, "high"),
            related_to_type="activity",
            related_to_id=event.object_id,
            action_url=link("activity", event.object_id),
            metadata={"starts_at": starts, "minutes_before": event.data.get("minutes_before")},
        )
        for m in _ids(event.data.get("member_ids"))
    ]


async def _watchers(conn: Any, event: DispatchedEvent, already: set[str]) -> list[Draft]:
    if (
        event.actor_type != "member"
        or event.data.get("import_id")
        or not event.actor_id
        or event.object_type not in WATCHED_OBJECTS
        or event.action not in WATCHED_ACTIONS
    ):
        return []
    watchers = set(await watchers_of(conn, event.team_id, "member", event.actor_id))
    watchers -= already | {event.actor_id}
    if not watchers:
        return []
    row = (
        await _row(
            conn,
            PLURALS.get(event.object_type, "").replace("-", "_"),
            event.team_id,
            event.object_id,
        )
        if event.object_type in ("lead", "contact", "account", "deal", "task")
        else None
    )
    label = _label(row, event, event.object_id)
    who = await _actor_name(conn, event)
    noun = event.object_type.replace("_", " ")
    return [
        _draft(
            event,
            m,
            "member_activity",
            title=f"{who} {event.action} {noun} {label}",
            priority="low",
            related_to_type=event.object_type,
            related_to_id=event.object_id,
            action_url=link(event.object_type, event.object_id),
            metadata={"watched_member_id": event.actor_id, "action": event.action},
        )
        for m in sorted(watchers)
    ]


HANDLERS = {
    "task": _task,
    "mention": _mention,
    "deal": _deal,
    "lead": _lead,
    "import": _import,
    "activity": _meeting,
    "meeting": _meeting,
}
IGNORED = {"notification", "notification_preferences", "watch", "push_subscription"}


def interesting(event: DispatchedEvent) -> bool:
    if event.object_type in IGNORED:
        return False
    return event.object_type in HANDLERS or (
        event.actor_type == "member"
        and event.object_type in WATCHED_OBJECTS
        and event.action in WATCHED_ACTIONS
    )


async def drafts_for(conn: Any, event: DispatchedEvent) -> list[Draft]:
    handler = HANDLERS.get(event.object_type)
    drafts = await handler(conn, event) if handler else []
    drafts += await _watchers(conn, event, {d.member_id for d in drafts})
    return drafts


async def produce(event: DispatchedEvent) -> None:
    """Create the notifications an event calls for (idempotent per event and member), in one
    transaction, then push them."""
    async with tenant_tx(api_engine(), event.team_id) as conn:
        made = await create_in(conn, event.team_id, await drafts_for(conn, event))
    await publish(made)


async def deliver(event: DispatchedEvent) -> None:
    """Send the external deliveries of a new notification that are due now."""
    from api.notifications import delivery

    await delivery.deliver_notification(event.team_id, event.object_id)


def _is_new_notification(event: DispatchedEvent) -> bool:
    return (
        event.object_type == "notification"
        and event.action == "created"
        and bool(event.data.get("deliveries"))
    )


producer = Consumer(
    "notifications",
    produce,
    filter=interesting,
    start_from="now",
    timeout=60.0,
    linger=0.0,  # someone is waiting for it
    description="Create notifications from events",
)
deliverer = Consumer(
    "notifications.deliver",
    deliver,
    filter=_is_new_notification,
    start_from="now",
    timeout=120.0,
    description="Send notifications by email, SMS, push, Slack and Teams",
)
consumers = [producer, deliverer]
