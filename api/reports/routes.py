"""Reports: the semantic catalogue, saved reports (CRUD), running, drill-down, refresh, export."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.guards import require_role, require_scope, values_of
from api.common.scope import REQUEST_CONN, tenant_scope
from api.reports import dashboards, service, sharing, templates
from api.reports.compiler import compile_query
from api.reports.schemas import (
    CatalogueItem,
    Dashboard,
    DashboardCreate,
    DashboardUpdate,
    DrillIn,
    FromTemplateIn,
    Report,
    ReportCreate,
    ReportUpdate,
    RunIn,
    RunOut,
    ShareLink,
    ShareLinkIn,
)
from api.reports.semantic import catalogue_dimensions, catalogue_metrics
from api.reports.service import definition_of, report_service
from api.web.body import strict_body
from api.web.crud import crud_controller
from api.web.handlers import caller, read_json, write_json, writer
from api.web.http import current_actor, json_response, write
from leadly.actor import Actor
from leadly.problem import Problem
from warehouse.db import api_engine

ReportsController = crud_controller(report_service, ReportCreate, ReportUpdate, Report)

EXPORT_FORMATS = ("csv", "xlsx", "parquet", "pdf")


class SemanticController(Controller):
    path = "/api/v1/semantic"
    tags = ["reports"]

    @get("/metrics", operation_id="list_semantic_metrics")
    async def metrics(self, request: Request) -> Response[dict[str, list[CatalogueItem]]]:
        """Every metric a report may name: ``{name, label, description, type}`` (type:
        number | money | percent) and the dimensions it can be grouped by."""
        require_scope(current_actor(request), "reports:read")
        return json_response({"data": catalogue_metrics()})

    @get("/dimensions", operation_id="list_semantic_dimensions")
    async def dimensions(self, request: Request) -> Response[dict[str, list[CatalogueItem]]]:
        """Every dimension a report may group or filter by (type: string | time)."""
        require_scope(current_actor(request), "reports:read")
        return json_response({"data": catalogue_dimensions()})


def _page_params(request: Request, extra: tuple[str, ...] = ()) -> tuple[str | None, int | None]:
    query = request.query_params
    unknown = sorted(set(query) - {"cursor", "limit", *extra})
    if unknown:
        raise Problem(
            400,
            f"Unknown query parameter(s): {', '.join(unknown)}.",
            errors=[{"field": k, "message": "Unknown query parameter."} for k in unknown],
        )
    raw = query.get("limit")
    limit = None
    if raw is not None:
        if not raw.isdigit() or not 1 <= int(raw) <= service.MAX_PAGE:
            raise Problem(
                400,
                f"limit must be a whole number from 1 to {service.MAX_PAGE}.",
                errors=[{"field": "limit", "message": "Out of range."}],
            )
        limit = int(raw)
    return query.get("cursor"), limit


async def _saved(actor: Actor, report_id: str) -> dict[str, Any]:
    async with tenant_scope(actor) as conn:
        return await report_service.get(conn, actor, report_id)


async def _release_request_conn() -> None:
    """Runs read the reporting models on their own connection: end the request's transaction
    first so it holds nothing while they run."""
    conn = REQUEST_CONN.get()
    if conn is not None and conn.in_transaction():
        await conn.commit()


class ReportRunController(Controller):
    path = "/api/v1/reports"
    tags = ["reports"]

    @post("/run", status_code=200, before_request=strict_body(RunIn))
    async def run_unsaved(self, request: Request, data: RunIn) -> Response[RunOut]:
        """Run a definition without saving it: ``{columns, data, next_cursor, has_more, totals,
        subtotals, data_as_of}``. The next page is the same call with ``?cursor=``."""
        actor = current_actor(request)
        require_scope(actor, "reports:read")
        cursor, limit = _page_params(request)
        await _release_request_conn()
        return json_response(await service.run(actor, values_of(data), cursor=cursor, limit=limit))

    @post("/{report_id:str}/run", status_code=200)
    async def run_saved(self, request: Request, report_id: str) -> Response[RunOut]:
        """Run a saved report (same answer as ``POST /api/v1/reports/run``)."""
        actor = current_actor(request)
        require_scope(actor, "reports:read")
        cursor, limit = _page_params(request)
        report = await _saved(actor, report_id)
        await _release_request_conn()
        return json_response(await service.run(actor, report, cursor=cursor, limit=limit))

    @post("/{report_id:str}/drill", status_code=200, before_request=strict_body(DrillIn))
    async def drill(self, request: Request, report_id: str, data: DrillIn) -> Response:
        """The records behind one number: ``metric`` and the ``row``'s dimension values as the
        run returned them (a time dimension: its bucket's first day). Paged like a run."""
        actor = current_actor(request)
        require_scope(actor, "reports:read")
        cursor, limit = _page_params(request)
        report = await _saved(actor, report_id)
        await _release_request_conn()
        out = await service.records(
            actor, report, data.metric, data.row, cursor=cursor, limit=limit
        )
        return json_response(out)

    @post("/{report_id:str}/refresh", status_code=202)
    async def refresh(self, request: Request, report_id: str) -> Response:
        """Start an incremental build of the models the report reads (202); its runs say
        ``data_as_of`` the new build once it finishes."""
        actor = current_actor(request)
        require_scope(actor, "reports:write")
        require_role(actor, "user")
        report = await _saved(actor, report_id)
        models = compile_query(definition_of(report)).models
        return json_response(service.refresh(models), 202)

    @get("/{report_id:str}/export", operation_id="export_report")
    async def export(self, request: Request, report_id: str) -> Stream:
        """Every row of the report as ``format`` = csv (default) | xlsx | parquet | pdf,
        streamed: no row cap (XLSX splits across sheets past 1,048,575 rows)."""
        from ingestion import report_export
        from ingestion.export import export_format

        actor = current_actor(request)
        require_scope(actor, "reports:read")
        fmt = export_format(request.query_params, EXPORT_FORMATS)
        report = await _saved(actor, report_id)
        compiled = compile_query(definition_of(report))
        await _release_request_conn()
        media_type, ext = report_export.FORMATS[fmt]
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        body: AsyncIterator[bytes] = report_export.stream(fmt, actor, report, compiled)
        return Stream(
            body,
            media_type=media_type,
            headers={
                "Content-Disposition": f'attachment; filename="report-{report_id}-{stamp}.{ext}"'
            },
        )


class ReportTemplatesController(Controller):
    path = "/api/v1/report-templates"
    tags = ["reports"]

    @get("/", operation_id="list_report_templates")
    async def list_templates(self, request: Request) -> Response:
        """The seed's report types: ``{key, name, description, metrics, dimensions, ...}``."""
        caller(request, "reports:read")
        return json_response({"data": templates.catalogue()})

    @post(
        "/{key:str}/reports",
        status_code=201,
        before_request=strict_body(FromTemplateIn, optional=True, writes=("reports",)),
    )
    async def save(
        self, request: Request, key: str, data: FromTemplateIn | None = None
    ) -> Response[Report]:
        """Save a template as a report of your own (201), to run and change like any other."""
        actor = writer(request, "reports")
        body = data or FromTemplateIn()
        overrides = {"visibility": body.visibility, **({"name": body.name} if body.name else {})}
        return await write_json(request, actor, service.from_template, key, overrides, status=201)


DashboardsController = crud_controller(
    dashboards.dashboard_service, DashboardCreate, DashboardUpdate, Dashboard
)


class DashboardActionsController(Controller):
    path = "/api/v1/dashboards"
    tags = ["reports"]

    @get("/{dashboard_id:str}/export", operation_id="export_dashboard")
    async def export(self, request: Request, dashboard_id: str) -> Stream:
        """The whole dashboard as one PDF (``format=pdf``): each widget's report with its
        chart, totals and rows, the team's name and page numbers on every page."""
        from ingestion.export import export_format
        from ingestion.report_pdf import report_pdf

        actor = caller(request, "reports:read")
        export_format(request.query_params, ("pdf",))
        async with tenant_scope(actor) as conn:
            dash = await dashboards.dashboard_service.get(conn, actor, dashboard_id)
            reports = await dashboards.reports_of(conn, actor, dash)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        return Stream(
            report_pdf(actor, reports, title=dash["name"]),
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'attachment; filename="dashboard-{dashboard_id}-{stamp}.pdf"'
            },
        )


class DashboardTemplatesController(Controller):
    path = "/api/v1/dashboard-templates"
    tags = ["reports"]

    @get("/", operation_id="list_dashboard_templates")
    async def list_templates(self, request: Request) -> Response:
        """Sales leader, rep and revenue ops dashboards: ``{key, name, description, reports}``."""
        caller(request, "reports:read")
        return json_response({"data": dashboards.catalogue()})

    @post(
        "/{key:str}/dashboards",
        status_code=201,
        before_request=strict_body(FromTemplateIn, optional=True, writes=("reports",)),
    )
    async def save(
        self, request: Request, key: str, data: FromTemplateIn | None = None
    ) -> Response[Dashboard]:
        """Save a dashboard template: its reports (as your reports) and the dashboard (201)."""
        actor = writer(request, "reports")
        body = data or FromTemplateIn()
        overrides = {"visibility": body.visibility, **({"name": body.name} if body.name else {})}
        return await write_json(
            request, actor, dashboards.from_dashboard_template, key, overrides, status=201
        )


class ShareLinksController(Controller):
    path = "/api/v1/share-links"
    tags = ["reports"]

    @post("/", status_code=201, before_request=strict_body(ShareLinkIn, writes=("reports",)))
    async def create(self, request: Request, data: ShareLinkIn) -> Response[ShareLink]:
        """A read-only link to a report or dashboard until ``expires_at`` (201 ``{id, url,
        token, expires_at}``): anyone with it sees what you see, without signing in."""
        actor = writer(request, "reports")
        base = str(request.base_url)
        return await write_json(
            request,
            actor,
            sharing.create_link,
            data.report_id,
            data.dashboard_id,
            data.expires_at,
            base,
            status=201,
        )

    @get("/", operation_id="list_share_links")
    async def list_links(self, request: Request) -> Response:
        """Your live links (admins: the team's)."""
        return await read_json(caller(request, "reports:read"), sharing.list_links)

    @delete("/{link_id:str}", status_code=204)
    async def revoke(self, request: Request, link_id: str) -> None:
        """Revoke a link: from then on it answers 404."""
        actor = writer(request, "reports")

        async def run(conn: AsyncConnection) -> Response:
            await sharing.revoke(conn, actor, link_id)
            return Response(content=None, status_code=204)

        await write(request, actor, run)


async def _shared(token: str) -> tuple[sharing.Shared, list[dict[str, Any]], str]:
    """The link's reports (one, or the dashboard's), read as its creator, and a title."""
    async with api_engine().connect() as conn, conn.begin():
        found = await sharing.resolve(conn, token)
        sharer = found.sharer
        if found.report_id is not None:
            report = await report_service.get(conn, sharer, found.report_id)
            return found, [report], report["name"]
        dash = await dashboards.dashboard_service.get(conn, sharer, found.dashboard_id or "")
        return found, await dashboards.reports_of(conn, sharer, dash), dash["name"]


class SharedController(Controller):
    path = "/api/v1/shared"
    tags = ["reports"]

    @get("/{token:str}", opt={"exclude_from_auth": True})
    async def shared(self, request: Request, token: str) -> Response:
        """A shared report's run (as ``POST /api/v1/reports/{id}/run`` answers, ``?cursor=``
        pages), or a shared dashboard's ``{name, widgets: [{report, result}]}``. No sign-in:
        the token is the credential; 404 once revoked or expired."""
        cursor, limit = _page_params(request)
        found, reports, title = await _shared(token)
        if found.report_id is not None:
            return json_response(
                await service.run(found.sharer, reports[0], cursor=cursor, limit=limit)
            )
        widgets = [
            {
                "report": {k: r[k] for k in ("id", "name", "chart")},
                "result": await service.run(found.sharer, r),
            }
            for r in reports
        ]
        return json_response({"name": title, "widgets": widgets})

    @get("/{token:str}/page", opt={"exclude_from_auth": True}, media_type="text/html")
    async def page(self, request: Request, token: str) -> Response:
        """The shared report or dashboard as a read-only web page."""
        from ingestion.report_pdf import shared_page

        found, reports, title = await _shared(token)
        body = await shared_page(found.sharer, reports, title)
        return Response(
            content=body,
            media_type="text/html; charset=utf-8",
            headers={"Cache-Control": "private, no-store", "X-Robots-Tag": "noindex"},
        )


# The action routes first: /api/v1/reports/run is never read as a report id.
routers = [
    SemanticController,
    ReportTemplatesController,
    ReportRunController,
    ReportsController,
    DashboardTemplatesController,
    DashboardActionsController,
    DashboardsController,
    ShareLinksController,
    SharedController,
]
