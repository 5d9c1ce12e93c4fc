"""Making notifications, the only way they are created: :func:`create` / :func:`create_in` turn
:class:`Draft` s (made by the dispatcher consumers in :mod:`api.notifications.producers`, never
by a route) into one row per member (a redelivered source never notifies twice), the outbox
rows of every external channel the member turned on (due now, after do-not-disturb, or at the
next digest, as of :func:`leadly.clock.now`), a ``notification created`` event in the same
transaction, and, after the commit (:func:`publish`), ``notification.created`` +
``unread_count`` on the member's real-time channel."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from api.notifications.center import (
    by_member,
    clip,
    notifications,
    present,
    publish_created,
    status_filter,
    system_event,
)
from api.notifications.preferences import MemberPrefs, deferral, load_prefs, next_digest_at
from leadly import clock
from leadly.ids import new_id
from warehouse import events
from warehouse.db import api_engine, tenant_tx
from warehouse.models import NotificationDelivery, PushSubscription
from warehouse.models.notifications import NOTIFICATION_TYPES, PRIORITIES

deliveries = NotificationDelivery.__table__
push_subs = PushSubscription.__table__

TITLE_MAX = 300
MESSAGE_MAX = 4000


@dataclass
class Draft:
    """A notification to create for one member."""

    member_id: str
    type: str
    title: str
    source_key: str
    message: str = ""
    action_url: str | None = None
    priority: str = "normal"
    related_to_type: str | None = None
    related_to_id: str | None = None
    actor_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    source_event_id: int | None = None
    source_type: str = "event"

    def __post_init__(self) -> None:
        if self.type not in NOTIFICATION_TYPES:
            raise ValueError(f"unknown notification type {self.type!r}")
        if self.priority not in PRIORITIES:
            raise ValueError(f"unknown priority {self.priority!r}")
        self.title = clip(self.title, TITLE_MAX)
        self.message = clip(self.message or "", MESSAGE_MAX)


async def _targets(
    conn: AsyncConnection, team_id: str, p: MemberPrefs, type_: str
) -> list[tuple[str, str]]:
    """(channel, target) pairs of the external deliveries ``type_`` gets for member ``p``."""
    out: list[tuple[str, str]] = []
    if p.enabled(type_, "email") and p.email_address:
        out.append(("email", ""))
    if p.enabled(type_, "sms") and p.phone:
        out.append(("sms", ""))
    if p.enabled(type_, "push"):
        ps = push_subs.c
        for r in await conn.execute(
            select(ps.id).where(ps.team_id == team_id, ps.member_id == p.member_id)
        ):
            out.append(("push", r.id))
    if p.enabled(type_, "webhook"):
        if p.slack_webhook_url:
            out.append(("slack", ""))
        if p.teams_webhook_url:
            out.append(("teams", ""))
    return out


@dataclass
class Created:
    """Notifications made in a transaction, and what to push once it commits."""

    team_id: str
    items: list[tuple[dict[str, Any], bool]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def notifications(self) -> list[dict[str, Any]]:
        return [n for n, _ in self.items]


async def create(team_id: str, drafts: Sequence[Draft]) -> list[dict[str, Any]]:
    """Create ``drafts`` in a transaction of their own, then push them (see the module
    docstring); the notifications actually created."""
    if not drafts:
        return []
    async with tenant_tx(api_engine(), team_id) as conn:
        made = await create_in(conn, team_id, drafts)
    await publish(made)
    return made.notifications


async def create_in(conn: AsyncConnection, team_id: str, drafts: Sequence[Draft]) -> Created:
    """Create ``drafts`` in the caller's tenant transaction; call :func:`publish` with the
    result after it commits."""
    made = Created(team_id)
    if not drafts:
        return made
    created = made.items
    prefs = await load_prefs(conn, team_id, [d.member_id for d in drafts])
    now = clock.now()
    for d in drafts:
        p = prefs.get(d.member_id)
        if p is None:
            continue  # not a member of this team, or deactivated
        in_app = p.enabled(d.type, "in_app")
        targets = await _targets(conn, team_id, p, d.type)
        if not in_app and not targets:
            continue
        values = {
            "team_id": team_id,
            "id": new_id("ntf"),
            "member_id": d.member_id,
            "type": d.type,
            "title": d.title,
            "message": d.message,
            "action_url": d.action_url,
            "priority": d.priority,
            "related_to_type": d.related_to_type,
            "related_to_id": d.related_to_id,
            "actor_id": d.actor_id,
            "metadata": {**d.metadata, **({} if in_app else {"in_app": False})},
            "source_event_id": d.source_event_id,
            "source_type": d.source_type,
            "source_key": d.source_key,
            # Not wanted in the center: kept (external channels refer to it) but archived.
            "archived_at": None if in_app else now,
        }
        row = (
            await conn.execute(
                pg_insert(notifications)
                .values(**values)
                .on_conflict_do_nothing(
                    index_elements=["team_id", "member_id", "type", "source_key"]
                )
                .returning(*notifications.c)
            )
        ).first()
        if row is None:
            continue  # already created from this source
        n = present(row)
        outbox = []
        for channel, target in targets:
            digest = p.digest if channel == "email" and d.priority != "urgent" else None
            if digest == "immediate":
                digest = None
            due = next_digest_at(p, now) if digest else deferral(p, d.priority, now)
            outbox.append(
                {
                    "team_id": team_id,
                    "id": new_id("ndl"),
                    "notification_id": n["id"],
                    "member_id": d.member_id,
                    "channel": channel,
                    "target": target,
                    "digest": digest,
                    "next_attempt_at": due,
                }
            )
        if outbox:
            await conn.execute(
                pg_insert(deliveries)
                .values(outbox)
                .on_conflict_do_nothing(
                    index_elements=["team_id", "notification_id", "channel", "target"]
                )
            )
        fields = ("type", "title", "priority", "related_to_type", "related_to_id")
        await events.append(
            conn,
            system_event(
                team_id,
                n["id"],
                "created",
                events.diff(None, {k: n[k] for k in fields} | {"member_id": d.member_id}),
                {
                    "deliveries": [o["channel"] for o in outbox],
                    "source_event_id": d.source_event_id,
                },
            ),
        )
        created.append((n | {"member_id": d.member_id}, in_app))
    members_in_app = sorted({n["member_id"] for n, in_app in created if in_app})
    if members_in_app:
        c = notifications.c
        rows = await conn.execute(
            select(c.member_id, func.count())
            .where(
                c.team_id == team_id,
                c.member_id.in_(members_in_app),
                *status_filter("unread"),
            )
            .group_by(c.member_id)
        )
        made.counts = {m: 0 for m in members_in_app} | {r[0]: int(r[1]) for r in rows}
    return made


async def publish(made: Created) -> None:
    """After the commit: ``notification.created`` and the new ``unread_count`` on each
    member's channel (best effort)."""
    shown = [n for n, in_app in made.items if in_app]
    for member_id, items in by_member(shown).items():
        await publish_created(made.team_id, member_id, items, made.counts.get(member_id))
