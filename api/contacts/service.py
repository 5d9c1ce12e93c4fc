"""Contacts: people at accounts. Email is unique among a team's live contacts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.dedupe import check_email_unique, find_by_email
from api.common.records import RecordService, require_any
from api.common.refs import check_refs
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

    async def validate(
        self,
        conn: AsyncConnection,
        actor: Actor,
        values: dict[str, Any],
        current: Mapping[str, Any] | None,
    ) -> None:
        require_any(
            values,
            current,
            ("first_name", "last_name", "email"),
            field="last_name",
            message="A contact needs a name or an email.",
        )
        await check_refs(conn, actor, values, current, REFS)
        if current is not None:  # creates: the unique email index answers (see RecordService)
            await check_email_unique(conn, actor, self.table, "contact", values, current)

    async def before_restore(
        self, conn: AsyncConnection, actor: Actor, row: Mapping[str, Any]
    ) -> None:
        # The email may have been taken by another contact while this one was deleted.
        await check_email_unique(conn, actor, self.table, "contact", {"email": row["email"]}, None)

    async def find_by_email(
        self, conn: AsyncConnection, actor: Actor, email: str
    ) -> dict[str, Any] | None:
        """The live contact with ``email``, locked for the caller's update."""
        found = await find_by_email(conn, actor, self.table, email)
        return await self.get(conn, actor, found, for_update=True) if found else None


contact_service = ContactService()
