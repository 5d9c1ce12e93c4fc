"""Activity routes: the uniform CRUD surface of activities, comment threads, mentions, every
record's timeline (``GET /api/v1/{objects}/{id}/timeline``) and full-text search
(``GET /api/v1/search/activities``)."""

from collections.abc import Mapping
from typing import Any, get_args

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.handlers import HTTPRouteHandler
from sqlalchemy.ext.asyncio import AsyncConnection

from api.activities import comments, mentions, objects, search
from api.activities.schemas import (
    Activity,
    ActivityCreate,
    ActivityType,
    ActivityUpdate,
    Comment,
    CommentIn,
    CommentPage,
    CommentUpdate,
    GroupedTimelinePage,
    MarkReadIn,
    MarkReadOut,
    Mention,
    MentionPage,
    SearchPage,
    TimelinePage,
)
from api.activities.service import activity_service, check_write
from api.activities.timeline import TimelineQuery, parse_moment, timeline_page
from api.web.body import strict_body
from api.web.crud import crud_controller
from api.web.handlers import caller, read_json
from api.web.http import current_actor, if_match, json_response, read, write
from leadly.problem import Problem, bad_param

ACTIVITY_TYPES = frozenset(get_args(ActivityType))
TIMELINE_PARAMS = frozenset(
    {
        "type",
        "from",
        "to",
        "member_id",
        "related_to_type",
        "related_to_id",
        "group_by",
        "limit",
        "cursor",
    }
)
MAX_LIMIT = 200


def _bad(detail: str, field: str) -> Problem:
    return Problem(400, detail, errors=[{"field": field, "message": detail}])


def parse_query(
    query: Mapping[str, Any], allowed: frozenset[str], *, default_limit: int = 50
) -> TimelineQuery:
    """The timeline/search filters from the query string (400 on anything unknown or bad)."""
    items = list(query.multi_items() if hasattr(query, "multi_items") else query.items())
    unknown = sorted({k for k, _ in items if k not in allowed})
    if unknown:
        raise Problem(
            400,
            f"Unknown query parameter(s): {', '.join(unknown)}.",
            errors=[{"field": k, "message": "Unknown query parameter."} for k in unknown],
        )
    values: dict[str, str] = {}
    for k, v in items:
        if "\x00" in v:
            raise _bad("Query parameters cannot contain NUL characters.", k)
        if k in values and k != "type":
            raise _bad(f"{k} is given more than once.", k)
        values[k] = f"{values[k]},{v}" if k == "type" and k in values else v
    q = TimelineQuery()
    if "type" in values:
        types = [t.strip() for t in values["type"].split(",") if t.strip()]
        bad = [t for t in types if t not in ACTIVITY_TYPES]
        if bad or not types:
            raise _bad(
                f"type must be among {', '.join(sorted(ACTIVITY_TYPES))}; got {values['type']!r}.",
                "type",
            )
        q.types = sorted(set(types))
    if "from" in values:
        q.start = parse_moment(values["from"], "from")
    if "to" in values:
        q.end = parse_moment(values["to"], "to", end=True)
    for key in ("member_id", "related_to_type", "related_to_id"):
        if key in values:
            v = values[key].strip()
            if not v or len(v) > 200:
                raise _bad(f"{key} must be a non-empty id or name.", key)
            setattr(q, key, v)
    if "group_by" in values:
        if values["group_by"] not in ("day", "type"):
            raise _bad("group_by must be day or type.", "group_by")
        q.group_by = values["group_by"]
    q.limit = default_limit
    if "limit" in values:
        try:
            q.limit = int(values["limit"])
        except ValueError:
            raise _bad("limit must be an integer.", "limit") from None
        if not 1 <= q.limit <= MAX_LIMIT:
            raise _bad(f"limit must be between 1 and {MAX_LIMIT}.", "limit")
    if "cursor" in values:
        q.cursor = values["cursor"]
    return q


ActivitiesController = crud_controller(
    activity_service, ActivityCreate, ActivityUpdate, Activity, tag="activities"
)


class CommentsController(Controller):
    path = "/api/v1/activities"
    tags = ["activities"]

    @get("/{activity_id:str}/comments", operation_id="list_activity_comments")
    async def list_comments(self, request: Request, activity_id: str) -> Response[CommentPage]:
        """The activity's threads, oldest first; replies nested under ``replies``."""
        actor = caller(request, "activities:read")
        q = parse_query(request.query_params, frozenset({"limit", "cursor"}))

        async def run(conn: AsyncConnection) -> Response:
            return json_response(
                await comments.list_comments(
                    conn, actor, activity_id, limit=q.limit, cursor=q.cursor
                )
            )

        return await read(actor, run)

    @post(
        "/{activity_id:str}/comments",
        status_code=201,
        operation_id="create_activity_comment",
        before_request=strict_body(CommentIn, writes=("activities",)),
    )
    async def create_comment(
        self, request: Request, activity_id: str, data: CommentIn
    ) -> Response[Comment]:
        """Comment, or reply with ``parent_comment_id`` (a comment of the same activity)."""
        actor = current_actor(request)
        check_write(actor)

        async def run(conn: AsyncConnection) -> Response:
            row = await comments.add_comment(
                conn, actor, activity_id, data.text, data.parent_comment_id
            )
            resp = json_response(row, 201, {"ETag": f'"{row["version"]}"'})
            resp.headers["Location"] = f"/api/v1/activities/{activity_id}/comments/{row['id']}"
            return resp

        return await write(request, actor, run)

    @patch(
        "/{activity_id:str}/comments/{comment_id:str}",
        operation_id="update_activity_comment",
        before_request=strict_body(CommentUpdate, writes=("activities",)),
    )
    async def update_comment(
        self, request: Request, activity_id: str, comment_id: str, data: CommentUpdate
    ) -> Response[Comment]:
        """Edit your own comment (If-Match supported)."""
        actor = current_actor(request)
        check_write(actor)
        expected = if_match(request)

        async def run(conn: AsyncConnection) -> Response:
            row = await comments.edit_comment(
                conn, actor, activity_id, comment_id, data.text, if_match=expected
            )
            return json_response(row, headers={"ETag": f'"{row["version"]}"'})

        return await write(request, actor, run)

    @delete(
        "/{activity_id:str}/comments/{comment_id:str}",
        status_code=204,
        operation_id="delete_activity_comment",
    )
    async def delete_comment(self, request: Request, activity_id: str, comment_id: str) -> None:
        """Delete your own comment; it stays in the thread as a tombstone."""
        actor = current_actor(request)
        check_write(actor)
        expected = if_match(request)

        async def run(conn: AsyncConnection) -> Response:
            await comments.delete_comment(conn, actor, activity_id, comment_id, if_match=expected)
            return Response(content=b"", status_code=204)

        await write(request, actor, run)


class MentionsController(Controller):
    path = "/api/v1/mentions"
    tags = ["activities"]

    @get("/", operation_id="list_mentions")
    async def list_mentions(self, request: Request) -> Response[MentionPage]:
        """Mentions of the signed-in member, newest first; ``unread=true`` for unread only."""
        actor = caller(request, "activities:read")
        query = request.query_params
        raw_unread = query.get("unread")
        if raw_unread not in (None, "true", "false", "1", "0"):
            raise _bad("unread must be true or false.", "unread")
        rest = {k: v for k, v in query.items() if k != "unread"}
        q = parse_query(rest, frozenset({"limit", "cursor"}))

        async def run(conn: AsyncConnection) -> Response:
            return json_response(
                await mentions.list_mentions(
                    conn, actor, unread=raw_unread in ("true", "1"), limit=q.limit, cursor=q.cursor
                )
            )

        return await read(actor, run)

    @get("/{mention_id:str}", operation_id="get_mention")
    async def get_mention(self, request: Request, mention_id: str) -> Response[Mention]:
        actor = caller(request, "activities:read")
        return await read_json(actor, mentions.get_mention, mention_id)

    async def _mark(self, request: Request, mention_id: str, read_: bool) -> Response:
        actor = caller(request, "activities:read")

        async def run(conn: AsyncConnection) -> Response:
            await mentions.get_mention(conn, actor, mention_id)  # 404 unless it is mine
            await mentions.mark_mentions_read(conn, actor, [mention_id], read=read_)
            return json_response(await mentions.get_mention(conn, actor, mention_id))

        return await write(request, actor, run)

    @post("/{mention_id:str}/read", status_code=200, operation_id="mark_mention_read")
    async def mark_read(self, request: Request, mention_id: str) -> Response[Mention]:
        """Mark one of your mentions read (idempotent)."""
        return await self._mark(request, mention_id, True)

    @post("/{mention_id:str}/unread", status_code=200, operation_id="mark_mention_unread")
    async def mark_unread(self, request: Request, mention_id: str) -> Response[Mention]:
        return await self._mark(request, mention_id, False)

    @post(
        "/read",
        status_code=200,
        operation_id="mark_mentions_read",
        before_request=strict_body(MarkReadIn, optional=True),
    )
    async def mark_many(
        self, request: Request, data: MarkReadIn | None = None
    ) -> Response[MarkReadOut]:
        """Mark the given mentions (``ids``), or all of yours, read."""
        actor = caller(request, "activities:read")
        ids = data.ids if data is not None else None

        async def run(conn: AsyncConnection) -> Response:
            changed = await mentions.mark_mentions_read(conn, actor, ids)
            return json_response({"updated": len(changed)})

        return await write(request, actor, run)


def timeline_handler(obj: objects.TimelineObject) -> HTTPRouteHandler:
    async def timeline(request: Request, record_id: str) -> Any:
        actor = caller(request, "activities:read")
        q = parse_query(request.query_params, TIMELINE_PARAMS)

        return await read_json(actor, timeline_page, obj, record_id, q)

    timeline.__annotations__ = {
        "request": Request,
        "record_id": str,
        "return": Response[TimelinePage | GroupedTimelinePage],
    }
    timeline.__doc__ = (
        f"The {obj.object_type}'s timeline, newest first"
        + (" (with its contacts' and deals' entries)" if obj.plural == "accounts" else "")
        + (" and the entries of its tasks" if obj.children else "")
        + ". Filters: type (comma-separated), from, to (ISO date or timestamp; a date `to` "
        "includes that day), member_id, related_to_type, related_to_id; group_by=day|type; "
        "limit, cursor."
    )
    return get(
        f"/api/v1/{obj.plural}/{{record_id:str}}/timeline",
        operation_id=f"timeline_{obj.object_type}",
        tags=["timeline"],
        name=f"timeline_{obj.plural}",
    )(timeline)


TIMELINE_ROUTES = [timeline_handler(o) for o in objects.TIMELINE_OBJECTS.values()]

MAX_QUERY = 500
SEARCH_PARAMS = (TIMELINE_PARAMS - {"group_by"}) | {"q"}


class SearchController(Controller):
    path = "/api/v1/search"
    tags = ["search"]

    @get("/activities", operation_id="search_activities")
    async def activities(self, request: Request) -> Response[SearchPage]:
        """Activities whose subject, description, outcome or comments match ``q``, best first.

        ``q`` uses web-search syntax: words (all must match, stemmed), ``"a phrase"``,
        ``word OR word``, ``-word``; anything else is read as words, never as an error. Filters as
        on a timeline: type, from, to, member_id, related_to_type, related_to_id; limit, cursor.
        Each hit has the activity, its rank and a snippet (HTML: text escaped, matches in
        ``<mark>``); ``comment_id`` names the comment when the best match was one."""
        actor = caller(request, "activities:read")
        query = request.query_params
        raw = query.get("q")
        if raw is None or not raw.strip():
            raise bad_param("q", "Give the words to search for in q.", "Required.")
        if len(raw) > MAX_QUERY or "\x00" in raw:
            raise bad_param(
                "q", f"q must be at most {MAX_QUERY} characters of text.", "Too long or not text."
            )
        if len(query.getall("q")) > 1:
            raise Problem(
                400, "q is given more than once.", errors=[{"field": "q", "message": "Twice."}]
            )
        q = parse_query(query, SEARCH_PARAMS, default_limit=20)

        return await read_json(actor, search.search, raw, q)


routers = [
    ActivitiesController,
    CommentsController,
    MentionsController,
    *TIMELINE_ROUTES,
    SearchController,
]
