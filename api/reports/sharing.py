"""Share links: a signed, expiring, read-only, revocable link to a report or a dashboard.

The token (``lsh_…``, 256 random bits) is the credential; only its keyed hash is stored
(``app.share_links.token_hash``), resolved before any team is known by
``app.share_link_lookup``. The link shows what its creator may see, read as its creator:
a report made personal by someone else, deleted, or a creator who left, ends the link (404),
as do revocation and expiry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from api.auth.crypto import new_token, token_hash
from api.common.records import actor_event
from api.common.refs import plausible_id
from api.reports.dashboards import dashboard_service
from api.reports.service import report_service
from leadly import clock
from leadly.actor import Actor
from leadly.ids import new_id
from leadly.problem import Problem, not_found, validation
from warehouse import events
from warehouse.db import set_tenant
from warehouse.models import ShareLink

LINKS = ShareLink.__table__
PREFIX = "lsh_"
SHARED_PATH = "/api/v1/shared/"
_OUT = (
    LINKS.c.id,
    LINKS.c.report_id,
    LINKS.c.dashboard_id,
    LINKS.c.expires_at,
    LINKS.c.created_by,
    LINKS.c.created_at,
    LINKS.c.revoked_at,
)


@dataclass(frozen=True)
class Shared:
    """What a live token opens, and as whom it is read."""

    sharer: Actor
    report_id: str | None
    dashboard_id: str | None


async def create_link(
    conn: AsyncConnection,
    actor: Actor,
    report_id: str | None,
    dashboard_id: str | None,
    expires_at: datetime,
    base_url: str,
) -> dict[str, Any]:
    if (report_id is None) == (dashboard_id is None):
        raise validation(
            [{"field": "report_id", "message": "Name a report_id or a dashboard_id (one)."}]
        )
    if expires_at.tzinfo is None:
        raise validation([{"field": "expires_at", "message": "Give a time zone (e.g. Z)."}])
    if expires_at <= clock.now():
        raise validation([{"field": "expires_at", "message": "Already past."}])
    if report_id is not None:
        await report_service.get(conn, actor, report_id)  # 404 unless the actor sees it
    else:
        await dashboard_service.get(conn, actor, dashboard_id or "")
    token = new_token(PREFIX)
    row = dict(
        (
            await conn.execute(
                insert(LINKS)
                .values(
                    team_id=actor.team_id,
                    id=new_id("shl"),
                    token_hash=token_hash(token),
                    report_id=report_id,
                    dashboard_id=dashboard_id,
                    expires_at=expires_at,
                    created_by=actor.member_id,
                )
                .returning(*_OUT)
            )
        )
        .one()
        ._mapping
    )
    changes = {k: [None, v.isoformat() if isinstance(v, datetime) else v] for k, v in row.items()}
    await events.append(conn, actor_event(actor, "share_link", row["id"], "created", changes))
    url = f"{base_url.rstrip('/')}{SHARED_PATH}{token}/page"
    return {
        **{k: row[k] for k in ("id", "report_id", "dashboard_id", "expires_at")},
        "url": url,
        "token": token,
    }


async def list_links(conn: AsyncConnection, actor: Actor) -> dict[str, Any]:
    """The live links the actor made (admins: the team's)."""
    q = select(*_OUT).where(LINKS.c.team_id == actor.team_id, LINKS.c.revoked_at.is_(None))
    if not actor.at_least("admin"):
        q = q.where(LINKS.c.created_by == actor.member_id)
    rows = await conn.execute(q.order_by(LINKS.c.created_at, LINKS.c.id))
    return {"data": [dict(r._mapping) for r in rows]}


async def revoke(conn: AsyncConnection, actor: Actor, link_id: str) -> None:
    """Revoke a link the actor made (admins: any of the team's); 404 when there is none."""
    if not plausible_id(link_id):
        raise not_found("share link", link_id)
    q = select(*_OUT).where(
        LINKS.c.team_id == actor.team_id, LINKS.c.id == link_id, LINKS.c.revoked_at.is_(None)
    )
    if not actor.at_least("admin"):
        q = q.where(LINKS.c.created_by == actor.member_id)
    if (await conn.execute(q.with_for_update())).first() is None:
        raise not_found("share link", link_id)
    now = clock.now()
    await conn.execute(
        update(LINKS)
        .where(LINKS.c.team_id == actor.team_id, LINKS.c.id == link_id)
        .values(revoked_at=now)
    )
    await events.append(
        conn,
        actor_event(
            actor, "share_link", link_id, "deleted", {"revoked_at": [None, now.isoformat()]}
        ),
    )


async def resolve(conn: AsyncConnection, token: str) -> Shared:
    """The live link of ``token`` (404 for unknown, revoked or expired ones, all alike)."""
    gone = Problem(404, "No such shared report (the link may have expired or been revoked).")
    if not token.startswith(PREFIX) or len(token) > 200:
        raise gone
    row = (
        await conn.execute(
            text(
                "SELECT team_id, created_by, report_id, dashboard_id, expires_at, revoked_at "
                "FROM app.share_link_lookup(:h)"
            ),
            {"h": token_hash(token)},
        )
    ).first()
    if row is None or row.revoked_at is not None or row.expires_at <= clock.now():
        raise gone
    await set_tenant(conn, row.team_id, row.created_by)
    active = await conn.scalar(
        text("SELECT is_active FROM app.team_members WHERE team_id = :t AND id = :m"),
        {"t": row.team_id, "m": row.created_by},
    )
    if not active:
        raise gone
    return Shared(Actor(row.team_id, row.created_by, "guest"), row.report_id, row.dashboard_id)
