"""Automatic progression rules: declarative conditions on a deal's fields and related activity.

A stage's ``auto_advance`` is ``{"all": [condition, ...]}``; when every condition holds for an
open deal in an earlier stage, the deal service (:mod:`api.deals.service`) moves it into that
stage. A condition is either

* on a deal field: ``{"field": "next_step", "op": "is_set"}``,
  ``{"field": "value", "op": "gte", "value": "5000"}``, ``{"field": "custom.budget", "op":
  "eq", "value": "approved"}`` (ops: is_set, is_empty, eq, ne, gt, gte, lt, lte, in); or
* on related activity: ``{"activity": "call", "outcome": "meeting_booked", "min_count": 1,
  "within_days": 30}``: at least ``min_count`` activities of that kind (with that outcome, in the
  last ``within_days`` days) on the deal, its lead or its contacts.

Activity kinds are pluggable: :func:`register_activity_source` adds one. Shipped here: ``call``
(call logs, and call entries of the activity timeline; ``outcome`` is the call's outcome), and
``meeting``, ``email`` and ``note`` from the activity timeline (``app.activities``; ``outcome``
matches a meeting's or an email's ``metadata.status``, e.g. ``completed`` or ``opened``). A rule
naming a kind nobody registered is refused when the pipeline is saved.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from leadly.actor import Actor
from warehouse.models import CallLog
from warehouse.models.activities import Activity

#: Deal fields a stage may require and a rule may test (``custom.<key>`` too).
REQUIRABLE = frozenset(
    {
        "name",
        "value",
        "currency",
        "value_type",
        "probability",
        "expected_close_date",
        "actual_close_date",
        "owner_id",
        "lead_id",
        "account_id",
        "contacts",
        "win_reason",
        "loss_reason",
        "competitor",
        "next_step",
        "source",
    }
)

ActivitySource = Callable[
    [AsyncConnection, Actor, Mapping[str, Any], Mapping[str, Any]], Awaitable[int]
]
"""``(conn, actor, deal, condition) -> how many matching activities``; ``deal`` carries
``lead_id``, ``account_id`` and ``contact_ids``."""

_SOURCES: dict[str, ActivitySource] = {}

FIELD_OPS = ("is_set", "is_empty", "eq", "ne", "gt", "gte", "lt", "lte", "in")


def register_activity_source(kind: str, source: ActivitySource) -> None:
    """Let progression rules count activities of ``kind`` (replaces an earlier source)."""
    _SOURCES[kind] = source


def activity_kinds() -> list[str]:
    return sorted(_SOURCES)


def rule_errors(rule: Mapping[str, Any], at: str) -> list[dict[str, Any]]:
    errors = []
    for i, c in enumerate(rule.get("all") or []):
        where = f"{at}.all[{i}]"
        has_field, has_activity = c.get("field") is not None, c.get("activity") is not None
        if has_field == has_activity:
            errors.append({"field": where, "message": "Give either field (with op) or activity."})
            continue
        if has_field:
            name = c["field"]
            if name not in REQUIRABLE and not name.startswith("custom."):
                errors.append({"field": f"{where}.field", "message": f"No deal field {name!r}."})
            op = c.get("op")
            if op is None:
                errors.append({"field": f"{where}.op", "message": "A field condition needs op."})
            elif op not in ("is_set", "is_empty") and c.get("value") is None:
                errors.append({"field": f"{where}.value", "message": f"{op} needs a value."})
            elif op == "in" and not isinstance(c.get("value"), list):
                errors.append({"field": f"{where}.value", "message": "in takes a list."})
        elif c["activity"] not in _SOURCES:
            errors.append(
                {
                    "field": f"{where}.activity",
                    "message": f"Unknown activity kind {c['activity']!r} "
                    f"(known: {', '.join(activity_kinds()) or 'none'}).",
                }
            )
    return errors


def is_empty(v: Any) -> bool:
    """No value: None, an empty string, list or object."""
    return v is None or v == "" or v == [] or v == {}


def field_value(deal: Mapping[str, Any], name: str) -> Any:
    if name.startswith("custom."):
        return (deal.get("custom") or {}).get(name.split(".", 1)[1])
    if name == "contacts":
        return deal.get("contact_ids") or deal.get("contacts")
    return deal.get(name)


def _comparable(a: Any, b: Any) -> tuple[Any, Any]:
    """Compare numbers as decimals and dates as ISO text; anything else as given."""
    if isinstance(a, Decimal | int | float) and not isinstance(a, bool):
        try:
            return Decimal(str(a)), Decimal(str(b))
        except InvalidOperation:
            return str(a), str(b)
    if isinstance(a, date | datetime):
        return a.isoformat(), str(b)
    return a, b


def field_holds(deal: Mapping[str, Any], c: Mapping[str, Any]) -> bool:
    v = field_value(deal, c["field"])
    op, want = c["op"], c.get("value")
    if op == "is_set":
        return not is_empty(v)
    if op == "is_empty":
        return is_empty(v)
    if v is None:
        return op == "ne" and want is not None
    if op == "in":
        return any(_comparable(v, w)[0] == _comparable(v, w)[1] for w in want or [])
    a, b = _comparable(v, want)
    try:
        return {
            "eq": a == b,
            "ne": a != b,
            "gt": a > b,
            "gte": a >= b,
            "lt": a < b,
            "lte": a <= b,
        }[op]
    except TypeError:
        return False


async def holds(
    conn: AsyncConnection, actor: Actor, deal: Mapping[str, Any], rule: Mapping[str, Any]
) -> bool:
    """Every condition of ``rule`` holds for ``deal`` (field conditions first: they are free)."""
    conditions = list(rule.get("all") or [])
    if not conditions:
        return False
    for c in conditions:
        if c.get("field") is not None and not field_holds(deal, c):
            return False
    for c in conditions:
        if c.get("activity") is not None:
            source = _SOURCES.get(c["activity"])
            if source is None:
                return False
            if await source(conn, actor, deal, c) < int(c.get("min_count") or 1):
                return False
    return True


# --------------------------------------------------------------------------- built-in sources


def _timeline_targets(t: Any, deal: Mapping[str, Any]) -> list[Any]:
    """Timeline entries on the deal itself, its lead or its contacts."""
    targets = []
    if deal.get("id"):
        targets.append((t.c.related_to_type == "deal") & (t.c.related_to_id == deal["id"]))
    if deal.get("lead_id"):
        targets.append((t.c.related_to_type == "lead") & (t.c.related_to_id == deal["lead_id"]))
    if deal.get("contact_ids"):
        targets.append(
            (t.c.related_to_type == "contact") & t.c.related_to_id.in_(list(deal["contact_ids"]))
        )
    return targets


async def _count_timeline(
    conn: AsyncConnection,
    actor: Actor,
    deal: Mapping[str, Any],
    c: Mapping[str, Any],
    kind: str,
    outcome_key: str,
) -> int:
    t = Activity.__table__
    targets = _timeline_targets(t, deal)
    if not targets:
        return 0
    q = select(func.count()).where(
        t.c.team_id == actor.team_id,
        t.c.deleted_at.is_(None),
        t.c.type == kind,
        t.c.source_event_id.is_(None),  # logged by people, not derived from the event log
        or_(*targets),
    )
    if c.get("outcome"):
        q = q.where(t.c["metadata"][outcome_key].astext == str(c["outcome"]))
    if c.get("within_days"):
        q = q.where(t.c.occurred_at >= func.now() - timedelta(days=int(c["within_days"])))
    return int((await conn.execute(q)).scalar_one())


async def call_source(
    conn: AsyncConnection, actor: Actor, deal: Mapping[str, Any], c: Mapping[str, Any]
) -> int:
    """Call logs on the deal's lead or any of its contacts, and calls logged on the timeline
    of the deal, its lead or its contacts."""
    t = CallLog.__table__
    targets = []
    if deal.get("lead_id"):
        targets.append(t.c.lead_id == deal["lead_id"])
    if deal.get("contact_ids"):
        targets.append(t.c.contact_id.in_(list(deal["contact_ids"])))
    logged = 0
    if targets:
        q = select(func.count()).where(
            t.c.team_id == actor.team_id, t.c.deleted_at.is_(None), or_(*targets)
        )
        if c.get("outcome"):
            q = q.where(t.c.outcome == c["outcome"])
        if c.get("within_days"):
            q = q.where(t.c.started_at >= func.now() - timedelta(days=int(c["within_days"])))
        logged = int((await conn.execute(q)).scalar_one())
    return logged + await _count_timeline(conn, actor, deal, c, "call", "outcome")


def timeline_source(kind: str, outcome_key: str = "status") -> ActivitySource:
    """Activities of ``kind`` on the timeline of the deal, its lead or its contacts."""

    async def source(
        conn: AsyncConnection, actor: Actor, deal: Mapping[str, Any], c: Mapping[str, Any]
    ) -> int:
        return await _count_timeline(conn, actor, deal, c, kind, outcome_key)

    source.__name__ = f"{kind}_source"
    return source


register_activity_source("call", call_source)
register_activity_source("meeting", timeline_source("meeting"))
register_activity_source("email", timeline_source("email"))
register_activity_source("note", timeline_source("note", "pinned"))
