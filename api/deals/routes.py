"""Deal routes: the uniform CRUD surface plus move, stage history, velocity, weighted value."""

from datetime import UTC, date, datetime, timedelta

from litestar import Controller, Request, Response, get, post
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.guards import require_scope, values_of
from api.common.records import plausible_id
from api.deals.schemas import (
    Deal,
    DealCreate,
    DealUpdate,
    MoveIn,
    StageHistory,
    Velocity,
    WeightedPipeline,
)
from api.deals.service import deal_service
from api.pipelines.routes import routers as pipeline_routers
from api.web.body import strict_body
from api.web.crud import check_writable, crud_controller
from api.web.http import current_actor, if_match, json_response, read, record_response, write
from leadly.problem import Problem

DealsController = crud_controller(deal_service, DealCreate, DealUpdate, Deal)


def _only(request: Request, allowed: set[str]) -> None:
    unknown = sorted(set(request.query_params) - allowed)
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


class DealAnalyticsController(Controller):
    path = "/api/v1/deals"
    tags = ["deals"]

    @get("/velocity", operation_id="deal_velocity")
    async def velocity(self, request: Request) -> Response[Velocity]:
        """Average and median days per stage (by pipeline, and by owner) for the stage changes
        made between ``from`` and ``to`` (dates, inclusive; default: the last 90 days);
        optional ``pipeline_id`` and ``owner_id``."""
        actor = current_actor(request)
        require_scope(actor, "deals:read")
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

        async def run(conn: AsyncConnection) -> Response:
            return json_response(await deal_service.velocity(conn, actor, d0, d1, pid, oid))

        return await read(actor, run)

    @get("/weighted-value", operation_id="deal_weighted_value")
    async def weighted_value(self, request: Request) -> Response[WeightedPipeline]:
        """Open deals' total and weighted value (value × probability) per pipeline and
        currency; optional ``pipeline_id`` and ``owner_id``."""
        actor = current_actor(request)
        require_scope(actor, "deals:read")
        _only(request, {"pipeline_id", "owner_id"})
        pid, oid = _id_param(request, "pipeline_id"), _id_param(request, "owner_id")

        async def run(conn: AsyncConnection) -> Response:
            return json_response(await deal_service.weighted_pipeline(conn, actor, pid, oid))

        return await read(actor, run)


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
        actor = current_actor(request)
        check_writable(actor, "deals")
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
        actor = current_actor(request)
        require_scope(actor, "deals:read")
        _only(request, set())

        async def run(conn: AsyncConnection) -> Response:
            return json_response(await deal_service.stage_history(conn, actor, deal_id))

        return await read(actor, run)


# The analytics routes come first: /api/v1/deals/velocity is never read as a deal id.
routers = [
    DealAnalyticsController,
    DealsController,
    DealActionsController,
    *pipeline_routers,
]
