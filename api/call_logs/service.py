"""Call logs: a rep's calls with leads or contacts (duration, outcome, transcript, AI tips)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.records import OneOf, RecordService
from leadly.actor import Actor
from warehouse.models import CallLog, Contact, Lead, TeamMember

REFS = {
    "lead_id": (Lead.__table__, "lead"),
    "contact_id": (Contact.__table__, "contact"),
    "member_id": (TeamMember.__table__, "member"),
}


class CallLogService(RecordService):
    table = CallLog.__table__
    object_type = "call_log"
    plural = "call_logs"
    prefix = "call"
    required = OneOf(
        ("lead_id", "contact_id"), "lead_id", "A call log belongs to a lead or a contact."
    )
    refs = REFS

    def rules(
        self, actor: Actor, values: dict[str, Any], current: Mapping[str, Any] | None
    ) -> None:
        if current is None:
            if values.get("member_id") is None and actor.actor_type != "system":
                values["member_id"] = actor.member_id
            if values.get("started_at") is None:
                values.pop("started_at", None)
        if values.get("started_at") is not None and values["started_at"].tzinfo is None:
            values["started_at"] = values["started_at"].replace(tzinfo=UTC)

    async def ids_for_lead(self, conn: AsyncConnection, actor: Actor, lead_id: str) -> list[str]:
        t = self.table
        rows = await conn.execute(
            select(t.c.id)
            .where(t.c.team_id == actor.team_id, t.c.lead_id == lead_id, t.c.deleted_at.is_(None))
            .order_by(t.c.id)
        )
        return list(rows.scalars())


call_log_service = CallLogService()
