"""Comment threads on activities: the only writer of ``app.activity_comments``.

A comment is edited or deleted only by its author; deleting leaves a tombstone (text emptied,
``deleted_at`` set) so its replies keep their place in the thread. ``add_comment`` is public API
for other domains (e.g. a quick reply to a mention from its notification).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from api.activities import paging
from api.activities.mentions import check_members, mentioned_ids, record_mentions
from api.activities.service import MAX_TEXT, activity_service, check_write, sanitize
from api.common.records import actor_event, check_version, execute, plausible_id
from leadly.actor import Actor
from leadly.ids import new_id
from leadly.problem import Problem, not_found, validation
from warehouse import events
from warehouse.events import EventRecord, diff
from warehouse.models import ActivityComment, Mention

comments = ActivityComment.__table__
mentions = Mention.__table__

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
    data = {
        "activity_id": activity["id"],
        "related_to_type": activity["related_to_type"],
        "related_to_id": activity["related_to_id"],
    }
    return actor_event(actor, "activity_comment", comment_id, action, changes, data)


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


async def _own_comment(
    conn: AsyncConnection,
    actor: Actor,
    activity_id: str,
    comment_id: str,
    if_match: int | None,
    verb: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The activity and the caller's own live comment on it, locked, at version ``if_match``."""
    check_write(actor)
    activity = await _live_activity(conn, actor, activity_id)
    current = await _comment(conn, actor, activity_id, comment_id, lock=True)
    if current["deleted_at"] is not None:
        raise not_found("comment", comment_id)
    if current["author_id"] != actor.member_id:
        raise Problem(403, f"Only the author can {verb} a comment.", title="Forbidden")
    check_version(current, if_match)
    return activity, current


async def edit_comment(
    conn: AsyncConnection,
    actor: Actor,
    activity_id: str,
    comment_id: str,
    text: str,
    *,
    if_match: int | None = None,
) -> dict[str, Any]:
    activity, current = await _own_comment(conn, actor, activity_id, comment_id, if_match, "edit")
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
    activity, _ = await _own_comment(conn, actor, activity_id, comment_id, if_match, "delete")
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
        at, cid = paging.moment_and_id(cursor)
        q = q.where(tuple_(comments.c.created_at, comments.c.id) > tuple_(at, cid))
    q = q.order_by(comments.c.created_at, comments.c.id).limit(limit + 1)
    out = paging.page([dict(r._mapping) for r in await conn.execute(q)], limit, "created_at")
    roots = out["data"]
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
    return {**out, "data": shown[: len(roots)]}
