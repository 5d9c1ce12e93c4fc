"""Pipeline routes: the uniform CRUD surface, the board and the pipeline builder."""

from litestar import Controller, Request, Response, delete, get, patch, post
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.guards import require_role, require_scope, values_of
from api.common.listing import parse_params
from api.deals.service import deal_service
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
from api.web.crud import check_writable, crud_controller
from api.web.http import current_actor, if_match, json_response, read, record_response, write
from leadly.problem import Problem

PipelinesController = crud_controller(pipeline_service, PipelineCreate, PipelineUpdate, Pipeline)

BOARD_LIMIT = 20
MAX_BOARD_LIMIT = 200


def _builder(actor) -> None:
    check_writable(actor, "pipelines")
    require_role(actor, "admin")


class PipelineActionsController(Controller):
    path = "/api/v1/pipelines"
    tags = ["pipelines"]

    @get("/{pipeline_id:str}/board", operation_id="pipeline_board")
    async def board(self, request: Request, pipeline_id: str) -> Response[Board]:
        """The kanban board: one column per stage with its ``count``, ``total_value`` and
        ``weighted_value`` and a page of cards (``limit`` per column, default 20). Fetch more
        of one column with ``cursor`` (its ``next_cursor``); ``stage`` returns one column only.
        Takes the deal list's ``filter[...]`` (e.g. ``filter[owner_id]``)."""
        actor = current_actor(request)
        require_scope(actor, "deals:read")
        query = request.query_params
        unknown = sorted(
            k
            for k in query
            if k not in ("limit", "cursor", "stage")
            and not (k.startswith("filter[") and k.endswith("]") and len(k) > 8)
        )
        if unknown:
            raise Problem(
                400,
                f"Unknown query parameter(s): {', '.join(unknown)}.",
                errors=[{"field": k, "message": "Unknown query parameter."} for k in unknown],
            )
        try:
            limit = int(query.get("limit", BOARD_LIMIT))
        except ValueError:
            raise Problem(400, "limit must be an integer.") from None
        if not 1 <= limit <= MAX_BOARD_LIMIT:
            raise Problem(400, f"limit must be between 1 and {MAX_BOARD_LIMIT}.")
        params = parse_params({k: v for k, v in query.items() if k.startswith("filter[")})
        filters = deal_service.lister.where(params.filters)
        stage, cursor = query.get("stage"), query.get("cursor")

        async def run(conn: AsyncConnection) -> Response:
            pipeline = await pipeline_service.get(conn, actor, pipeline_id)
            return json_response(
                await deal_service.board(
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
        actor = current_actor(request)
        _builder(actor)
        expected = if_match(request)

        async def run(conn: AsyncConnection) -> Response:
            row = await pipeline_service.add_stage(
                conn, actor, pipeline_id, data, data.position, expected
            )
            return record_response(row, 201)

        return await write(request, actor, run)

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
        actor = current_actor(request)
        _builder(actor)
        expected = if_match(request)

        async def run(conn: AsyncConnection) -> Response:
            row = await pipeline_service.reorder(conn, actor, pipeline_id, data.keys, expected)
            return record_response(row)

        return await write(request, actor, run)

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
        actor = current_actor(request)
        _builder(actor)
        expected = if_match(request)

        async def run(conn: AsyncConnection) -> Response:
            row = await pipeline_service.update_stage(
                conn, actor, pipeline_id, key, values_of(data), expected
            )
            return record_response(row)

        return await write(request, actor, run)

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
        actor = current_actor(request)
        _builder(actor)
        expected = if_match(request)
        unknown = sorted(set(request.query_params) - {"target_stage"})
        if unknown:
            raise Problem(
                400,
                f"Unknown query parameter(s): {', '.join(unknown)}.",
                errors=[{"field": k, "message": "Unknown query parameter."} for k in unknown],
            )
        target = request.query_params.get("target_stage")

        async def run(conn: AsyncConnection) -> Response:
            row = await pipeline_service.remove_stage(
                conn, actor, pipeline_id, key, target, expected
            )
            return record_response(row)

        return await write(request, actor, run)


routers = [PipelinesController, PipelineActionsController]
