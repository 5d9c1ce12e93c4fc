"""Activities, comments and mentions: the only writer of ``app.activities`` (logged entries),
``app.activity_comments`` and ``app.mentions``; every write appends its event.

Rules:

* People log ``call | email | meeting | note | file`` activities; ``task``, ``status_change``,
  ``field_update`` and ``system`` entries are derived from the event log by the ``activity_timeline`` consumer
  (:mod:`api.activities.consumer`) and cannot be written or changed through the API.
* ``metadata`` is validated per type (tagged Structs in :mod:`api.activities.schemas`);
  meeting attendees must be members of the team.
* Descriptions and comments are HTML, sanitised with nh3. ``@[Name](member_id)`` mentions a
  member; an id that names no member of the team is a 422. Each new mention is a row of
  ``app.mentions`` and an event ``mention``/``created`` whose ``changes`` carry ``member_id``,
  ``activity_id``, ``comment_id``, ``related_to_type`` and ``related_to_id`` (the notifications
  consumer turns it into a notification).
* A logged activity is edited or deleted by its author or a manager. A comment is edited or
  deleted only by its author; deleting leaves a tombstone (text emptied, ``deleted_at`` set) so
  its replies keep their place in the thread.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import nh3
from sqlalchemy import and_, false, func, insert, or_, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from api.activities import objects
from api.activities.schemas import LOGGABLE_TYPES, METADATA_BY_TYPE, ActivityMetadata
from api.common.guards import require_author, require_role, require_scope
from api.common.records import RecordService, check_version, execute, plausible_id
from api.common.validate import convert_strict, range_errors
from leadly.actor import Actor
from leadly.ids import new_id
from leadly.problem import Problem, not_found, validation
from warehouse import events
from warehouse.events import EventRecord, diff
from warehouse.models import Activity, ActivityComment, Mention, TeamMember

activities = Activity.__table__
comments = ActivityComment.__table__
mentions = Mention.__table__
members = TeamMember.__table__

MENTION_RE = re.compile(r"@\[([^\]\r\n]{1,200})\]\(([^)\s]{1,200})\)")
ACTOR_TYPES = ("member", "api_key", "system")
MAX_TEXT = 20_000


# ----------------------------------------------------------------------------- helpers


def sanitize(html: str | None) -> str | None:
    """``html`` with only safe tags and attributes left (nh3); empty → None."""
    if html is None:
        return None
    clean = nh3.clean(html).strip()
    return clean or None


def mentioned_ids(text_: str | None) -> list[str]:
    """Member ids named by ``@[Name](member_id)`` in ``text_``, first occurrence order."""
    if not text_:
        return []
    return list(dict.fromkeys(m.group(2) for m in MENTION_RE.finditer(text_)))


async def check_members(
    conn: AsyncConnection, actor: Actor, ids: Sequence[str], field: str, what: str
) -> None:
    """422 naming ``field`` unless every id is a member of the caller's team."""
    if not ids:
        return
    wanted = [i for i in ids if plausible_id(i)]
    found = set(
        (
            await conn.execute(
                select(members.c.id).where(
                    members.c.team_id == actor.team_id, members.c.id.in_(wanted)
                )
            )
        ).scalars()
    )
    unknown = [i for i in ids if i not in found]
    if unknown:
        raise validation(
            [
                {"field": field, "message": f"No member with id {i!r} in your team."}
                for i in unknown
            ],
            f"{what} names {len(unknown)} member(s) who are not in your team: "
            + ", ".join(repr(i) for i in unknown[:5]),
        )


def _actor_member(actor: Actor) -> str | None:
    return None if actor.actor_type == "system" else actor.member_id


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


def _b64(obj: Any) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(obj)).decode().rstrip("=")


def _unb64(cursor: str) -> Any:
    try:
        return msgspec.json.decode(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, msgspec.DecodeError):
        raise bad_cursor() from None


def bad_cursor() -> Problem:
    return Problem(
        400,
        "The cursor is malformed or belongs to another query.",
        errors=[{"field": "cursor", "message": "Malformed cursor."}],
    )


# ----------------------------------------------------------------------------- mentions


async def record_mentions(
    conn: AsyncConnection,
    actor: Actor,
    activity: Mapping[str, Any],
    member_ids: Iterable[str],
    *,
    comment_id: str | None = None,
    excerpt: str | None = None,
) -> list[str]:
    """Write a mention (row + ``mention``/``created`` event) for each member not yet mentioned
    in this activity description / comment; returns the new mention ids."""
    ids = list(dict.fromkeys(member_ids))
    if not ids:
        return []
    q = select(mentions.c.member_id).where(
        mentions.c.team_id == actor.team_id, mentions.c.activity_id == activity["id"]
    )
    q = q.where(
        mentions.c.comment_id == comment_id if comment_id else mentions.c.comment_id.is_(None)
    )
    existing = set((await conn.execute(q)).scalars())
    new = [m for m in ids if m not in existing]
    if not new:
        return []
    by = _actor_member(actor)
    rows = [
        {
            "team_id": actor.team_id,
            "id": new_id("mnt"),
            "member_id": m,
            "activity_id": activity["id"],
            "comment_id": comment_id,
            "mentioned_by": by,
        }
        for m in new
    ]
    await execute(conn, insert(mentions), rows)
    short = (re.sub(r"<[^>]*>", " ", excerpt or "").strip() or None) if excerpt else None
    await events.append(
        conn,
        *[
            EventRecord(
                team_id=actor.team_id,
                actor_type=actor.actor_type,
                actor_id=actor.member_id,
                object_type="mention",
                object_id=r["id"],
                action="created",
                changes={
                    "member_id": [None, r["member_id"]],
                    "activity_id": [None, r["activity_id"]],
                    "comment_id": [None, r["comment_id"]],
                    "related_to_type": [None, activity["related_to_type"]],
                    "related_to_id": [None, activity["related_to_id"]],
                    "mentioned_by": [None, by],
                },
                request_id=actor.request_id,
                data={
                    "activity_subject": activity.get("subject"),
                    "excerpt": short[:280] if short else None,
                },
            )
            for r in rows
        ],
    )
    return [r["id"] for r in rows]


MENTION_COLUMNS = (
    mentions.c.id,
    mentions.c.member_id,
    mentions.c.activity_id,
    mentions.c.comment_id,
    mentions.c.mentioned_by,
    mentions.c.created_at,
    mentions.c.read_at,
    activities.c.related_to_type,
    activities.c.related_to_id,
    activities.c.subject.label("activity_subject"),
    func.left(
        func.regexp_replace(
            func.coalesce(comments.c.text, activities.c.description, ""), "<[^>]*>", " ", "g"
        ),
        280,
    ).label("excerpt"),
)


def _mentions_query(actor: Actor) -> Any:
    return (
        select(*MENTION_COLUMNS)
        .select_from(
            mentions.join(
                activities,
                and_(
                    activities.c.team_id == mentions.c.team_id,
                    activities.c.id == mentions.c.activity_id,
                ),
            ).outerjoin(
                comments,
                and_(
                    comments.c.team_id == mentions.c.team_id,
                    comments.c.id == mentions.c.comment_id,
                ),
            )
        )
        .where(mentions.c.team_id == actor.team_id, mentions.c.member_id == actor.member_id)
    )


async def list_mentions(
    conn: AsyncConnection, actor: Actor, *, unread: bool, limit: int, cursor: str | None
) -> dict[str, Any]:
    """The caller's mentions, newest first."""
    q = _mentions_query(actor)
    if unread:
        q = q.where(mentions.c.read_at.is_(None))
    if cursor:
        at, mid = _cursor_pair(cursor)
        q = q.where(tuple_(mentions.c.created_at, mentions.c.id) < tuple_(at, mid))
    q = q.order_by(mentions.c.created_at.desc(), mentions.c.id.desc()).limit(limit + 1)
    rows = [dict(r._mapping) for r in await conn.execute(q)]
    has_more = len(rows) > limit
    rows = rows[:limit]
    nxt = _b64([rows[-1]["created_at"].isoformat(), rows[-1]["id"]]) if has_more else None
    for r in rows:
        r["excerpt"] = (r["excerpt"] or "").strip() or None
    return {"data": rows, "next_cursor": nxt, "has_more": has_more}


async def mark_mentions_read(
    conn: AsyncConnection, actor: Actor, ids: Sequence[str] | None, *, read: bool = True
) -> list[str]:
    """Mark the caller's mentions read (or unread); ``ids`` None: all unread ones. Returns the
    ids whose state changed. Another member's mention is never touched."""
    q = update(mentions).where(
        mentions.c.team_id == actor.team_id, mentions.c.member_id == actor.member_id
    )
    if ids is not None:
        q = q.where(mentions.c.id.in_([i for i in ids if plausible_id(i)]))
    q = q.where(mentions.c.read_at.is_(None) if read else mentions.c.read_at.is_not(None))
    q = q.values(read_at=func.now() if read else None).returning(mentions.c.id)
    changed = list((await conn.execute(q)).scalars())
    await events.append(
        conn,
        *[
            EventRecord(
                team_id=actor.team_id,
                actor_type=actor.actor_type,
                actor_id=actor.member_id,
                object_type="mention",
                object_id=i,
                action="read" if read else "unread",
                changes={},
                request_id=actor.request_id,
            )
            for i in changed
        ],
    )
    return changed


async def get_mention(conn: AsyncConnection, actor: Actor, mention_id: str) -> dict[str, Any]:
    if not plausible_id(mention_id):
        raise not_found("mention", mention_id)
    row = (await conn.execute(_mentions_query(actor).where(mentions.c.id == mention_id))).first()
    if row is None:
        raise not_found("mention", mention_id)
    out = dict(row._mapping)
    out["excerpt"] = (out["excerpt"] or "").strip() or None
    return out


def _cursor_pair(cursor: str) -> tuple[datetime, str]:
    value = _unb64(cursor)
    try:
        at, rid = value
        return datetime.fromisoformat(at), str(rid)
    except (TypeError, ValueError):
        raise bad_cursor() from None


# ----------------------------------------------------------------------------- activities


class ActivityService(RecordService):
    table = activities
    object_type = "activity"
    plural = "activities"
    prefix = "act"
    extra_hidden = frozenset({"search_vector", "meeting_starts_at"})

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
            values["member_id"] = _actor_member(actor)
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


# ----------------------------------------------------------------------------- comments

COMMENT_COLUMNS = (
    comments.c.id,
    comments.c.activity_id,
    comments.c.parent_comment_id,
    comments.c.author_id,
    comments.c.text,
    comments.c.created_at,
    comments.c.updated_at,
    comments.c.edited_at,
    comments.c.deleted_at,
    comments.c.version,
)


def _clean_comment(raw: str) -> str:
    if not isinstance(raw, str) or "\x00" in raw:
        raise validation([{"field": "text", "message": "Text cannot contain NUL characters."}])
    if len(raw) > MAX_TEXT:
        raise validation([{"field": "text", "message": f"At most {MAX_TEXT} characters."}])
    clean = sanitize(raw)
    if not clean or not re.sub(r"<[^>]*>|&nbsp;|\s", "", clean):
        raise validation([{"field": "text", "message": "A comment needs some text."}])
    return clean


async def _live_activity(
    conn: AsyncConnection, actor: Actor, activity_id: str, *, lock: bool = False
) -> dict[str, Any]:
    return await activity_service.get(conn, actor, activity_id, for_update=lock)


async def _comment(
    conn: AsyncConnection, actor: Actor, activity_id: str, comment_id: str, *, lock: bool = False
) -> dict[str, Any]:
    if not plausible_id(comment_id):
        raise not_found("comment", comment_id)
    q = select(*COMMENT_COLUMNS).where(
        comments.c.team_id == actor.team_id,
        comments.c.id == comment_id,
        comments.c.activity_id == activity_id,
    )
    if lock:
        q = q.with_for_update()
    row = (await conn.execute(q)).first()
    if row is None:
        raise not_found("comment", comment_id)
    return dict(row._mapping)


def _comment_event(
    actor: Actor, comment_id: str, action: str, changes: dict[str, list[Any]], activity: Mapping
) -> EventRecord:
    return EventRecord(
        team_id=actor.team_id,
        actor_type=actor.actor_type,
        actor_id=actor.member_id,
        object_type="activity_comment",
        object_id=comment_id,
        action=action,
        changes=changes,
        request_id=actor.request_id,
        data={
            "activity_id": activity["id"],
            "related_to_type": activity["related_to_type"],
            "related_to_id": activity["related_to_id"],
        },
    )


async def present_comments(
    conn: AsyncConnection, actor: Actor, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Comment rows as the API shows them: tombstones without text, mentioned member ids."""
    ids = [r["id"] for r in rows]
    by_comment: dict[str, list[str]] = {}
    if ids:
        found = await conn.execute(
            select(mentions.c.comment_id, mentions.c.member_id)
            .where(mentions.c.team_id == actor.team_id, mentions.c.comment_id.in_(ids))
            .order_by(mentions.c.created_at, mentions.c.id)
        )
        for cid, mid in found:
            by_comment.setdefault(cid, []).append(mid)
    out = []
    for r in rows:
        deleted = r["deleted_at"] is not None
        out.append(
            {
                **r,
                "text": None if deleted else r["text"],
                "deleted": deleted,
                "mentions": [] if deleted else by_comment.get(r["id"], []),
                "replies": [],
            }
        )
    return out


async def add_comment(
    conn: AsyncConnection,
    actor: Actor,
    activity_id: str,
    text: str,
    parent_comment_id: str | None = None,
) -> dict[str, Any]:
    """Comment on (or, with ``parent_comment_id``, reply in) an activity's thread.

    All the rules: the caller may write (403), the activity is a live one of the caller's team
    (404), the parent is a comment of the same activity (422), the text is sanitised and not
    empty (422), every ``@[Name](member_id)`` names a member of the team (422). Writes the
    comment, its ``activity_comment``/``created`` event and one ``mention``/``created`` event per
    mentioned member, in the caller's transaction. Returns the comment as the API shows it."""
    check_write(actor)
    clean = _clean_comment(text)
    activity = await _live_activity(conn, actor, activity_id)
    if parent_comment_id is not None:
        parent = None
        if plausible_id(parent_comment_id):
            parent = (
                await conn.execute(
                    select(comments.c.id).where(
                        comments.c.team_id == actor.team_id,
                        comments.c.id == parent_comment_id,
                        comments.c.activity_id == activity_id,
                    )
                )
            ).first()
        if parent is None:
            raise validation(
                [
                    {
                        "field": "parent_comment_id",
                        "message": "No comment with this id on this activity.",
                    }
                ]
            )
    mentioned = mentioned_ids(clean)
    await check_members(conn, actor, mentioned, "text", "text")
    if actor.actor_type == "system":
        raise Problem(403, "Comments are written by members.", title="Forbidden")
    row = {
        "team_id": actor.team_id,
        "id": new_id("cmt"),
        "activity_id": activity_id,
        "parent_comment_id": parent_comment_id,
        "author_id": actor.member_id,
        "text": clean,
    }
    created = dict(
        (await execute(conn, insert(comments).values(row).returning(*COMMENT_COLUMNS)))
        .one()
        ._mapping
    )
    await events.append(
        conn, _comment_event(actor, created["id"], "created", diff(None, created), activity)
    )
    await record_mentions(conn, actor, activity, mentioned, comment_id=created["id"], excerpt=clean)
    return (await present_comments(conn, actor, [created]))[0]


async def edit_comment(
    conn: AsyncConnection,
    actor: Actor,
    activity_id: str,
    comment_id: str,
    text: str,
    *,
    if_match: int | None = None,
) -> dict[str, Any]:
    check_write(actor)
    activity = await _live_activity(conn, actor, activity_id)
    current = await _comment(conn, actor, activity_id, comment_id, lock=True)
    if current["deleted_at"] is not None:
        raise not_found("comment", comment_id)
    if current["author_id"] != actor.member_id:
        raise Problem(403, "Only the author can edit a comment.", title="Forbidden")
    check_version(current, if_match)
    clean = _clean_comment(text)
    mentioned = mentioned_ids(clean)
    await check_members(conn, actor, mentioned, "text", "text")
    if clean == current["text"]:
        return (await present_comments(conn, actor, [current]))[0]
    row = dict(
        (
            await execute(
                conn,
                update(comments)
                .where(comments.c.team_id == actor.team_id, comments.c.id == comment_id)
                .values(
                    text=clean,
                    edited_at=func.now(),
                    updated_at=func.now(),
                    version=comments.c.version + 1,
                )
                .returning(*COMMENT_COLUMNS),
            )
        )
        .one()
        ._mapping
    )
    await events.append(
        conn,
        _comment_event(actor, comment_id, "updated", diff(current, row, ignore=()), activity),
    )
    await record_mentions(conn, actor, activity, mentioned, comment_id=comment_id, excerpt=clean)
    return (await present_comments(conn, actor, [row]))[0]


async def delete_comment(
    conn: AsyncConnection,
    actor: Actor,
    activity_id: str,
    comment_id: str,
    *,
    if_match: int | None = None,
) -> None:
    """Author only; leaves a tombstone (text emptied, ``deleted_at`` set) in the thread."""
    check_write(actor)
    activity = await _live_activity(conn, actor, activity_id)
    current = await _comment(conn, actor, activity_id, comment_id, lock=True)
    if current["deleted_at"] is not None:
        raise not_found("comment", comment_id)
    if current["author_id"] != actor.member_id:
        raise Problem(403, "Only the author can delete a comment.", title="Forbidden")
    check_version(current, if_match)
    now = (await conn.execute(select(func.now()))).scalar_one()
    await conn.execute(
        update(comments)
        .where(comments.c.team_id == actor.team_id, comments.c.id == comment_id)
        .values(text="", deleted_at=now, updated_at=now, version=comments.c.version + 1)
    )
    await events.append(
        conn,
        _comment_event(
            actor, comment_id, "deleted", {"deleted_at": [None, now.isoformat()]}, activity
        ),
    )


async def list_comments(
    conn: AsyncConnection, actor: Actor, activity_id: str, *, limit: int, cursor: str | None
) -> dict[str, Any]:
    """The activity's threads, oldest first: a page of top-level comments, each with every
    reply nested under ``replies`` (tombstones included, so a thread keeps its shape)."""
    await _live_activity(conn, actor, activity_id)
    base = select(*COMMENT_COLUMNS).where(
        comments.c.team_id == actor.team_id, comments.c.activity_id == activity_id
    )
    q = base.where(comments.c.parent_comment_id.is_(None))
    if cursor:
        at, cid = _cursor_pair(cursor)
        q = q.where(tuple_(comments.c.created_at, comments.c.id) > tuple_(at, cid))
    q = q.order_by(comments.c.created_at, comments.c.id).limit(limit + 1)
    roots = [dict(r._mapping) for r in await conn.execute(q)]
    has_more = len(roots) > limit
    roots = roots[:limit]
    nxt = _b64([roots[-1]["created_at"].isoformat(), roots[-1]["id"]]) if has_more else None
    replies: list[dict[str, Any]] = []
    if roots:
        replies = [
            dict(r._mapping)
            for r in await conn.execute(
                base.where(comments.c.parent_comment_id.is_not(None)).order_by(
                    comments.c.created_at, comments.c.id
                )
            )
        ]
    shown = await present_comments(conn, actor, roots + replies)
    by_id = {c["id"]: c for c in shown}
    for c in shown[len(roots) :]:
        parent = by_id.get(c["parent_comment_id"])
        if parent is not None:
            parent["replies"].append(c)
    data = shown[: len(roots)]
    return {"data": data, "next_cursor": nxt, "has_more": has_more}


# ----------------------------------------------------------------------------- timeline


def _parse_moment(raw: str, field: str, *, end: bool = False) -> datetime:
    from api.common.listing import _parse_datetime

    value = raw.strip()
    try:
        moment = _parse_datetime(value)
    except (ValueError, OverflowError):
        raise Problem(
            400,
            f"{field} must be an ISO 8601 date or timestamp, not {raw!r}.",
            errors=[{"field": field, "message": "Not an ISO 8601 date or timestamp."}],
        ) from None
    if end and len(value) == 10:  # a date: the whole day is included
        try:
            moment += timedelta(days=1)
        except OverflowError:  # 9999-12-31: its next day is past what a datetime holds
            raise Problem(
                400,
                f"{field} must be a date before 9999-12-31, not {raw!r}.",
                errors=[{"field": field, "message": "Out of range."}],
            ) from None
    return moment


class TimelineQuery(msgspec.Struct, kw_only=True):
    types: list[str] | None = None
    start: datetime | None = None
    end: datetime | None = None
    member_id: str | None = None
    related_to_type: str | None = None
    related_to_id: str | None = None
    group_by: str | None = None
    limit: int = 50
    cursor: str | None = None


ACTIVITY_COLUMNS = [
    c
    for c in activities.c
    if c.name not in ("team_id", "deleted_at", *ActivityService.extra_hidden)
]


def timeline_statement(actor: Actor, targets: Mapping[str, list[str]], q: TimelineQuery) -> Any:
    """The page query of a timeline over ``targets`` (object type → ids), newest first; None
    when no record is left after the filters."""
    t = activities
    if not any(targets.values()):
        return None
    related = [
        and_(
            t.c.related_to_type == k,
            t.c.related_to_id.in_(v) if len(v) > 1 else t.c.related_to_id == v[0],
        )
        for k, v in targets.items()
        if v
    ]
    stmt = select(*ACTIVITY_COLUMNS).where(
        t.c.team_id == actor.team_id, t.c.deleted_at.is_(None), or_(false(), *related)
    )
    if q.types:
        stmt = stmt.where(t.c.type.in_(q.types))
    if q.start is not None:
        stmt = stmt.where(t.c.occurred_at >= q.start)
    if q.end is not None:
        stmt = stmt.where(t.c.occurred_at < q.end)
    if q.member_id is not None:
        stmt = stmt.where(t.c.member_id == q.member_id)
    if q.cursor:
        at, aid = _cursor_pair(q.cursor)
        stmt = stmt.where(tuple_(t.c.occurred_at, t.c.id) < tuple_(at, aid))
    return stmt.order_by(t.c.occurred_at.desc(), t.c.id.desc()).limit(q.limit + 1)


async def timeline(
    conn: AsyncConnection,
    actor: Actor,
    obj: objects.TimelineObject,
    record_id: str,
    q: TimelineQuery,
) -> dict[str, Any]:
    """The record's entries (and its children's: an account's contacts and deals, a record's
    tasks), newest first."""
    targets = await objects.resolve(conn, actor, obj, record_id)
    if targets is None:
        raise not_found(obj.object_type, record_id)
    if q.related_to_type is not None:
        targets = {k: v for k, v in targets.items() if k == q.related_to_type}
    if q.related_to_id is not None:
        targets = {k: [i for i in v if i == q.related_to_id] for k, v in targets.items()}
    stmt = timeline_statement(actor, targets, q)
    rows = [dict(r._mapping) for r in await conn.execute(stmt)] if stmt is not None else []
    has_more = len(rows) > q.limit
    rows = rows[: q.limit]
    nxt = _b64([rows[-1]["occurred_at"].isoformat(), rows[-1]["id"]]) if has_more else None
    page: dict[str, Any] = {"data": rows, "next_cursor": nxt, "has_more": has_more}
    if q.group_by:
        page = {
            "group_by": q.group_by,
            "groups": await _group(conn, actor, rows, q.group_by),
            **page,
        }
    return page


async def _group(
    conn: AsyncConnection, actor: Actor, rows: list[dict[str, Any]], by: str
) -> list[dict[str, Any]]:
    """The page's entries in groups, in page order: by calendar day in the member's time zone,
    or by type. A day may continue on the next page (same key)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    if by == "day":
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        tz_name = (
            await conn.execute(
                select(members.c.time_zone).where(
                    members.c.team_id == actor.team_id, members.c.id == actor.member_id
                )
            )
        ).scalar_one_or_none() or "UTC"
        try:
            tz = ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError):
            tz = ZoneInfo("UTC")
        for r in rows:
            groups.setdefault(r["occurred_at"].astimezone(tz).date().isoformat(), []).append(r)
    else:
        for r in rows:
            groups.setdefault(r["type"], []).append(r)
    return [{"key": k, "count": len(v), "items": v} for k, v in groups.items()]


# ----------------------------------------------------------------------------- search

SEARCH_SQL = text(
    """
    SELECT activity_id, comment_id, rank
    FROM app.activity_search(
        websearch_to_tsquery('english', CAST(:q AS text)), CAST(:limit AS integer),
        CAST(:types AS text[]), CAST(:member_id AS text), CAST(:rtype AS text),
        CAST(:rid AS text), CAST(:start AS timestamptz), CAST(:end AS timestamptz),
        CAST(:after_rank AS real), CAST(:after_id AS text), CAST(:cap AS integer))
    """
)
#: A search ranks its SEARCH_CAP most recent matching activities (every match when there are
#: fewer), and its SEARCH_CAP most recent matching comments: bounded work for any query. The
#: look-up (``app.activity_search``, migration b0c1d2e3f4a5) walks the team's 5 x SEARCH_CAP
#: most recent activities, then reads back in time windows through the GIN index, whose lexemes
#: carry the team's tag and whose second column holds each entry's date (blocks of days);
#: snippets use the untagged query on the raw text.
SEARCH_CAP = 1000
HEADLINE_OPTIONS = (
    "StartSel=<mark>, StopSel=</mark>, MaxWords=30, MinWords=10, MaxFragments=2, "
    'FragmentDelimiter=" … "'
)
ESCAPED_SUBJECT = (
    "replace(replace(replace(coalesce(a.subject, ''), '&', '&amp;'), '<', '&lt;'), '>', '&gt;')"
)
ACTIVITY_HEADLINES = text(
    f"""
    SELECT a.id, ts_headline('english',
        {ESCAPED_SUBJECT} || ' · ' ||
        regexp_replace(coalesce(a.description, ''), '<[^>]*>', ' ', 'g'),
        websearch_to_tsquery('english', CAST(:q AS text)), '{HEADLINE_OPTIONS}') AS snippet
    FROM app.activities a
    WHERE a.team_id = :team AND a.id = ANY (CAST(:ids AS text[]))
    """
)
COMMENT_HEADLINES = text(
    f"""
    SELECT c.id, ts_headline('english', regexp_replace(c.text, '<[^>]*>', ' ', 'g'),
        websearch_to_tsquery('english', CAST(:q AS text)), '{HEADLINE_OPTIONS}') AS snippet
    FROM app.activity_comments c
    WHERE c.team_id = :team AND c.id = ANY (CAST(:ids AS text[]))
    """
)


async def search(
    conn: AsyncConnection,
    actor: Actor,
    query: str,
    q: TimelineQuery,
) -> dict[str, Any]:
    """Activities (and comments) matching ``query`` (web-search syntax: words, "phrases", OR,
    -word), best first, with highlighted snippets; tenant-scoped by the look-up and RLS."""
    after_rank: float | None = None
    after_id: str | None = None
    if q.cursor:
        value = _unb64(q.cursor)
        try:
            rank_raw, after_id = value
            after_rank = float(rank_raw)
            if not isinstance(after_id, str):
                raise TypeError
        except (TypeError, ValueError):
            raise bad_cursor() from None
    hits = (
        await conn.execute(
            SEARCH_SQL,
            {
                "q": query,
                "limit": q.limit + 1,
                "types": q.types,
                "member_id": q.member_id,
                "rtype": q.related_to_type,
                "rid": q.related_to_id,
                "start": q.start,
                "end": q.end,
                "after_rank": after_rank,
                "after_id": after_id,
                "cap": SEARCH_CAP,
            },
        )
    ).all()
    has_more = len(hits) > q.limit
    hits = hits[: q.limit]
    if not hits:
        return {"data": [], "next_cursor": None, "has_more": False}
    ids = [h.activity_id for h in hits]
    rows = {
        r.id: dict(r._mapping)
        for r in await conn.execute(
            select(*ACTIVITY_COLUMNS).where(
                activities.c.team_id == actor.team_id, activities.c.id.in_(ids)
            )
        )
    }
    params = {"q": query, "team": actor.team_id}
    snippets = {
        r.id: r.snippet for r in await conn.execute(ACTIVITY_HEADLINES, {**params, "ids": ids})
    }
    comment_ids = [h.comment_id for h in hits if h.comment_id]
    if comment_ids:
        snippets.update(
            {
                r.id: r.snippet
                for r in await conn.execute(COMMENT_HEADLINES, {**params, "ids": comment_ids})
            }
        )
    data = [
        {
            "activity": rows[h.activity_id],
            "rank": h.rank,
            "snippet": (snippets.get(h.comment_id or h.activity_id) or "").strip(" ·"),
            "comment_id": h.comment_id,
        }
        for h in hits
        if h.activity_id in rows
    ]
    nxt = _b64([hits[-1].rank, hits[-1].activity_id]) if has_more else None
    return {"data": data, "next_cursor": nxt, "has_more": has_more}
