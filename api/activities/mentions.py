"""Mentions: ``@[Name](member_id)`` in an activity's description or a comment.

Each new mention is a row of ``app.mentions`` and an event ``mention``/``created`` whose
``changes`` carry ``member_id``, ``activity_id``, ``comment_id``, ``related_to_type`` and
``related_to_id`` (the notifications consumer turns it into a notification); a member reads
their own mentions and marks them read or unread (events ``read``/``unread``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import and_, func, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from api.activities import paging
from api.common.records import actor_event, execute, plausible_id
from leadly.actor import Actor
from leadly.ids import new_id
from leadly.problem import not_found, validation
from warehouse import events
from warehouse.models import Activity, ActivityComment, Mention, TeamMember

activities = Activity.__table__
comments = ActivityComment.__table__
mentions = Mention.__table__
members = TeamMember.__table__

MENTION_RE = re.compile(r"@\[([^\]\r\n]{1,200})\]\(([^)\s]{1,200})\)")


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


def actor_member(actor: Actor) -> str | None:
    """The member a write is attributed to (none for the system)."""
    return None if actor.actor_type == "system" else actor.member_id


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
    by = actor_member(actor)
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
            actor_event(
                actor,
                "mention",
                r["id"],
                "created",
                {
                    "member_id": [None, r["member_id"]],
                    "activity_id": [None, r["activity_id"]],
                    "comment_id": [None, r["comment_id"]],
                    "related_to_type": [None, activity["related_to_type"]],
                    "related_to_id": [None, activity["related_to_id"]],
                    "mentioned_by": [None, by],
                },
                {
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
        at, mid = paging.moment_and_id(cursor)
        q = q.where(tuple_(mentions.c.created_at, mentions.c.id) < tuple_(at, mid))
    q = q.order_by(mentions.c.created_at.desc(), mentions.c.id.desc()).limit(limit + 1)
    return paging.page([_shown(r) for r in await conn.execute(q)], limit, "created_at")


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
        *[actor_event(actor, "mention", i, "read" if read else "unread", {}) for i in changed],
    )
    return changed


async def get_mention(conn: AsyncConnection, actor: Actor, mention_id: str) -> dict[str, Any]:
    if not plausible_id(mention_id):
        raise not_found("mention", mention_id)
    row = (await conn.execute(_mentions_query(actor).where(mentions.c.id == mention_id))).first()
    if row is None:
        raise not_found("mention", mention_id)
    return _shown(row)


def _shown(row: Any) -> dict[str, Any]:
    out = dict(row._mapping)
    out["excerpt"] = (out["excerpt"] or "").strip() or None
    return out
