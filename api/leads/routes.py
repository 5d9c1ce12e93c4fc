"""Lead routes: the uniform CRUD surface plus merge, conversion and export."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime

from litestar import Controller, Request, Response, get, post
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.guards import values_of
from api.common.listing import check_known_params, parse_params
from api.common.scope import REQUEST_CONN, tenant_scope
from api.leads.schemas import ConvertIn, ConvertOut, Lead, LeadCreate, LeadUpdate, MergeIn
from api.leads.service import lead_service
from api.web.body import strict_body
from api.web.crud import check_writable, crud_controller
from api.web.handlers import caller, writer
from api.web.http import json_response, record_response, write

LeadsController = crud_controller(lead_service, LeadCreate, LeadUpdate, Lead)


class LeadActionsController(Controller):
    path = "/api/v1/leads"
    tags = ["leads"]

    @post(
        "/{lead_id:str}/merge",
        status_code=200,
        before_request=strict_body(MergeIn, writes=("leads",)),
    )
    async def merge(self, request: Request, lead_id: str, data: MergeIn) -> Response[Lead]:
        actor = writer(request, "leads")

        async def run(conn: AsyncConnection) -> Response:
            return record_response(await lead_service.merge(conn, actor, lead_id, data.other_id))

        return await write(request, actor, run)

    @post(
        "/{lead_id:str}/convert",
        status_code=201,
        before_request=strict_body(ConvertIn, optional=True, writes=("leads", "contacts")),
    )
    async def convert(
        self, request: Request, lead_id: str, data: ConvertIn | None = None
    ) -> Response[ConvertOut]:
        actor = writer(request, "leads")
        check_writable(actor, "contacts")
        opts = data or ConvertIn()
        if opts.deal is not None:
            check_writable(actor, "deals")

        async def run(conn: AsyncConnection) -> Response:
            out = await lead_service.convert(
                conn,
                actor,
                lead_id,
                account_id=opts.account_id,
                create_account=opts.create_account,
                owner_id=opts.owner_id,
                deal=values_of(opts.deal) if opts.deal is not None else None,
            )
            return json_response(out, 201)

        return await write(request, actor, run)


EXPORT_FORMATS = ("csv", "xlsx", "parquet")


class LeadExportController(Controller):
    path = "/api/v1/leads"
    tags = ["leads"]

    @get("/export", operation_id="export_leads")
    async def export(self, request: Request) -> Stream:
        """Every lead matching the list filters, as ``format`` = csv (default) | xlsx |
        parquet, streamed (no row cap). Takes the list endpoint's ``filter[...]``, ``sort`` and
        ``fields``; not ``limit`` or ``cursor``."""
        from ingestion import export

        actor = caller(request, "leads:read")
        query = request.query_params
        check_known_params(query, extra=("format",))
        fmt = export.export_format(query, EXPORT_FORMATS, only_format=False)
        stmt, fields, columns = export.query(lead_service, actor, parse_params(query))
        conn = REQUEST_CONN.get()
        if conn is not None and conn.in_transaction():
            await conn.commit()  # the export reads in its own (read-only) transaction

        async def rows() -> AsyncIterator[list[tuple]]:
            async with tenant_scope(actor) as tx:
                async for chunk in export.rows_of(tx, stmt):
                    yield chunk

        media_type, ext = export.FORMATS[fmt]
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        return Stream(
            export.stream(fmt, fields, columns, rows(), "leads"),
            media_type=media_type,
            headers={"Content-Disposition": f'attachment; filename="leads-{stamp}.{ext}"'},
        )


# The export route comes first: /api/v1/leads/export is never read as a lead id.
routers = [LeadExportController, LeadsController, LeadActionsController]
