"""Full-text search over activities and their comments, best first, with snippets."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from api.activities import paging
from api.activities.service import ACTIVITY_COLUMNS, about_visible, activities
from api.activities.timeline import TimelineQuery
from leadly.actor import Actor

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
        value = paging.decode(q.cursor)
        try:
            rank_raw, after_id = value
            after_rank = float(rank_raw)
            if not isinstance(after_id, str):
                raise TypeError
        except (TypeError, ValueError):
            raise paging.bad_cursor() from None
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
                activities.c.team_id == actor.team_id,
                activities.c.id.in_(ids),
                *about_visible(actor),
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
    nxt = paging.encode([hits[-1].rank, hits[-1].activity_id]) if has_more else None
    return {"data": data, "next_cursor": nxt, "has_more": has_more}
