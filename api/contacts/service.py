"""Contacts: people at accounts. Email is unique among a team's live contacts."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.dedupe import find_by_email
from api.common.records import OneOf, RecordService
from leadly.actor import Actor
from warehouse.models import Account, Contact, TeamMember

REFS = {
    "account_id": (Account.__table__, "account"),
    "owner_id": (TeamMember.__table__, "member"),
}


class ContactService(RecordService):
    table = Contact.__table__
    object_type = "contact"
    plural = "contacts"
    prefix = "cont"
    unique_email = True
    required = OneOf(
        ("first_name", "last_name", "email"), "last_name", "A contact needs a name or an email."
    )
    refs = REFS

    async def find_by_email(
        self, conn: AsyncConnection, actor: Actor, email: str
    ) -> dict[str, Any] | None:
        """The live contact with ``email``, locked for the caller's update."""
        found = await find_by_email(conn, actor, self.table, email)
        return await self.get(conn, actor, found, for_update=True) if found else None


contact_service = ContactService()
