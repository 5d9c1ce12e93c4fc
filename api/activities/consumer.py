"""The ``activity_timeline`` dispatcher consumer: derives timeline entries from the event log.

For each event of another object type (leads, contacts, accounts, deals, tasks, call logs, ...):

* ``created`` → one ``system`` entry;
* an update (``updated`` or any other action that changed fields) whose changes contain a
  ``status`` or ``stage`` field → one ``status_change`` (metadata ``field``, ``old``, ``new``);
* any other update → one ``field_update`` listing the changed fields (``fields``, ``changes``);
* ``deleted``, ``restored``, ``merged``, ``converted``, ``assigned``... and events without
  changes → one ``system`` entry naming the action.

The entry relates to the event's record, occurs when the event did, is attributed to the
event's member, and keeps the event's id in ``source_event_id``: a unique index makes a
redelivered event (at-least-once) or a replay over the same events add nothing. Derived entries
are a projection of the event log, so writing them appends no event of their own.

Skipped: the timeline's own objects (activities, comments, mentions) and platform objects that
are no record's history (credentials, sessions, dispatcher bookkeeping, teams and members,
notification preferences and subscriptions, watches, calendar feeds, personal settings).
"""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import text

from api.dispatcher.registry import Consumer, DispatchedEvent
from leadly.ids import new_id
from warehouse.db import api_engine, tenant_tx

NAME = "activity_timeline"
SKIP_TYPES = frozenset(
    {
        "activity",
        "activity_comment",
        "mention",
        "api_key",
        "session",
        "invitation",
        "team",
        "member",
        "dispatch_failure",
        "dispatch_test",
        "notification",
        "notification_delivery",
        "notification_preferences",
        "push_subscription",
        "watch",
        "calendar_feed",
        "member_task_settings",
        "idempotency_key",
    }
)
SYSTEM_ACTIONS = frozenset(
    {
        "created",
        "deleted",
        "restored",
        "merged",
        "converted",
        "assigned",
        "unassigned",
        "reassigned",
        "archived",
        "unarchived",
    }
)
STATUS_FIELDS = ("status", "stage")
# Values of these fields never reach the timeline (only the field's name does).
SECRET_PARTS = ("password", "secret", "token", "hash", "key")
IGNORED_FIELDS = frozenset({"updated_at", "version", "search_vector"})

INSERT = text(
    """
    INSERT INTO app.activities (team_id, id, type, subject, related_to_type, related_to_id,
                                actor_type, member_id, occurred_at, metadata, source_event_id)
    VALUES (:team_id, :id, :type, :subject, :related_to_type, :related_to_id, :actor_type,
            (SELECT m.id FROM app.team_members m WHERE m.team_id = :team_id AND m.id = :member),
            :occurred_at, CAST(:metadata AS jsonb), :event_id)
    ON CONFLICT (team_id, source_event_id) WHERE source_event_id IS NOT NULL DO NOTHING
    """
)


def accepts(event: DispatchedEvent) -> bool:
    return event.object_type not in SKIP_TYPES and event.action not in (
        "logged_in",
        "logged_out",
    )


def _label(object_type: str) -> str:
    return object_type.replace("_", " ").capitalize()


def _secret(field: str) -> bool:
    return any(p in field.lower() for p in SECRET_PARTS)


def _pair(field: str, value: Any) -> Any:
    if _secret(field):
        return None
    if isinstance(value, list) and len(value) == 2:
        return {"old": value[0], "new": value[1]}
    return {"old": None, "new": value}


def _short(value: Any) -> str:
    s = "none" if value is None else str(value)
    return s if len(s) <= 60 else s[:57] + "..."


def derive(event: DispatchedEvent) -> dict[str, Any]:
    """The timeline entry ``event`` yields: ``type``, ``subject``, ``metadata``."""
    label = _label(event.object_type)
    changed = {k: v for k, v in event.changes.items() if k not in IGNORED_FIELDS}
    action = event.action
    if action in SYSTEM_ACTIONS or not changed:
        meta: dict[str, Any] = {"action": action}
        if action != "created":
            meta["changes"] = {k: _pair(k, v) for k, v in changed.items()}
        if event.data:
            meta["data"] = {k: v for k, v in event.data.items() if not _secret(k)}
        return {
            "type": "system",
            "subject": f"{label} {action.replace('_', ' ')}",
            "metadata": meta,
        }
    status_field = next((f for f in STATUS_FIELDS if f in changed), None)
    if status_field is not None:
        pair = _pair(status_field, changed[status_field]) or {"old": None, "new": None}
        return {
            "type": "status_change",
            "subject": f"{label} {status_field} changed from {_short(pair['old'])} to "
            f"{_short(pair['new'])}",
            "metadata": {
                "field": status_field,
                "old": pair["old"],
                "new": pair["new"],
                "action": action,
                "other_fields": sorted(f for f in changed if f != status_field),
            },
        }
    fields = sorted(changed)
    shown = ", ".join(fields[:5]) + (f" and {len(fields) - 5} more" if len(fields) > 5 else "")
    return {
        "type": "field_update",
        "subject": f"{label} updated: {shown}",
        "metadata": {
            "fields": fields,
            "changes": {k: _pair(k, v) for k, v in changed.items()},
            "action": action,
        },
    }


def entry_values(event: DispatchedEvent) -> dict[str, Any]:
    entry = derive(event)
    actor_type = event.actor_type if event.actor_type in ("member", "api_key") else "system"
    return {
        "team_id": event.team_id,
        "id": new_id("act"),
        "type": entry["type"],
        "subject": entry["subject"],
        "related_to_type": event.object_type,
        "related_to_id": event.object_id,
        "actor_type": actor_type,
        "member": event.actor_id if actor_type != "system" else None,
        "occurred_at": event.occurred_at,
        "metadata": msgspec.json.encode(entry["metadata"]).decode(),
        "event_id": event.id,
    }


async def handle(event: DispatchedEvent) -> None:
    """Write the event's timeline entry (nothing when it was written already)."""
    if not accepts(event) or not event.object_id:
        return
    async with tenant_tx(api_engine(), event.team_id) as conn:
        await conn.execute(INSERT, entry_values(event))


timeline_consumer = Consumer(
    NAME,
    handle,
    filter=accepts,
    timeout=60.0,
    description="Derive timeline entries (status changes, field updates, system) from events",
)
