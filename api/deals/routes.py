"""Deal and pipeline routes: each one's uniform CRUD surface; deals' move, stage history,
velocity and weighted value; the pipeline builder and the board."""

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from litestar import Controller, Request, Response, delete, get, patch, post
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.guards import require_role, values_of
from api.common.listing import parse_params
from api.common.records import plausible_id
from api.deals import analytics
from api.deals.board import board
from api.deals.schemas import (
    Deal,
    DealCreate,
    DealUpdate,
    MoveIn,
    StageHistory,
    Velocity,
    WeightedPipeline,
)
from api.deals.service import deal_service, remove_stage
from api.pipelines.schemas import (
    Board,
    Pipeline,
    PipelineCreate,
    PipelineUpdate,
    StageAdd,
    StageOrder,
    StageUpdate,
)
from api.pipelines.service import pipeline_service
from api.web.body import strict_body
from api.web.crud import crud_controller
from api.web.handlers import caller, read_json, writer
from api.web.http import if_match, json_response, read, record_response, write
from leadly.actor import Actor
from leadly.problem import Problem

DealsController = crud_controller(deal_service, DealCreate, DealUpdate, Deal)
PipelinesController = crud_controller(pipeline_service, PipelineCreate, PipelineUpdate, Pipeline)

BOARD_LIMIT = 20
MAX_BOARD_LIMIT = 200


def _is_filter(k: str) -> bool:
    return k.startswith("filter[") and k.endswith("]") and len(k) > 8


def _only(request: Request, allowed: set[str], *, filters: bool = False) -> None:
    """400 naming each query parameter not in ``allowed`` (nor a ``filter[...]``, if taken)."""
    unknown = sorted(
        k for k in request.query_params if k not in allowed and not (filters and _is_filter(k))
    )
    if unknown:
        raise Problem(
            400,
            f"Unknown query parameter(s): {', '.join(unknown)}.",
            errors=[{"field": k, "message": "Unknown query parameter."} for k in unknown],
        )


def _date(request: Request, name: str, default: date) -> date:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise Problem(
            400,
            f"{name} must be a date like 2026-01-31.",
            errors=[{"field": name, "message": "Not an ISO date."}],
        ) from None


def _id_param(request: Request, name: str) -> str | None:
    raw = request.query_params.get(name)
    if raw is not None and not plausible_id(raw):
        raise Problem(400, f"{name} is not an id.", errors=[{"field": name, "message": "Bad id."}])
    return raw


#: ``(conn, actor, If-Match version) -> the pipeline as changed``
BuilderOp = Callable[[AsyncConnection, Actor, int | None], Awaitable[dict[str, Any]]]


async def _build(
    request: Request,
    op: BuilderOp,
    status: int = 200,
    *,
    check: Callable[[], None] | None = None,
) -> Response:
    """Run a pipeline builder operation: admins only, honouring If-Match; ``check``: the
    request's own checks (after those)."""
    actor = writer(request, "pipelines")
    require_role(actor, "admin")
    expected = if_match(request)
    if check is not None:
        check()

    async def run(conn: AsyncConnection) -> Response:
        return record_response(await op(conn, actor, expected), status)

    return await write(request, actor, run)


class DealAnalyticsController(Controller):
    path = "/api/v1/deals"
    tags = ["deals"]

    @get("/velocity", operation_id="deal_velocity")
    async def velocity(self, request: Request) -> Response[Velocity]:
        """Average and median days per stage (by pipeline, and by owner) for the stage changes
        made between ``from`` and ``to`` (dates, inclusive; default: the last 90 days);
        optional ``pipeline_id`` and ``owner_id``."""
        actor = caller(request, "deals:read")
        _only(request, {"from", "to", "pipeline_id", "owner_id"})
        today = datetime.now(UTC).date()
        d1 = _date(request, "to", today)
        # The 90 days before ``to`` (from year 1 on: ``date`` holds nothing earlier).
        d0 = _date(request, "from", max(d1, date.min + timedelta(days=90)) - timedelta(days=90))
        if d0 > d1:
            raise Problem(
                400, "from is after to.", errors=[{"field": "from", "message": "After to."}]
            )
        pid, oid = _id_param(request, "pipeline_id"), _id_param(request, "owner_id")

        return await read_json(actor, analytics.velocity, d0, d1, pid, oid)

    @get("/weighted-value", operation_id="deal_weighted_value")
    async def weighted_value(self, request: Request) -> Response[WeightedPipeline]:
        """Open deals' total and weighted value (value × probability) per pipeline and
        currency; optional ``pipeline_id`` and ``owner_id``."""
        actor = caller(request, "deals:read")
        _only(request, {"pipeline_id", "owner_id"})
        pid, oid = _id_param(request, "pipeline_id"), _id_param(request, "owner_id")

        return await read_json(actor, analytics.weighted_pipeline, pid, oid)


class DealActionsController(Controller):
    path = "/api/v1/deals"
    tags = ["deals"]

    @post(
        "/{deal_id:str}/move",
        status_code=200,
        operation_id="move_deal",
        before_request=strict_body(MoveIn, writes=("deals",)),
    )
    async def move(self, request: Request, deal_id: str, data: MoveIn) -> Response[Deal]:
        """Move a deal to ``stage`` at ``position`` (index in the column; default: its end).
        Honours If-Match (stale: 412). Entering a stage passes the deal gate (422 naming each
        missing field); a won or lost deal needs ``reopen: true``."""
        actor = writer(request, "deals")
        expected = if_match(request)
        values = values_of(data)
        position = values.pop("position", None)
        reopen = values.pop("reopen", False)

        async def run(conn: AsyncConnection) -> Response:
            row = await deal_service.move(
                conn, actor, deal_id, values, position, reopen=reopen, if_match=expected
            )
            return record_response(row)

        return await write(request, actor, run)

    @get("/{deal_id:str}/stage-history", operation_id="deal_stage_history")
    async def stage_history(self, request: Request, deal_id: str) -> Response[StageHistory]:
        """Every stage the deal entered, oldest first; ``duration_in_stage`` is the seconds it
        spent in ``from_stage`` (null for the stage it was created in)."""
        actor = caller(request, "deals:read")
        _only(request, set())

        return await read_json(actor, deal_service.stage_history, deal_id)


class PipelineActionsController(Controller):
    path = "/api/v1/pipelines"
    tags = ["pipelines"]

    @get("/{pipeline_id:str}/board", operation_id="pipeline_board")
    async def board(self, request: Request, pipeline_id: str) -> Response[Board]:
        """The kanban board: one column per stage with its ``count``, ``total_value`` and
        ``weighted_value`` and a page of cards (``limit`` per column, default 20). Fetch more
        of one column with ``cursor`` (its ``next_cursor``); ``stage`` returns one column only.
        Takes the deal list's ``filter[...]`` (e.g. ``filter[owner_id]``)."""
        actor = caller(request, "deals:read")
        query = request.query_params
        _only(request, {"limit", "cursor", "stage"}, filters=True)
        try:
            limit = int(query.get("limit", BOARD_LIMIT))
        except ValueError:
            raise Problem(400, "limit must be an integer.") from None
        if not 1 <= limit <= MAX_BOARD_LIMIT:
            raise Problem(400, f"limit must be between 1 and {MAX_BOARD_LIMIT}.")
        params = parse_params({k: v for k, v in query.items() if _is_filter(k)})
        filters = deal_service.lister.where(params.filters)
        stage, cursor = query.get("stage"), query.get("cursor")

        async def run(conn: AsyncConnection) -> Response:
            pipeline = await pipeline_service.get(conn, actor, pipeline_id)
            return json_response(
                await board(
                    conn, actor, pipeline, stage=stage, cursor=cursor, limit=limit, filters=filters
                )
            )

        return await read(actor, run)

    @post(
        "/{pipeline_id:str}/stages",
        status_code=201,
        operation_id="add_pipeline_stage",
        before_request=strict_body(StageAdd, writes=("pipelines",)),
    )
    async def add_stage(
        self, request: Request, pipeline_id: str, data: StageAdd
    ) -> Response[Pipeline]:
        """Add a stage (at ``position``; default: before the closed stages). Admins; If-Match."""
        return await _build(
            request,
            lambda conn, actor, expected: pipeline_service.add_stage(
                conn, actor, pipeline_id, data, data.position, expected
            ),
            201,
        )

    @post(
        "/{pipeline_id:str}/stages/reorder",
        status_code=200,
        operation_id="reorder_pipeline_stages",
        before_request=strict_body(StageOrder, writes=("pipelines",)),
    )
    async def reorder(
        self, request: Request, pipeline_id: str, data: StageOrder
    ) -> Response[Pipeline]:
        """Put the stages in the order of ``keys`` (every key exactly once). Admins; If-Match."""
        return await _build(
            request,
            lambda conn, actor, expected: pipeline_service.reorder(
                conn, actor, pipeline_id, data.keys, expected
            ),
        )

    @patch(
        "/{pipeline_id:str}/stages/{key:str}",
        operation_id="update_pipeline_stage",
        before_request=strict_body(StageUpdate, writes=("pipelines",)),
    )
    async def update_stage(
        self, request: Request, pipeline_id: str, key: str, data: StageUpdate
    ) -> Response[Pipeline]:
        """Rename a stage or change its probability, category, required fields, rotting
        threshold or progression rule (its key stays). Admins; If-Match."""
        return await _build(
            request,
            lambda conn, actor, expected: pipeline_service.update_stage(
                conn, actor, pipeline_id, key, values_of(data), expected
            ),
        )

    @delete(
        "/{pipeline_id:str}/stages/{key:str}",
        status_code=200,
        operation_id="remove_pipeline_stage",
    )
    async def remove_stage(
        self, request: Request, pipeline_id: str, key: str
    ) -> Response[Pipeline]:
        """Remove a stage. One holding deals needs ``?target_stage=<key>``: its deals move
        there (stage history, events, the deal gate). Admins; If-Match."""
        target = request.query_params.get("target_stage")
        return await _build(
            request,
            lambda conn, actor, expected: remove_stage(
                conn, actor, pipeline_id, key, target, expected
            ),
            check=lambda: _only(request, {"target_stage"}),
        )


# The analytics routes come first: /api/v1/deals/velocity is never read as a deal id.
routers = [
    DealAnalyticsController,
    DealsController,
    DealActionsController,
    PipelinesController,
    PipelineActionsController,
]
