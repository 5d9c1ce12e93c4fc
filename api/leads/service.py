"""Leads: prospects with Leadly's lead-intelligence attributes; duplicates, merge, conversion."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from api.accounts.service import account_service, domain_of_email, normalise_domain
from api.call_logs.service import call_log_service
from api.common.records import OneOf, RecordService
from api.common.refs import check_refs
from api.contacts.service import contact_service
from leadly.actor import Actor
from leadly.problem import Problem, not_found, validation
from warehouse import events
from warehouse.models import Account, Lead, TeamMember

IDENTITY = ("first_name", "last_name", "email", "company_name", "phone")
# Fields a merge may fill on the surviving lead from the other one.
MERGEABLE = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "title",
    "company_name",
    "source",
    "rating",
    "reviews_count",
    "website",
    "website_score",
    "industry",
    "location",
    "owner_id",
)
REFS = {"owner_id": (TeamMember.__table__, "member")}
CONVERT_REFS = {
    "account_id": (Account.__table__, "account"),
    "owner_id": (TeamMember.__table__, "member"),
}
STATUS_RANK = {"unqualified": 0, "new": 1, "contacted": 2, "qualified": 3, "converted": 4}


class LeadService(RecordService):
    table = Lead.__table__
    object_type = "lead"
    plural = "leads"
    prefix = "lead"
    unique_email = True
    required = OneOf(IDENTITY, "email", "A lead needs a name, an email, a phone or a company.")
    refs = REFS

    def rules(
        self, actor: Actor, values: dict[str, Any], current: Mapping[str, Any] | None
    ) -> None:
        if values.get("status") == "converted" and (current or {}).get("status") != "converted":
            raise validation(
                [
                    {
                        "field": "status",
                        "message": "Convert a lead with POST /api/v1/leads/{id}/convert.",
                    }
                ]
            )
        if (
            current is not None
            and current.get("status") == "converted"
            and values.get("status", "converted") != "converted"
        ):
            raise validation(
                [{"field": "status", "message": "A converted lead cannot change status."}]
            )

    async def missing(self, conn: AsyncConnection, actor: Actor, id: str) -> Problem:
        """404; for a lead retired by a merge, say which lead it lives on in."""
        p = not_found(self.object_type, id)
        t = self.table
        merged_into = (
            await conn.execute(
                select(t.c.merged_into_id).where(
                    t.c.team_id == actor.team_id, t.c.id == id, t.c.merged_into_id.is_not(None)
                )
            )
        ).scalar_one_or_none()
        if merged_into:
            p.detail = f"Lead {id!r} was merged into {merged_into!r} (merged_into_id)."
            p.extra["merged_into_id"] = merged_into
        return p

    async def before_restore(
        self, conn: AsyncConnection, actor: Actor, row: Mapping[str, Any]
    ) -> None:
        if row.get("merged_into_id"):
            raise Problem(
                409,
                f"Lead {row['id']!r} was merged into {row['merged_into_id']!r}; "
                "a merged lead cannot be restored.",
                title="Conflict",
                merged_into_id=row["merged_into_id"],
            )
        await super().before_restore(conn, actor, row)

    # ------------------------------------------------------------------ merge

    async def merge(
        self, conn: AsyncConnection, actor: Actor, id: str, other_id: str
    ) -> dict[str, Any]:
        """Merge ``other_id`` into ``id``: the survivor keeps its values and takes the other's
        where its own are empty; custom fields combine (survivor wins); the more advanced
        status wins; call logs move over; the other lead is retired, its history kept."""
        if id == other_id:
            raise validation([{"field": "other_id", "message": "A lead cannot merge with itself."}])
        # Lock both in id order so two opposite merges cannot deadlock.
        first, second = sorted((id, other_id))
        locked = {
            first: await self.get(conn, actor, first, for_update=True),
            second: await self.get(conn, actor, second, for_update=True),
        }
        survivor, other = locked[id], locked[other_id]
        if other["status"] == "converted" and survivor["status"] != "converted":
            raise Problem(
                409,
                "Merge the converted lead as the survivor (it links to a contact).",
                title="Conflict",
            )
        if survivor["status"] == "converted" and other["status"] == "converted":
            raise Problem(409, "Two converted leads cannot be merged.", title="Conflict")
        fill: dict[str, Any] = {
            f: other[f]
            for f in MERGEABLE
            if survivor.get(f) in (None, "") and other.get(f) not in (None, "")
        }
        if STATUS_RANK[other["status"]] > STATUS_RANK[survivor["status"]]:
            fill["status"] = other["status"]
        custom = {**other["custom"], **survivor["custom"]}
        if custom != survivor["custom"]:
            fill["custom"] = custom
        t = self.table
        # Retire the other first, so the survivor may take its email.
        now = (await conn.execute(select(func.now()))).scalar_one()
        await conn.execute(
            update(t)
            .where(t.c.team_id == actor.team_id, t.c.id == other_id)
            .values(merged_into_id=id, deleted_at=now, version=t.c.version + 1, updated_at=now)
        )
        await events.append(
            conn,
            self._event(
                actor,
                other_id,
                "merged",
                {"merged_into_id": [None, id], "deleted_at": [None, now.isoformat()]},
                {"merged_into_id": id},
            ),
        )
        moved = await call_log_service.ids_for_lead(conn, actor, other_id)
        for call_id in moved:
            await call_log_service.update(conn, actor, call_id, {"lead_id": id})
        if fill:
            row = await self.apply(
                conn,
                actor,
                survivor,
                fill,
                "merged",
                {"merged_lead_id": other_id, "moved_call_logs": moved},
            )
        else:
            row = survivor
            await events.append(
                conn,
                self._event(
                    actor, id, "merged", {}, {"merged_lead_id": other_id, "moved_call_logs": moved}
                ),
            )
        return row

    # ------------------------------------------------------------------ conversion

    async def convert(
        self,
        conn: AsyncConnection,
        actor: Actor,
        id: str,
        *,
        account_id: str | None,
        create_account: bool,
        owner_id: str | None,
        deal: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Turn the lead into a contact (and an account): the account given, else the one whose
        domain matches the lead's website or work email, else a new one from the company name.
        A live contact with the lead's email is linked instead of creating a duplicate."""
        lead = await self.get(conn, actor, id, for_update=True)
        if lead["status"] == "converted":
            raise Problem(
                409,
                f"Lead {id!r} is already converted.",
                title="Conflict",
                contact_id=lead["converted_contact_id"],
                account_id=lead["converted_account_id"],
            )
        await check_refs(
            conn, actor, {"account_id": account_id, "owner_id": owner_id}, None, CONVERT_REFS
        )
        owner = owner_id or lead["owner_id"]
        contact = (
            await contact_service.find_by_email(conn, actor, lead["email"])
            if lead["email"]
            else None
        )
        account: dict[str, Any] | None = None
        if account_id:
            account = await account_service.get(conn, actor, account_id)
        elif contact is not None and contact["account_id"]:
            account = (await account_service.get_many(conn, actor, [contact["account_id"]])).get(
                contact["account_id"]
            )
        if account is None and not account_id:
            domain = normalise_domain(lead["website"]) or domain_of_email(lead["email"])
            if domain:
                account = await account_service.find_by_domain(conn, actor, domain)
            if account is None and create_account and lead["company_name"]:
                account = await account_service.create(
                    conn,
                    actor,
                    {
                        "name": lead["company_name"],
                        "domain": domain,
                        "industry": lead["industry"],
                        "website": lead["website"],
                        "owner_id": owner,
                    },
                )
        if contact is None:
            contact_values = {
                "first_name": lead["first_name"],
                "last_name": lead["last_name"],
                "email": lead["email"],
                "phone": lead["phone"],
                "title": lead["title"],
                "account_id": account["id"] if account else None,
                "owner_id": owner,
                "lead_id": id,
                "custom": lead["custom"],
            }
            if not any(contact_values[f] for f in ("first_name", "last_name", "email")):
                contact_values["last_name"] = lead["company_name"] or lead["phone"]
            contact = await contact_service.create(conn, actor, contact_values)
            linked = False
        else:
            link: dict[str, Any] = {}
            if contact["lead_id"] is None:
                link["lead_id"] = id
            if contact["account_id"] is None and account is not None:
                link["account_id"] = account["id"]
            if link:
                contact = await contact_service.update(conn, actor, contact["id"], link)
            linked = True
        row = await self.apply(
            conn,
            actor,
            lead,
            {
                "status": "converted",
                "converted_at": func.now(),
                "converted_contact_id": contact["id"],
                "converted_account_id": account["id"] if account else None,
            },
            "converted",
            {
                "contact_id": contact["id"],
                "account_id": account["id"] if account else None,
                "linked_contact": linked,
            },
        )
        out = {
            "lead": row,
            "contact": contact,
            "account": account,
            "linked_contact": linked,
            "deal": None,
        }
        if deal is not None:  # the deal goes through the deal service's gate like any other
            from api.deals.service import deal_service

            person = " ".join(filter(None, (lead["first_name"], lead["last_name"])))
            values = {
                "name": deal.get("name") or f"{lead['company_name'] or person or 'New'} deal",
                **{k: v for k, v in deal.items() if k != "name"},
                "lead_id": id,
                "account_id": account["id"] if account else None,
                "owner_id": owner,
                "contacts": [{"contact_id": contact["id"], "role": None}],
                "source": lead["source"],
            }
            out["deal"] = await deal_service.create(conn, actor, values)
        return out


lead_service = LeadService()

__all__ = ["lead_service", "not_found"]
