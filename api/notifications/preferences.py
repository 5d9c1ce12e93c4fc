"""A member's notification preferences: which channel each type goes to, do-not-disturb, the
email digest, where external channels reach them; and the times they decide (is a delivery
held back, when does the next digest go). The only code that writes
``app.notification_settings`` and ``app.notification_preferences``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common import outbound
from api.common.records import actor_event
from leadly.actor import Actor
from leadly.ids import new_id
from leadly.problem import Problem, validation
from leadly.zones import check_time_zone
from warehouse import events
from warehouse.models import NotificationPreference, NotificationSettings, TeamMember
from warehouse.models.notifications import DIGEST_MODES, NOTIFICATION_TYPES, PREFERENCE_CHANNELS

preferences = NotificationPreference.__table__
settings_t = NotificationSettings.__table__
members = TeamMember.__table__

#: Channels on by default (a missing preference row): in-app only.
DEFAULT_CHANNELS = {"in_app": True, "email": False, "sms": False, "push": False, "webhook": False}


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


#: Where each member-supplied webhook may point (unless LEADLY_ALLOW_PRIVATE_TARGETS is set).
WEBHOOK_HOSTS = {
    "slack_webhook_url": outbound.SLACK_HOSTS,
    "teams_webhook_url": outbound.TEAMS_HOSTS,
}


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
    for name, hosts in WEBHOOK_HOSTS.items():
        if values.get(name):  # the outbound guard, when saved (and again when sending)
            try:
                await outbound.check_url(values[name], name, hosts=hosts)
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
        await conn.execute(
            pg_insert(settings_t)
            .values(team_id=actor.team_id, id=new_id("nst"), member_id=actor.member_id, **row)
            .on_conflict_do_update(
                index_elements=["team_id", "member_id"],
                set_={**row, "updated_at": func.now()},
            )
        )
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
