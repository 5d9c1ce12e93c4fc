"""Contacts: people at accounts. Email is unique among a team's live contacts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.context import Actor
from api.common.dedupe import check_email_unique
from api.common.errors import validation
from api.common.records import RecordService
from warehouse.models import Contact


class ContactService(RecordService):
    table = Contact.__table__
    object_type = "contact"
    plural = "contacts"
    prefix = "cont"

    async def validate(
        self,
        conn: AsyncConnection,
        actor: Actor,
        values: dict[str, Any],
        current: Mapping[str, Any] | None,
    ) -> None:
        merged = {**(current or {}), **values}
        if not any(merged.get(f) for f in ("first_name", "last_name", "email")):
            raise validation(
                [{"field": "last_name", "message": "A contact needs a name or an email."}]
            )
        await check_email_unique(conn, actor, self.table, "contact", values, current)


contact_service = ContactService()
