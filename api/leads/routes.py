"""Lead routes: the uniform CRUD surface plus merge and conversion."""

from litestar import Controller, Request, Response, post
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.body import strict_body
from api.common.crud import check_writable, crud_controller
from api.common.http import current_actor, json_response, record_response, write
from api.leads.schemas import ConvertIn, ConvertOut, Lead, LeadCreate, LeadUpdate, MergeIn
from api.leads.service import lead_service

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
        actor = current_actor(request)
        check_writable(actor, "leads")

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
        actor = current_actor(request)
        check_writable(actor, "leads")
        check_writable(actor, "contacts")
        opts = data or ConvertIn()

        async def run(conn: AsyncConnection) -> Response:
            out = await lead_service.convert(
                conn,
                actor,
                lead_id,
                account_id=opts.account_id,
                create_account=opts.create_account,
                owner_id=opts.owner_id,
            )
            return json_response(out, 201)

        return await write(request, actor, run)


routers = [LeadsController, LeadActionsController]
