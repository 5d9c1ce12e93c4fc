"""Accounts: companies the team sells to. Domains are stored normalised (``acme.com``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.records import RecordService
from leadly.actor import Actor
from leadly.problem import validation
from warehouse.models import Account, TeamMember

# Mailbox providers: an address there says nothing about the company (never match an account).
FREE_MAIL = frozenset(
    {
        "aol.com",
        "gmail.com",
        "googlemail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "hotmail.com",
        "icloud.com",
        "live.com",
        "mac.com",
        "mail.com",
        "me.com",
        "msn.com",
        "outlook.com",
        "proton.me",
        "protonmail.com",
        "web.de",
        "yahoo.com",
        "yandex.com",
        "yandex.ru",
        "zoho.com",
    }
)

REFS = {"owner_id": (TeamMember.__table__, "member")}


def normalise_domain(value: str | None) -> str | None:
    if not value:
        return None
    v = value.strip().lower()
    try:
        host = urlsplit(v if "://" in v else f"//{v}").hostname or ""
    except ValueError:  # e.g. "http://[oops": not a URL at all
        return None
    host = host.strip(".").removeprefix("www.")
    return host if host and " " not in host else None


def domain_of_email(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    domain = normalise_domain(email.rsplit("@", 1)[1])
    return None if domain in FREE_MAIL else domain


class AccountService(RecordService):
    table = Account.__table__
    object_type = "account"
    plural = "accounts"
    prefix = "acct"
    refs = REFS

    def rules(
        self, actor: Actor, values: dict[str, Any], current: Mapping[str, Any] | None
    ) -> None:
        if "name" in values and not (values["name"] or "").strip():
            raise validation([{"field": "name", "message": "Name cannot be empty."}])
        if values.get("domain"):
            domain = normalise_domain(values["domain"])
            if domain is None:
                raise validation(
                    [{"field": "domain", "message": "Not a domain name (e.g. acme.com)."}]
                )
            values["domain"] = domain
        elif current is None and values.get("website") and not values.get("domain"):
            values["domain"] = normalise_domain(values["website"])

    async def find_by_domain(
        self, conn: AsyncConnection, actor: Actor, domain: str
    ) -> dict[str, Any] | None:
        t = self.table
        row = (
            await conn.execute(
                self._scoped(actor)
                .where(t.c.domain_normalized == func.lower(domain))
                .order_by(t.c.created_at)
                .limit(1)
            )
        ).first()
        return dict(row._mapping) if row else None

    async def exists(self, conn: AsyncConnection, actor: Actor, id: str) -> bool:
        t = self.table
        return (
            await conn.execute(
                select(t.c.id).where(
                    t.c.team_id == actor.team_id, t.c.id == id, t.c.deleted_at.is_(None)
                )
            )
        ).first() is not None


account_service = AccountService()
