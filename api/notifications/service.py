"""Notifications: the only code that writes the notification tables.

- :func:`create` makes notifications from :class:`Draft` s (called by the dispatcher consumers
  in :mod:`api.notifications.producers`, never by a route): one row per member (a redelivered
  source never notifies twice), the outbox rows of every external channel the member turned on
  (scheduled after do-not-disturb or at the next digest), a ``notification created`` event in
  the same transaction, and, after the commit, ``notification.created`` + ``unread_count`` on
  the member's real-time channel.
- The notification center (list, unread count, read/unread, archive, snooze, reply).
- Preferences, watches and push subscriptions.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, func, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.listing import Lister, ListParams
from api.common.records import actor_event
from api.realtime import broker
from leadly.actor import Actor
from leadly.ids import new_id
from leadly.problem import Problem, not_found, validation
from leadly.zones import check_time_zone
from warehouse import events
from warehouse.db import api_engine, tenant_tx
from warehouse.events import EventRecord
from warehouse.models import (
    Notification,
    NotificationDelivery,
    NotificationPreference,
    NotificationSettings,
    PushSubscription,
    TeamMember,
    Watch,
)
from warehouse.models.notifications import (
    DIGEST_MODES,
    NOTIFICATION_TYPES,
    PREFERENCE_CHANNELS,
    PRIORITIES,
    WATCH_TARGETS,
)

log = logging.getLogger("leadly.notifications")

notifications = Notification.__table__
preferences = NotificationPreference.__table__
settings_t = NotificationSettings.__table__
deliveries = NotificationDelivery.__table__
watches = Watch.__table__
push_subs = PushSubscription.__table__
members = TeamMember.__table__

#: Channels on by default (a missing preference row): in-app only.
DEFAULT_CHANNELS = {"in_app": True, "email": False, "sms": False, "push": False, "webhook": False}
STATUSES = ("unread", "read", "archived")
TITLE_MAX = 300
MESSAGE_MAX = 4000

# =========================================================================== drafts → rows


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
        self.title = _clip(self.title, TITLE_MAX)
        self.message = _clip(self.message or "", MESSAGE_MAX)


def _clip(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


@dataclass
class MemberPrefs:
    """What delivery needs to know about one member."""

    member_id: str
    name: str
    login_email: str
    time_zone: str
    time_zone_source: str
    dnd_start: time | None = None
    dnd_end: time | None = None
    dnd_allow_urgent: bool = True
    digest: str = "immediate"
    digest_hour: int = 8
    email: str | None = None
    phone: str | None = None
    slack_webhook_url: str | None = None
    teams_webhook_url: str | None = None
    switches: dict[tuple[str, str], bool] = field(default_factory=dict)
    has_settings: bool = False

    def enabled(self, type_: str, channel: str) -> bool:
        return self.switches.get((type_, channel), DEFAULT_CHANNELS[channel])

    @property
    def zone(self) -> ZoneInfo:
        return safe_zone(self.time_zone)

    @property
    def email_address(self) -> str:
        return self.email or self.login_email


def safe_zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return ZoneInfo("UTC")


def in_dnd(p: MemberPrefs, now: datetime) -> bool:
    if p.dnd_start is None or p.dnd_end is None or p.dnd_start == p.dnd_end:
        return False
    t = now.astimezone(p.zone).time().replace(tzinfo=None)
    if p.dnd_start < p.dnd_end:
        return p.dnd_start <= t < p.dnd_end
    return t >= p.dnd_start or t < p.dnd_end


def dnd_ends_at(p: MemberPrefs, now: datetime) -> datetime:
    """The next local ``dnd_end`` after ``now`` (UTC)."""
    assert p.dnd_end is not None
    local = now.astimezone(p.zone)
    for days in (0, 1, 2):
        d = local.date() + timedelta(days=days)
        candidate = datetime.combine(d, p.dnd_end, tzinfo=p.zone)
        if candidate > local:
            return candidate.astimezone(UTC)
    return now + timedelta(days=1)  # pragma: no cover


def next_digest_at(p: MemberPrefs, now: datetime) -> datetime:
    local = now.astimezone(p.zone)
    if p.digest == "hourly":
        top = local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        return top.astimezone(UTC)
    for days in (0, 1, 2):
        d = local.date() + timedelta(days=days)
        candidate = datetime.combine(d, time(p.digest_hour), tzinfo=p.zone)
        if candidate > local:
            return candidate.astimezone(UTC)
    return now + timedelta(days=1)  # pragma: no cover


def deferral(p: MemberPrefs, priority: str, now: datetime) -> datetime:
    """When an external delivery may go out: now, or the end of do-not-disturb (urgent
    notifications pass when the member allows it)."""
    if in_dnd(p, now) and not (priority == "urgent" and p.dnd_allow_urgent):
        return dnd_ends_at(p, now)
    return now


async def load_prefs(
    conn: AsyncConnection, team_id: str, member_ids: Iterable[str]
) -> dict[str, MemberPrefs]:
    """Active members among ``member_ids`` with their settings and switches."""
    ids = list(dict.fromkeys(member_ids))
    if not ids:
        return {}
    m, s, pc = members.c, settings_t.c, preferences.c
    switches = (
        select(func.jsonb_object_agg(pc.type + ":" + pc.channel, pc.enabled))
        .where(pc.team_id == m.team_id, pc.member_id == m.id)
        .scalar_subquery()
        .label("switches")
    )
    rows = await conn.execute(
        select(
            switches,
            m.id,
            m.name,
            m.email,
            m.time_zone.label("member_tz"),
            s.id.label("settings_id"),
            s.time_zone,
            s.dnd_start,
            s.dnd_end,
            s.dnd_allow_urgent,
            s.digest,
            s.digest_hour,
            s.email.label("notify_email"),
            s.phone,
            s.slack_webhook_url,
            s.teams_webhook_url,
        )
        .select_from(
            members.outerjoin(settings_t, and_(s.team_id == m.team_id, s.member_id == m.id))
        )
        .where(m.team_id == team_id, m.id.in_(ids), m.is_active.is_(True))
    )
    out: dict[str, MemberPrefs] = {}
    for r in rows:
        tz, source = (r.time_zone, "preferences") if r.time_zone else (r.member_tz, "member")
        p = MemberPrefs(
            member_id=r.id,
            name=r.name,
            login_email=r.email,
            time_zone=tz or "UTC",
            time_zone_source=source,
            has_settings=r.settings_id is not None,
        )
        if r.settings_id is not None:
            p.dnd_start, p.dnd_end = r.dnd_start, r.dnd_end
            p.dnd_allow_urgent = r.dnd_allow_urgent
            p.digest, p.digest_hour = r.digest, r.digest_hour
            p.email, p.phone = r.notify_email, r.phone
            p.slack_webhook_url, p.teams_webhook_url = r.slack_webhook_url, r.teams_webhook_url
        for key, on in (r.switches or {}).items():
            type_, _, channel = key.partition(":")
            p.switches[(type_, channel)] = bool(on)
        out[r.id] = p
    return out


PUBLIC = (
    "id",
    "type",
    "title",
    "message",
    "action_url",
    "priority",
    "related_to_type",
    "related_to_id",
    "actor_id",
    "metadata",
    "read_at",
    "archived_at",
    "snoozed_until",
    "created_at",
    "updated_at",
)


def present(row: Any) -> dict[str, Any]:
    m = row._mapping if hasattr(row, "_mapping") else row
    out = {k: m[k] for k in PUBLIC}
    out["status"] = "archived" if out["archived_at"] else ("read" if out["read_at"] else "unread")
    return out


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
    now = datetime.now(UTC)
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
        await events.append(
            conn,
            EventRecord(
                team_id=team_id,
                actor_type="system",
                actor_id=None,
                object_type="notification",
                object_id=n["id"],
                action="created",
                changes=events.diff(
                    None,
                    {
                        k: n[k]
                        for k in (
                            "type",
                            "title",
                            "priority",
                            "related_to_type",
                            "related_to_id",
                        )
                    }
                    | {"member_id": d.member_id},
                ),
                data={
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
                *_status_filter("unread"),
            )
            .group_by(c.member_id)
        )
        made.counts = {m: 0 for m in members_in_app} | {r[0]: int(r[1]) for r in rows}
    return made


async def publish(made: Created) -> None:
    """After the commit: ``notification.created`` and the new ``unread_count`` on each
    member's channel (best effort)."""
    by_member: dict[str, list[dict[str, Any]]] = {}
    for n, in_app in made.items:
        if in_app:
            by_member.setdefault(n["member_id"], []).append(n)
    for member_id, items in by_member.items():
        await publish_created(made.team_id, member_id, items, made.counts.get(member_id))


def _wire(n: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in n.items() if k != "member_id"}
    return out


async def publish_created(
    team_id: str, member_id: str, items: list[dict[str, Any]], count: int | None = None
) -> None:
    channel = broker.member_channel(team_id, member_id)
    for n in items:
        payload = broker.message("notification.created", _wire(n))
        if len(payload) > broker.PG_MAX_PAYLOAD:
            slim = _wire(n) | {"message": _clip(n["message"], 200), "metadata": {}}
            payload = broker.message("notification.created", slim | {"truncated": True})
        await broker.publish_quietly(channel, payload)
    await publish_count(team_id, member_id, count)


async def publish_count(team_id: str, member_id: str, count: int | None = None) -> None:
    if count is None:
        async with tenant_tx(api_engine(), team_id, member_id) as conn:
            count = await _unread(conn, team_id, member_id)
    await broker.publish_quietly(
        broker.member_channel(team_id, member_id), broker.message("unread_count", {"count": count})
    )


async def publish_updated(team_id: str, member_id: str, rows: list[dict[str, Any]]) -> None:
    channel = broker.member_channel(team_id, member_id)
    for n in rows[:100]:
        await broker.publish_quietly(channel, broker.message("notification.updated", _wire(n)))
    await publish_count(team_id, member_id)


# =========================================================================== the center


def _visible(now: Any = None) -> Any:
    c = notifications.c
    return or_(
        c.snoozed_until.is_(None), c.snoozed_until <= (now if now is not None else func.now())
    )


def _status_filter(status: str | None) -> list[Any]:
    c = notifications.c
    if status == "archived":
        return [c.archived_at.is_not(None)]
    base = [c.archived_at.is_(None), _visible()]
    if status == "unread":
        return [*base, c.read_at.is_(None)]
    if status == "read":
        return [*base, c.read_at.is_not(None)]
    return base


def parse_status(raw: str | None) -> str | None:
    if raw is None or raw == "":
        return None
    if raw not in STATUSES:
        raise Problem(
            400,
            f"status must be one of {', '.join(STATUSES)}, not {raw!r}.",
            errors=[{"field": "status", "message": "Unknown status."}],
        )
    return raw


LIST_FIELDS = (
    "id",
    "type",
    "priority",
    "related_to_type",
    "related_to_id",
    "actor_id",
    "read_at",
    "archived_at",
    "snoozed_until",
    "created_at",
    "updated_at",
    "title",
)
lister = Lister({n: notifications.c[n] for n in LIST_FIELDS}, notifications.c.id)


async def list_for_member(
    conn: AsyncConnection, actor: Actor, params: ListParams, status: str | None
) -> dict[str, Any]:
    c = notifications.c
    stmt = select(notifications).where(
        c.team_id == actor.team_id, c.member_id == actor.member_id, *_status_filter(status)
    )
    stmt = stmt.where(*lister.where(params.filters))
    stmt, keys = lister.apply(stmt, params)
    rows = list(await conn.execute(stmt))
    has_more = len(rows) > params.limit
    data = [present(r) for r in rows[: params.limit]]
    next_cursor = lister.encode_cursor(keys, data[-1]) if has_more and data else None
    fields = lister.fields(params.fields)
    if fields is not None:
        data = [{k: d[k] for k in fields} for d in data]
    return {"data": data, "next_cursor": next_cursor, "has_more": has_more}


async def _unread(conn: AsyncConnection, team_id: str, member_id: str) -> int:
    c = notifications.c
    return int(
        (
            await conn.execute(
                select(func.count())
                .select_from(notifications)
                .where(c.team_id == team_id, c.member_id == member_id, *_status_filter("unread"))
            )
        ).scalar_one()
    )


async def unread_count(conn: AsyncConnection, actor: Actor) -> int:
    return await _unread(conn, actor.team_id, actor.member_id)


async def get(conn: AsyncConnection, actor: Actor, id: str, *, lock: bool = False) -> dict:
    c = notifications.c
    q = select(notifications).where(
        c.team_id == actor.team_id, c.member_id == actor.member_id, c.id == id
    )
    if lock:
        q = q.with_for_update()
    row = (await conn.execute(q)).first()
    if row is None:
        raise not_found("notification", id)
    return present(row)


def _event(actor: Actor, id: str, action: str, before: dict, after: dict) -> EventRecord:
    return actor_event(actor, "notification", id, action, events.diff(before, after))


async def _change(
    conn: AsyncConnection, actor: Actor, id: str, action: str, values: dict[str, Any]
) -> dict[str, Any]:
    current = await get(conn, actor, id, lock=True)
    c = notifications.c
    row = (
        await conn.execute(
            update(notifications)
            .where(c.team_id == actor.team_id, c.id == id)
            .values(**values, updated_at=func.now())
            .returning(*notifications.c)
        )
    ).one()
    after = present(row)
    changed = {k: current[k] for k in values}
    await events.append(conn, _event(actor, id, action, changed, {k: after[k] for k in values}))
    return after


async def mark_read(
    conn: AsyncConnection, actor: Actor, ids: list[str] | None, all_: bool
) -> list[dict[str, Any]]:
    """Mark the given notifications (every unread one with ``all_``) read; 404 if an id is not
    one of the caller's."""
    c = notifications.c
    mine = and_(c.team_id == actor.team_id, c.member_id == actor.member_id)
    if all_:
        where = and_(mine, c.read_at.is_(None), c.archived_at.is_(None))
    else:
        wanted = list(dict.fromkeys(ids or []))
        found = {
            r.id
            for r in await conn.execute(
                select(c.id).where(mine, c.id.in_(wanted)).with_for_update()
            )
        }
        missing = [i for i in wanted if i not in found]
        if missing:
            raise Problem(
                404,
                f"No notification with id {missing[0]!r}.",
                errors=[
                    {"field": "ids", "message": f"Unknown notification {m!r}."} for m in missing
                ],
            )
        where = and_(mine, c.id.in_(wanted), c.read_at.is_(None))
    rows = [
        present(r)
        for r in await conn.execute(
            update(notifications)
            .where(where)
            .values(read_at=func.now(), updated_at=func.now())
            .returning(*notifications.c)
        )
    ]
    if rows:
        await events.append(
            conn,
            *[
                _event(actor, r["id"], "read", {"read_at": None}, {"read_at": r["read_at"]})
                for r in rows
            ],
        )
    return rows


async def mark_unread(conn: AsyncConnection, actor: Actor, id: str) -> dict[str, Any]:
    return await _change(conn, actor, id, "unread", {"read_at": None})


async def archive(conn: AsyncConnection, actor: Actor, id: str) -> dict[str, Any]:
    current = await get(conn, actor, id)
    values: dict[str, Any] = {"snoozed_until": None}
    if current["archived_at"] is None:
        values["archived_at"] = func.now()
    return await _change(conn, actor, id, "archived", values)


async def snooze(conn: AsyncConnection, actor: Actor, id: str, until: datetime) -> dict[str, Any]:
    now = (await conn.execute(text("SELECT now()"))).scalar_one()
    if until <= now:
        raise validation([{"field": "until", "message": "Must be in the future."}])
    if until > now + timedelta(days=366):
        raise validation([{"field": "until", "message": "At most a year ahead."}])
    current = await get(conn, actor, id)
    if current["archived_at"] is not None:
        raise Problem(409, "An archived notification cannot be snoozed.", title="Conflict")
    return await _change(conn, actor, id, "snoozed", {"snoozed_until": until})


async def reply(conn: AsyncConnection, actor: Actor, id: str, text_: str) -> dict[str, Any]:
    """Answer a mention: the comment is created by the activities service (as a reply to the
    comment that mentioned the caller), and the notification is marked read."""
    n = await get(conn, actor, id, lock=True)
    if n["type"] != "mention":
        raise Problem(
            409, "Only a mention can be answered from its notification.", title="Conflict"
        )
    activity_id = n["metadata"].get("activity_id")
    if not activity_id:
        raise Problem(
            409, "This mention does not name the activity it was made in.", title="Conflict"
        )
    try:
        from api.activities import service as activities
    except ImportError:
        raise Problem(
            501, "Comments are not available in this installation.", title="Not Implemented"
        ) from None
    comment = await activities.add_comment(
        conn, actor, activity_id, text_, parent_comment_id=n["metadata"].get("comment_id")
    )
    if n["read_at"] is None:
        await _change(conn, actor, id, "read", {"read_at": func.now()})
    return comment if isinstance(comment, dict) else {"comment": comment}


async def wake_snoozed() -> dict[str, int]:
    """Bring back every notification whose snooze ended (``snoozed_until`` cleared, an event
    ``woken``) and push ``notification.updated`` + ``unread_count`` to its member. Run every
    minute by Dagster; a snoozed notification is hidden only until its time even before it
    runs."""
    from warehouse.db import engine as db_engine

    async with db_engine("worker").connect() as wconn:
        teams = [
            r.team_id
            for r in await wconn.execute(
                text(
                    "SELECT DISTINCT team_id FROM app.notifications "
                    "WHERE snoozed_until IS NOT NULL AND snoozed_until <= now()"
                )
            )
        ]
    woken = 0
    for team_id in teams:
        async with tenant_tx(api_engine(), team_id) as conn:
            c = notifications.c
            old = {
                r.id: r.snoozed_until
                for r in await conn.execute(
                    select(c.id, c.snoozed_until)
                    .where(c.team_id == team_id, c.snoozed_until <= func.now())
                    .with_for_update(skip_locked=True)
                )
            }
            if not old:
                continue
            rows = [
                present(r) | {"member_id": r.member_id}
                for r in await conn.execute(
                    update(notifications)
                    .where(c.team_id == team_id, c.id.in_(list(old)))
                    .values(snoozed_until=None, updated_at=func.now())
                    .returning(*notifications.c)
                )
            ]
            await events.append(
                conn,
                *[
                    EventRecord(
                        team_id=team_id,
                        actor_type="system",
                        actor_id=None,
                        object_type="notification",
                        object_id=r["id"],
                        action="woken",
                        changes=events.diff(
                            {"snoozed_until": old[r["id"]]}, {"snoozed_until": None}
                        ),
                    )
                    for r in rows
                ],
            )
        woken += len(rows)
        by_member: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            by_member.setdefault(r["member_id"], []).append(r)
        for member_id, items in by_member.items():
            await publish_updated(team_id, member_id, items)
    return {"woken": woken}


# =========================================================================== preferences


def present_prefs(p: MemberPrefs) -> dict[str, Any]:
    return {
        "types": {
            t: {ch: p.enabled(t, ch) for ch in PREFERENCE_CHANNELS} for t in NOTIFICATION_TYPES
        },
        "time_zone": p.time_zone,
        "time_zone_source": p.time_zone_source,
        "dnd": (
            {"start": p.dnd_start.strftime("%H:%M"), "end": p.dnd_end.strftime("%H:%M")}
            if p.dnd_start is not None and p.dnd_end is not None
            else None
        ),
        "dnd_allow_urgent": p.dnd_allow_urgent,
        "digest": p.digest,
        "digest_hour": p.digest_hour,
        "email": p.email,
        "phone": p.phone,
        "slack_webhook_url": p.slack_webhook_url,
        "teams_webhook_url": p.teams_webhook_url,
    }


async def get_prefs(conn: AsyncConnection, actor: Actor) -> dict[str, Any]:
    prefs = await load_prefs(conn, actor.team_id, [actor.member_id])
    if actor.member_id not in prefs:
        raise Problem(403, "Only an active member has notification preferences.", title="Forbidden")
    return present_prefs(prefs[actor.member_id])


async def put_prefs(conn: AsyncConnection, actor: Actor, values: dict[str, Any]) -> dict[str, Any]:
    errors: list[dict[str, Any]] = []
    types = values.pop("types", None) or {}
    for t, switches in types.items():
        if t not in NOTIFICATION_TYPES:
            errors.append({"field": f"types.{t}", "message": "Unknown notification type."})
            continue
        for ch in switches:
            if ch not in PREFERENCE_CHANNELS:
                errors.append({"field": f"types.{t}.{ch}", "message": "Unknown channel."})
    if "digest" in values and values["digest"] not in DIGEST_MODES:
        errors.append({"field": "digest", "message": f"One of {', '.join(DIGEST_MODES)}."})
    if values.get("time_zone") is not None:
        try:
            check_time_zone(values["time_zone"])
        except Problem as p:
            errors += p.errors or []
    if errors:
        raise validation(errors)
    before = await get_prefs(conn, actor)
    row: dict[str, Any] = {}
    if "dnd" in values:
        dnd = values.pop("dnd")
        row["dnd_start"] = time.fromisoformat(dnd.start) if dnd else None
        row["dnd_end"] = time.fromisoformat(dnd.end) if dnd else None
    row.update(values)
    if row:
        s = settings_t.c
        await conn.execute(
            pg_insert(settings_t)
            .values(team_id=actor.team_id, id=new_id("nst"), member_id=actor.member_id, **row)
            .on_conflict_do_update(
                index_elements=["team_id", "member_id"],
                set_={**row, "updated_at": func.now()},
            )
        )
        _ = s
    pairs = [(t, ch, on) for t, sw in types.items() for ch, on in sw.items()]
    if pairs:
        await conn.execute(
            pg_insert(preferences)
            .values(
                [
                    {
                        "team_id": actor.team_id,
                        "id": new_id("npf"),
                        "member_id": actor.member_id,
                        "type": t,
                        "channel": ch,
                        "enabled": on,
                    }
                    for t, ch, on in pairs
                ]
            )
            .on_conflict_do_update(
                index_elements=["team_id", "member_id", "type", "channel"],
                set_={"enabled": text("excluded.enabled"), "updated_at": func.now()},
            )
        )
    after = await get_prefs(conn, actor)
    flat_b, flat_a = _flatten(before), _flatten(after)
    await events.append(
        conn,
        actor_event(
            actor,
            "notification_preferences",
            actor.member_id,
            "updated",
            events.diff(flat_b, flat_a),
        ),
    )
    return after


def _flatten(p: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in p.items() if k != "types"}
    for t, sw in p["types"].items():
        for ch, on in sw.items():
            out[f"types.{t}.{ch}"] = on
    return out


# =========================================================================== watches


async def list_watches(conn: AsyncConnection, actor: Actor) -> list[dict[str, Any]]:
    w = watches.c
    rows = await conn.execute(
        select(w.id, w.target_type, w.target_id, w.created_at)
        .where(w.team_id == actor.team_id, w.member_id == actor.member_id)
        .order_by(w.created_at, w.id)
    )
    return [dict(r._mapping) for r in rows]


_TARGET_TABLES = {
    "deal": "deals",
    "lead": "leads",
    "contact": "contacts",
    "account": "accounts",
    "task": "tasks",
}


async def _target_exists(conn: AsyncConnection, actor: Actor, target_type: str, id: str) -> bool:
    if target_type == "member":
        m = members.c
        row = (
            await conn.execute(
                select(m.id).where(m.team_id == actor.team_id, m.id == id, m.is_active.is_(True))
            )
        ).first()
        return row is not None
    table = _TARGET_TABLES[target_type]
    exists = (await conn.execute(text(f"SELECT to_regclass('app.{table}') IS NOT NULL"))).scalar()
    if not exists:
        return False
    row = (
        await conn.execute(
            text(f"SELECT 1 FROM app.{table} WHERE team_id = :t AND id = :id"),
            {"t": actor.team_id, "id": id},
        )
    ).first()
    return row is not None


async def add_watch(
    conn: AsyncConnection, actor: Actor, target_type: str, target_id: str
) -> tuple[dict[str, Any], bool]:
    if target_type not in WATCH_TARGETS:
        raise validation(
            [{"field": "target_type", "message": f"One of {', '.join(WATCH_TARGETS)}."}]
        )
    if target_type == "member" and target_id == actor.member_id:
        raise validation([{"field": "target_id", "message": "You cannot watch yourself."}])
    if not await _target_exists(conn, actor, target_type, target_id):
        raise not_found(target_type, target_id)
    w = watches.c
    row = (
        await conn.execute(
            pg_insert(watches)
            .values(
                team_id=actor.team_id,
                id=new_id("wch"),
                member_id=actor.member_id,
                target_type=target_type,
                target_id=target_id,
            )
            .on_conflict_do_nothing(
                index_elements=["team_id", "member_id", "target_type", "target_id"]
            )
            .returning(w.id, w.target_type, w.target_id, w.created_at)
        )
    ).first()
    if row is None:
        existing = (
            await conn.execute(
                select(w.id, w.target_type, w.target_id, w.created_at).where(
                    w.team_id == actor.team_id,
                    w.member_id == actor.member_id,
                    w.target_type == target_type,
                    w.target_id == target_id,
                )
            )
        ).one()
        return dict(existing._mapping), False
    out = dict(row._mapping)
    await events.append(
        conn,
        actor_event(
            actor,
            "watch",
            out["id"],
            "created",
            events.diff(None, {"target_type": target_type, "target_id": target_id}),
        ),
    )
    return out, True


async def _delete_own(
    conn: AsyncConnection,
    actor: Actor,
    table: Any,
    id: str,
    object_type: str,
    label: str,
    kept: tuple[str, ...],
) -> None:
    """Delete the caller's own ``table`` row ``id`` (404 otherwise) with its ``deleted`` event,
    whose changes carry the ``kept`` columns."""
    c = table.c
    row = (
        await conn.execute(
            table.delete()
            .where(c.team_id == actor.team_id, c.member_id == actor.member_id, c.id == id)
            .returning(*(c[k] for k in kept))
        )
    ).first()
    if row is None:
        raise not_found(label, id)
    before = dict(row._mapping)
    await events.append(
        conn, actor_event(actor, object_type, id, "deleted", events.diff(before, None))
    )


async def delete_watch(conn: AsyncConnection, actor: Actor, id: str) -> None:
    await _delete_own(conn, actor, watches, id, "watch", "watch", ("target_type", "target_id"))


async def watchers_of(
    conn: AsyncConnection, team_id: str, target_type: str, target_id: str
) -> list[str]:
    w = watches.c
    rows = await conn.execute(
        select(w.member_id).where(
            w.team_id == team_id, w.target_type == target_type, w.target_id == target_id
        )
    )
    return [r.member_id for r in rows]


# =========================================================================== push subscriptions


async def list_push(conn: AsyncConnection, actor: Actor) -> list[dict[str, Any]]:
    p = push_subs.c
    rows = await conn.execute(
        select(p.id, p.endpoint, p.created_at)
        .where(p.team_id == actor.team_id, p.member_id == actor.member_id)
        .order_by(p.created_at, p.id)
    )
    return [dict(r._mapping) for r in rows]


async def add_push(
    conn: AsyncConnection, actor: Actor, endpoint: str, p256dh: str, auth: str, ua: str | None
) -> dict[str, Any]:
    p = push_subs.c
    row = (
        await conn.execute(
            pg_insert(push_subs)
            .values(
                team_id=actor.team_id,
                id=new_id("psub"),
                member_id=actor.member_id,
                endpoint=endpoint,
                p256dh=p256dh,
                auth=auth,
                user_agent=(ua or "")[:500] or None,
            )
            .on_conflict_do_update(
                index_elements=["team_id", "member_id", "endpoint"],
                set_={"p256dh": p256dh, "auth": auth},
            )
            .returning(p.id, p.endpoint, p.created_at)
        )
    ).one()
    out = dict(row._mapping)
    await events.append(
        conn,
        actor_event(
            actor,
            "push_subscription",
            out["id"],
            "created",
            events.diff(None, {"endpoint": endpoint}),
        ),
    )
    return out


async def delete_push(conn: AsyncConnection, actor: Actor, id: str) -> None:
    await _delete_own(
        conn, actor, push_subs, id, "push_subscription", "push subscription", ("endpoint",)
    )


# =========================================================================== delivery log

DELIVERY_FIELDS = (
    "id",
    "notification_id",
    "member_id",
    "channel",
    "status",
    "digest",
    "attempts",
    "next_attempt_at",
    "last_error",
    "provider_id",
    "sent_at",
    "delivered_at",
    "created_at",
    "updated_at",
)
delivery_lister = Lister({n: deliveries.c[n] for n in DELIVERY_FIELDS}, deliveries.c.id)


async def list_deliveries(
    conn: AsyncConnection, actor: Actor, params: ListParams
) -> dict[str, Any]:
    """The caller's deliveries; an admin sees the whole team's."""
    d = deliveries.c
    stmt = select(*[d[n] for n in DELIVERY_FIELDS]).where(d.team_id == actor.team_id)
    if not actor.at_least("admin"):
        stmt = stmt.where(d.member_id == actor.member_id)
    stmt = stmt.where(*delivery_lister.where(params.filters))
    stmt, keys = delivery_lister.apply(stmt, params)
    rows = list(await conn.execute(stmt))
    has_more = len(rows) > params.limit
    data = [dict(r._mapping) for r in rows[: params.limit]]
    next_cursor = delivery_lister.encode_cursor(keys, data[-1]) if has_more and data else None
    return {"data": data, "next_cursor": next_cursor, "has_more": has_more}


__all__ = [
    "Draft",
    "MemberPrefs",
    "archive",
    "create",
    "deferral",
    "get",
    "list_for_member",
    "load_prefs",
    "mark_read",
    "mark_unread",
    "reply",
    "snooze",
    "unread_count",
]
_ = insert
