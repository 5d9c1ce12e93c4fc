"""``GET /api/v1/search/activities?q=``: full-text search over activities and their comments."""

from litestar import Controller, Request, Response, get
from sqlalchemy.ext.asyncio import AsyncConnection

from api.activities import service
from api.activities.routes import TIMELINE_PARAMS, parse_query
from api.activities.schemas import SearchPage
from api.common.guards import require_scope
from api.web.http import current_actor, json_response, read
from leadly.problem import Problem

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
        actor = current_actor(request)
        require_scope(actor, "activities:read")
        query = request.query_params
        raw = query.get("q")
        if raw is None or not raw.strip():
            raise Problem(
                400,
                "Give the words to search for in q.",
                errors=[{"field": "q", "message": "Required."}],
            )
        if len(raw) > MAX_QUERY or "\x00" in raw:
            raise Problem(
                400,
                f"q must be at most {MAX_QUERY} characters of text.",
                errors=[{"field": "q", "message": "Too long or not text."}],
            )
        if len(query.getall("q")) > 1:
            raise Problem(
                400, "q is given more than once.", errors=[{"field": "q", "message": "Twice."}]
            )
        q = parse_query(query, SEARCH_PARAMS, default_limit=20)

        async def run(conn: AsyncConnection) -> Response:
            return json_response(await service.search(conn, actor, raw, q))

        return await read(actor, run)


routers = [SearchController]
