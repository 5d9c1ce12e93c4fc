"""Activities: the only writer of ``app.activities`` (logged entries); every write appends its
event. Comment threads are :mod:`api.activities.comments`, mentions
:mod:`api.activities.mentions`, timelines :mod:`api.activities.timeline`, search
:mod:`api.activities.search`.

Rules:

* People log ``call | email | meeting | note | file`` activities; ``task``, ``status_change``,
  ``field_update`` and ``system`` entries are derived from the event log by the ``activity_timeline`` consumer
  (:mod:`api.activities.consumer`) and cannot be written or changed through the API.
* ``metadata`` is validated per type (tagged Structs in :mod:`api.activities.schemas`);
  meeting attendees must be members of the team.
* Descriptions and comments are HTML, sanitised with nh3. ``@[Name](member_id)`` mentions a
  member; an id that names no member of the team is a 422 (:mod:`api.activities.mentions`).
* A logged activity is edited or deleted by its author or a manager.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from api.activities import objects
from api.activities.mentions import actor_member, check_members, mentioned_ids, record_mentions
from api.activities.schemas import LOGGABLE_TYPES, METADATA_BY_TYPE, ActivityMetadata
from api.common.guards import require_author, require_role, require_scope
from api.common.records import RecordService, plausible_id
from api.common.validate import convert_strict, range_errors
from api.common.visibility import restricted_types, restriction
from leadly.actor import Actor
from leadly.html import sanitize as html_sanitize
from leadly.problem import Problem, validation
from warehouse.events import EventRecord
from warehouse.models import Activity
from warehouse.models.activities import ACTOR_TYPES

activities = Activity.__table__

MAX_TEXT = 20_000


def sanitize(html: str | None) -> str | None:
    """``html`` with only safe tags and attributes left (nh3); empty → None."""
    if html is None:
        return None
    return html_sanitize(html) or None


def _actor_type(actor: Actor) -> str:
    return actor.actor_type if actor.actor_type in ACTOR_TYPES else "system"


def check_write(actor: Actor) -> None:
    require_scope(actor, "activities:write")
    require_role(actor, "user")


def validate_metadata(type_: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """``raw`` as the metadata of a ``type_`` activity (422 naming each bad field), normalised
    (defaults filled, datetimes as ISO strings), without the type tag."""
    if not isinstance(raw, Mapping):
        raise validation([{"field": "metadata", "message": "Expected an object."}])
    if "type" in raw:
        raise validation([{"field": "metadata.type", "message": "Unknown field."}])
    try:
        meta = msgspec.convert({**raw, "type": type_}, ActivityMetadata)
    except msgspec.ValidationError:
        # Name every bad field (the union conversion stops at the first one).
        convert_strict(METADATA_BY_TYPE[type_], dict(raw), "metadata")
        raise
    if errors := range_errors(meta, "metadata"):
        raise validation(errors)
    if type_ == "meeting" and meta.ends_at is not None and meta.ends_at < meta.starts_at:
        raise validation(
            [{"field": "metadata.ends_at", "message": "A meeting cannot end before it starts."}]
        )
    out = msgspec.to_builtins(meta)
    out.pop("type", None)
    # Timestamps are stored in UTC (ISO 8601 with "Z"), so they compare and sort as text too.
    for field in msgspec.structs.fields(meta):
        value = getattr(meta, field.name)
        if isinstance(value, datetime):
            out[field.encode_name] = msgspec.to_builtins(value.astimezone(UTC))
    return out


def about_visible(actor: Actor) -> list[Any]:
    """Conditions that leave out entries about a record the actor may not see (a guest and a
    task not assigned to them), like the record itself."""
    return [
        or_(
            activities.c.related_to_type != kind,
            restriction(actor, kind, activities.c.related_to_id),
        )
        for kind in restricted_types(actor)
    ]


class ActivityService(RecordService):
    table = activities
    object_type = "activity"
    plural = "activities"
    prefix = "act"
    extra_hidden = frozenset({"search_vector", "meeting_starts_at"})

    def _scoped(self, actor: Actor, *, include_deleted: bool = False) -> Any:
        return super()._scoped(actor, include_deleted=include_deleted).where(*about_visible(actor))

    async def validate(
        self,
        conn: AsyncConnection,
        actor: Actor,
        values: dict[str, Any],
        current: Mapping[str, Any] | None,
    ) -> None:
        if current is None:
            type_ = values["type"]
            if type_ not in LOGGABLE_TYPES:
                raise validation(
                    [
                        {
                            "field": "type",
                            "message": f"{type_} entries are derived from the event log; log "
                            f"one of {', '.join(LOGGABLE_TYPES)}.",
                        }
                    ]
                )
            rtype, rid = values["related_to_type"], values["related_to_id"]
            table = objects.RELATABLE.get(rtype)
            if table is None:
                raise validation(
                    [
                        {
                            "field": "related_to_type",
                            "message": "Activities relate to one of: "
                            + ", ".join(sorted(objects.RELATABLE))
                            + ".",
                        }
                    ]
                )
            if not await objects.record_exists(conn, actor, table, rid):
                raise validation(
                    [
                        {
                            "field": "related_to_id",
                            "message": f"No {rtype} with this id in your team.",
                        }
                    ]
                )
            values["actor_type"] = _actor_type(actor)
            values["member_id"] = actor_member(actor)
            if values.get("occurred_at") is None:
                values.pop("occurred_at", None)
        else:
            type_ = current["type"]
        if "metadata" in values or current is None:
            values["metadata"] = validate_metadata(type_, values.get("metadata") or {})
            if type_ == "meeting":
                await check_members(
                    conn,
                    actor,
                    values["metadata"].get("attendee_ids", []),
                    "metadata.attendee_ids",
                    "metadata.attendee_ids",
                )
        if "description" in values:
            values["description"] = sanitize(values["description"])
            await check_members(
                conn, actor, mentioned_ids(values["description"]), "description", "description"
            )
        if "subject" in values and values["subject"] is not None:
            values["subject"] = values["subject"].strip() or None

    def check_may_change(self, actor: Actor, row: Mapping[str, Any]) -> None:
        if row.get("source_event_id") is not None or row["type"] not in LOGGABLE_TYPES:
            raise Problem(
                403,
                "This entry is derived from the event log and cannot be changed.",
                title="Forbidden",
            )
        require_author(actor, row.get("member_id"), "activity")

    async def create(
        self,
        conn: AsyncConnection,
        actor: Actor,
        values: dict[str, Any],
        *,
        extra_events: Iterable[EventRecord] = (),
    ) -> dict[str, Any]:
        row = await super().create(conn, actor, values, extra_events=extra_events)
        await record_mentions(
            conn, actor, row, mentioned_ids(row["description"]), excerpt=row["description"]
        )
        return row

    async def update(
        self,
        conn: AsyncConnection,
        actor: Actor,
        id: str,
        values: dict[str, Any],
        *,
        if_match: int | None = None,
        action: str = "updated",
        allow: Iterable[str] = (),
    ) -> dict[str, Any]:
        current = await self.get(conn, actor, id, for_update=True)
        self.check_may_change(actor, current)
        row = await super().update(
            conn, actor, id, values, if_match=if_match, action=action, allow=allow
        )
        if "description" in values:
            await record_mentions(
                conn, actor, row, mentioned_ids(row["description"]), excerpt=row["description"]
            )
        return row

    async def delete(
        self, conn: AsyncConnection, actor: Actor, id: str, *, if_match: int | None = None
    ) -> None:
        current = await self.get(conn, actor, id, for_update=True)
        self.check_may_change(actor, current)
        await super().delete(conn, actor, id, if_match=if_match)

    async def restore(self, conn: AsyncConnection, actor: Actor, id: str) -> dict[str, Any]:
        t = self.table
        if plausible_id(id):
            row = (
                await conn.execute(
                    select(t.c.type, t.c.member_id, t.c.source_event_id).where(
                        t.c.team_id == actor.team_id, t.c.id == id, t.c.deleted_at.is_not(None)
                    )
                )
            ).first()
            if row is not None:
                self.check_may_change(actor, dict(row._mapping))
        return await super().restore(conn, actor, id)


activity_service = ActivityService()

ACTIVITY_COLUMNS = [
    c
    for c in activities.c
    if c.name not in ("team_id", "deleted_at", *ActivityService.extra_hidden)
]
