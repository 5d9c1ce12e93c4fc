"""Hostile input on every operation of the OpenAPI document: never a 500, always a problem
document, never a write by a refused request.

The sweep is driven by the app's own ``/api/v1/schema/openapi.json``. For each operation (one
test each, so a failure names the route) it sends, as the owner of a fresh team:

* for a JSON body: a valid-looking base body built from the schema (``$ref``s resolved,
  required fields filled, references naming real records of the team), then one hostile value
  per field at a time (wrong JSON types, null, extreme numbers, over-long strings, NUL and lone
  surrogate escapes, edge dates and times, deep nesting, 10,001-item arrays, another team's
  ids), unknown fields, and bodies that are empty, an array, invalid JSON;
* for path parameters: unknown well-formed ids, another team's ids, garbage;
* for GET: hostile query parameters (filters with bad values and edge dates, unknown sort
  fields, limits, cursors, and the hand-read parameters of the non-list routes).

Every answer must be below 500; a 4xx must be ``application/problem+json`` whose ``status`` is
the HTTP status; and a 4xx must leave both teams' rows exactly as they were: every ``app``
table with a ``team_id`` is counted and hashed (row by row) after each request.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import msgspec
import psycopg
import pytest
from psycopg import sql as pgsql
from sqlalchemy import text
from ulid import ULID

from tests.conftest import Team, make_team

API = "/api/v1"
METHODS = ("get", "post", "put", "patch", "delete")
DOC_URL = f"{API}/schema/openapi.json"

# --------------------------------------------------------------------------- the operations


def _document() -> dict[str, Any]:
    """The OpenAPI document, built at collection time so each operation is its own test (the
    test then checks it is exactly the one the running app serves)."""
    from api.app import create_app
    from leadly.settings import get_settings

    try:
        return create_app().openapi_schema.to_schema()
    finally:
        get_settings.cache_clear()  # the test session sets its own environment


def _operations(doc: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted(
        (m.upper(), path) for path, item in doc["paths"].items() for m in item if m in METHODS
    )


# Routes the sweep does not exercise, and why. None, today: the routes that cannot take part
# are not in the document (the WebSocket gateway ``/api/v1/ws``, the Swagger UI; there is no
# OAuth redirect), and the two special ones are swept their own way (MULTIPART, FORM_CALLBACKS).
SKIPPED: dict[tuple[str, str], str] = {}

# Operations that read their JSON body by hand (``decode_body`` after the scope check), so the
# document has no ``requestBody`` for them: their Structs stand in for the missing schema.
UNDOCUMENTED_BODIES: dict[tuple[str, str], str] = {
    ("POST", f"{API}/notifications/read"): "api.notifications.schemas:ReadIn",
    (
        "POST",
        f"{API}/notifications/{{notification_id}}/snooze",
    ): "api.notifications.schemas:SnoozeIn",
    ("POST", f"{API}/notifications/{{notification_id}}/reply"): "api.notifications.schemas:ReplyIn",
    ("PUT", f"{API}/notification-preferences"): "api.notifications.schemas:PreferencesIn",
    ("POST", f"{API}/watches"): "api.notifications.schemas:WatchIn",
    ("POST", f"{API}/push-subscriptions"): "api.notifications.schemas:PushSubscriptionIn",
}

# multipart/form-data uploads: one garbage multipart (and a JSON body) instead of the JSON sweep.
MULTIPART = {("POST", f"{API}/imports"), ("POST", f"{API}/imports/preview")}

# Twilio's status callback: form-encoded, authenticated by X-Twilio-Signature, so every request
# here is refused (403) before its body is read. Its path parameters are still swept.
FORM_CALLBACKS = {
    ("POST", f"{API}/notification-deliveries/twilio-status/{{team_id}}/{{delivery_id}}")
}

DOC = _document()
OPERATIONS = [op for op in _operations(DOC) if op not in SKIPPED]


# --------------------------------------------------------------------------- JSON as raw bytes


@dataclass(frozen=True)
class Raw:
    """A JSON fragment sent exactly as written (numbers JSON parsers disagree on)."""

    text: str


def dump(value: Any, *, ascii_only: bool = True) -> bytes:
    """JSON text with ``Raw`` fragments; strings as escapes (a lone surrogate as ``\\ud800``)."""
    parts: list[str] = []

    def walk(v: Any) -> None:
        if isinstance(v, Raw):
            parts.append(v.text)
        elif isinstance(v, dict):
            parts.append("{")
            for i, (k, x) in enumerate(v.items()):
                parts.append(("," if i else "") + json.dumps(k, ensure_ascii=ascii_only) + ":")
                walk(x)
            parts.append("}")
        elif isinstance(v, list | tuple):
            parts.append("[")
            for i, x in enumerate(v):
                if i:
                    parts.append(",")
                walk(x)
            parts.append("]")
        else:
            parts.append(json.dumps(v, ensure_ascii=ascii_only))

    walk(value)
    return "".join(parts).encode("utf-8", "surrogatepass")


def nested_dict(depth: int) -> Any:
    v: Any = "deep"
    for _ in range(depth):
        v = {"a": v}
    return v


def nested_list(depth: int) -> Any:
    v: Any = "deep"
    for _ in range(depth):
        v = [v]
    return v


DATETIME_EDGES = [
    "9999-12-31T23:59:59-12:00",  # year 10000 in UTC
    "0001-01-01T00:00:00+14:00",  # year 0 in UTC
    "2026-02-30T00:00:00Z",
    "2026-03-01T10:00:00",  # naive
    "9999-12-31T23:59:59Z",
    "1699-12-31T23:59:59Z",
]
DATE_EDGES = ["0000-01-01", "10000-01-01", "2026-02-30", "9999-12-31", "0001-01-01"]
SQL = "x'; DROP TABLE app.leads;--"


# --------------------------------------------------------------------------- a team's records

ID_PATTERN = "^[a-z][a-z0-9]*_[0-9A-HJKMNP-TV-Z]{26}$"
PREFIX = {
    "member": "mem",
    "team": "team",
    "lead": "lead",
    "lead2": "lead",
    "contact": "cont",
    "account": "acct",
    "call_log": "call",
    "activity": "act",
    "comment": "cmt",
    "mention": "mnt",
    "pipeline": "pipe",
    "deal": "deal",
    "task": "task",
    "task2": "task",
    "series": "task",
    "time_log": "tlog",
    "dependency": "tdep",
    "watch": "wch",
    "push_subscription": "psub",
    "api_key": "key",
    "feed": "feed",
    "notification": "ntf",
    "failure": "failure",
    "import": "imp",
    "delivery": "ndl",
}


def unknown_id(kind: str) -> str:
    if kind == "stage":
        return "no_such_stage"
    if kind in ("invitation", "feed_token"):
        return secrets.token_urlsafe(32)
    return f"{PREFIX.get(kind, 'x')}_{ULID()}"


def email() -> str:
    return f"sweep-{secrets.token_hex(6)}@example.com"


class World:
    """A team's records, created on first use: what path parameters and references name."""

    def __init__(self, team: Team) -> None:
        self.team = team
        self.ids: dict[str, str] = {"member": team.member_id, "team": team.team_id}
        self.stage_keys: list[str] = []

    async def _post(self, url: str, body: Any) -> dict[str, Any]:
        r = await self.team.post(f"{API}{url}", json=body)
        assert r.status_code in (200, 201), (url, r.status_code, r.text)
        return r.json()

    async def id(self, kind: str) -> str:
        if kind not in self.ids:
            self.ids[kind] = await self._make(kind)
        return self.ids[kind]

    async def _make(self, kind: str) -> str:
        p = self._post
        if kind in ("lead", "lead2"):
            return (await p("/leads", {"first_name": "Ada", "email": email()}))["id"]
        if kind == "contact":
            return (await p("/contacts", {"first_name": "Cy", "email": email()}))["id"]
        if kind == "account":
            return (await p("/accounts", {"name": f"Acme {secrets.token_hex(3)}"}))["id"]
        if kind == "call_log":
            return (await p("/call-logs", {"lead_id": await self.id("lead")}))["id"]
        if kind == "activity":
            body = {
                "type": "note",
                "related_to_type": "lead",
                "related_to_id": await self.id("lead"),
                "description": f"For @[Owner]({self.team.member_id})",  # mentions the owner
            }
            return (await p("/activities", body))["id"]
        if kind == "comment":
            return (await p(f"/activities/{await self.id('activity')}/comments", {"text": "hi"}))[
                "id"
            ]
        if kind == "mention":
            await self.id("activity")
            return (await self.team.get(f"{API}/mentions")).json()["data"][0]["id"]
        if kind == "notification":
            return await self._notification()
        if kind == "pipeline":
            r = await self.team.get(f"{API}/pipelines", params={"limit": 1})
            rows = r.json()["data"]
            row = rows[0] if rows else None
            if row is None:
                stages = [
                    {"key": "open", "name": "Open", "probability": 10},
                    {"key": "won", "name": "Won", "probability": 100, "is_won": True},
                    {"key": "lost", "name": "Lost", "probability": 0, "is_lost": True},
                ]
                row = await p("/pipelines", {"name": "Sales", "stages": stages})
            self.stage_keys = [s["key"] for s in row["stages"]]
            return row["id"]
        if kind == "stage":
            await self.id("pipeline")
            return self.stage_keys[0]
        if kind == "deal":
            return (await p("/deals", {"name": "Deal", "pipeline_id": await self.id("pipeline")}))[
                "id"
            ]
        if kind in ("task", "task2"):
            return (await p("/tasks", {"title": "Task", "due_at": "2031-03-03T10:00:00Z"}))["id"]
        if kind == "series":
            body = {
                "title": "Daily",
                "due_at": "2031-03-03T10:00:00Z",
                "recurrence_rule": "FREQ=DAILY",
            }
            return (await p("/tasks", body))["id"]
        if kind == "time_log":
            body = {"started_at": "2026-01-05T09:00:00Z", "ended_at": "2026-01-05T10:00:00Z"}
            return (await p(f"/tasks/{await self.id('task')}/time-logs", body))["id"]
        if kind == "dependency":
            body = {"depends_on_task_id": await self.id("task2")}
            return (await p(f"/tasks/{await self.id('task')}/dependencies", body))["id"]
        if kind == "watch":
            return (
                await p("/watches", {"target_type": "deal", "target_id": await self.id("deal")})
            )["id"]
        if kind == "push_subscription":
            body = {
                "endpoint": f"https://push.example.com/{secrets.token_hex(8)}",
                "keys": {"p256dh": "B" * 40, "auth": "A" * 16},
            }
            return (await p("/push-subscriptions", body))["id"]
        if kind == "api_key":
            return (await p("/api-keys", {"name": "sweep", "scopes": ["leads:read"]}))["id"]
        if kind == "invitation":
            return (await p("/invitations", {"email": email(), "role": "user"}))["token"]
        if kind in ("feed", "feed_token"):
            row = await p("/calendar-feeds", {"name": "sweep"})
            self.ids["feed"] = row["id"]
            self.ids["feed_token"] = row["url"].rstrip("/").rsplit("/", 1)[1].split(".")[0]
            return self.ids[kind]
        return unknown_id(kind)  # failures, imports, deliveries: none to make

    async def _notification(self) -> str:
        """A mention of the owner by another member, made a notification by the producer the
        dispatcher would run (no worker runs in this test)."""
        from api.dispatcher.registry import DispatchedEvent
        from api.notifications.producers import produce
        from warehouse.db import api_engine, tenant_tx

        invitation = await self._post("/invitations", {"email": email(), "role": "user"})
        r = await self.team.http.post(
            f"{API}/invitations/{invitation['token']}/accept",
            json={"name": "Rep", "password": "correct-horse-battery"},
        )
        assert r.status_code == 201, r.text
        rep = self.team.as_token(r.json()["token"])
        body = {
            "type": "note",
            "related_to_type": "lead",
            "related_to_id": await self.id("lead"),
            "description": f"Ask @[Owner]({self.team.member_id})",
        }
        assert (await rep.post(f"{API}/activities", json=body)).status_code == 201
        async with tenant_tx(api_engine(), self.team.team_id) as conn:
            rows = await conn.execute(
                text(
                    "SELECT id, team_id, txid::text AS txid, occurred_at, actor_type, actor_id, "
                    "object_type, object_id, action, changes, data, request_id FROM app.events "
                    "WHERE team_id = :t AND object_type = 'mention' ORDER BY id"
                ),
                {"t": self.team.team_id},
            )
            events = [DispatchedEvent.from_row(row) for row in rows]
        for event in events:
            await produce(event)
        return (await self.team.get(f"{API}/notifications")).json()["data"][0]["id"]


RECORD_PATHS = {
    "leads": "lead",
    "contacts": "contact",
    "accounts": "account",
    "call-logs": "call_log",
    "activities": "activity",
    "deals": "deal",
    "pipelines": "pipeline",
    "tasks": "task",
}
PATH_KINDS = {
    "lead_id": "lead",
    "activity_id": "activity",
    "comment_id": "comment",
    "mention_id": "mention",
    "deal_id": "deal",
    "pipeline_id": "pipeline",
    "key": "stage",
    "task_id": "task",
    "time_log_id": "time_log",
    "dependency_id": "dependency",
    "notification_id": "notification",
    "watch_id": "watch",
    "subscription_id": "push_subscription",
    "failure_id": "failure",
    "import_id": "import",
    "member_id": "member",
    "key_id": "api_key",
    "feed_id": "feed",
    "team_id": "team",
    "delivery_id": "delivery",
}


def path_kind(path: str, name: str) -> str:
    if name == "task_id" and path.endswith(("/split-series", "/occurrences", "/reminders")):
        return "series"  # a recurring task: what these act on
    if name == "record_id":
        return RECORD_PATHS[path.split("/")[3]]
    if name == "token":
        return "feed_token" if "/ics/" in path else "invitation"
    return PATH_KINDS[name]


# Body fields that name another record: their kind.
REF_FIELDS = {
    "owner_id": "member",
    "member_id": "member",
    "assignee_ids": "member",
    "attendee_ids": "member",
    "lead_id": "lead",
    "other_id": "lead2",
    "contact_id": "contact",
    "account_id": "account",
    "pipeline_id": "pipeline",
    "depends_on_task_id": "task2",
    "parent_task_id": "task2",
    "parent_comment_id": "comment",
    "related_to_id": "lead",
    "target_id": "deal",
}
# ``ids`` lists name different records per route.
IDS_KINDS = {
    f"{API}/tasks/bulk": "task",
    f"{API}/mentions/read": "mention",
    f"{API}/notifications/read": "notification",
}

# --------------------------------------------------------------------------- schemas


class Schemas:
    """Resolves ``$ref``s of the document (and of the stand-in Structs' ``$defs``)."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.defs: dict[str, Any] = dict(doc.get("components", {}).get("schemas", {}))

    def add(self, schema: dict[str, Any]) -> dict[str, Any]:
        self.defs.update(schema.pop("$defs", {}))
        return schema

    def resolve(self, s: Any) -> dict[str, Any]:
        """The schema with its ``$ref`` followed and the first non-null option of a ``oneOf``
        merged into it (Litestar writes constraints beside the ``oneOf``)."""
        if not isinstance(s, dict):
            return {}
        if "$ref" in s:
            return self.resolve(
                {
                    **self.defs[s["$ref"].rsplit("/", 1)[1]],
                    **{k: v for k, v in s.items() if k != "$ref"},
                }
            )
        out = dict(s)
        options = out.pop("oneOf", None) or out.pop("anyOf", None)
        real = [o for o in options or [] if o.get("type") != "null"]
        if real:
            out = {**self.resolve(real[0]), **out}
        if isinstance(out.get("type"), list):  # ["null", "string"]
            out["type"] = next((t for t in out["type"] if t != "null"), None)
        return out


def kind_of(s: dict[str, Any]) -> str:
    t = s.get("type")
    if t:
        return t
    if "properties" in s:
        return "object"
    if "enum" in s:
        return "string"
    return "any"


# --------------------------------------------------------------------------- base values


@dataclass
class Ctx:
    """What one operation's values are built from."""

    method: str
    path: str
    mine: World
    theirs: World
    ids: dict[str, str] = field(default_factory=dict)  # kind -> my id
    their_ids: dict[str, str] = field(default_factory=dict)  # kind -> their id


def ref_kind(ctx: Ctx, name: str) -> str | None:
    if name == "ids":
        return IDS_KINDS.get(ctx.path)
    return REF_FIELDS.get(name)


def wanted_kinds(ctx: Ctx, schemas: Schemas, body: dict[str, Any] | None) -> set[str]:
    """Every record kind the base body and the id variants of this operation name."""
    kinds: set[str] = set()

    def walk(s: Any, depth: int) -> None:
        s = schemas.resolve(s)
        for name, sub in (s.get("properties") or {}).items():
            k = ref_kind(ctx, name)
            if k:
                kinds.add(k)
            if name in ("stage", "keys"):
                kinds.add("stage")
            if depth < 2:
                walk(sub, depth + 1)
                walk(schemas.resolve(sub).get("items"), depth + 1)

    walk(body, 0)
    return kinds


STRING_HINTS: dict[str, Any] = {
    "time_zone": "UTC",
    "password": "correct-horse-battery",
    "shift_by": "P1D",
    "target_type": "deal",
    "endpoint": "https://push.example.com/sweep",
    "p256dh": "B" * 40,
    "auth": "A" * 16,
    "digest": "daily",
    "start": "22:00",
    "end": "07:00",
    "text": "Hostile sweep",
    "recurrence_rule": "FREQ=DAILY",
    "value": "1200.50",
}
ITEM_HINTS: dict[str, Any] = {
    "scopes": "leads:read",
    "reminders": "1h",
    "reminder_offsets": "1h",
    "tags": "sweep",
    "required_fields": "value",
}


def base_value(ctx: Ctx, schemas: Schemas, name: str, s: Any) -> Any:
    """A plausible valid value of field ``name`` (required fields only, in objects)."""
    s = schemas.resolve(s)
    k = kind_of(s)
    ref = ref_kind(ctx, name)
    if name == "stage" and k == "string":
        return ctx.ids.get("stage", "open")
    if name == "keys" and k == "array":
        return list(ctx.mine.stage_keys)
    if name == "email" and k == "string":
        return ctx.mine.team.email if ctx.path.endswith("/auth/login") else email()
    if name == "password" and ctx.path.endswith("/auth/login"):
        return ctx.mine.team.password
    if k == "array":
        item = s.get("items") or {}
        if ref:
            return [ctx.ids[ref]]
        if name in ITEM_HINTS:
            return [ITEM_HINTS[name]]
        if (s.get("minItems") or 0) > 0:
            return [base_value(ctx, schemas, name, item)]
        return []
    if k == "object":
        props = s.get("properties")
        if props is None:
            return {}
        required = set(s.get("required") or [])
        return {n: base_value(ctx, schemas, n, sub) for n, sub in props.items() if n in required}
    enum = [e for e in s.get("enum") or [] if e is not None]
    if enum:
        return enum[0]
    if k == "boolean":
        return name in ("is_active", "all")
    if k in ("integer", "number"):
        lo = s.get("minimum", s.get("exclusiveMinimum", 0))
        v: Any = max(lo, 1) if k == "integer" else max(lo, 1.5)
        if "maximum" in s:
            v = min(v, s["maximum"])
        return int(v) if k == "integer" else v
    if k == "string" or k == "any":
        fmt = s.get("format")
        if fmt == "date-time":
            return "2031-03-03T10:00:00Z"
        if fmt == "date":
            return "2031-03-03"
        pattern = s.get("pattern") or ""
        if ref:
            return ctx.ids[ref]
        if pattern == ID_PATTERN:
            return unknown_id(name.removesuffix("_id"))
        if name in STRING_HINTS:
            return STRING_HINTS[name]
        if "@" in pattern:
            return email()
        if "https?" in pattern:
            return "https://example.com/sweep"
        if "0-9+()" in pattern:
            return "+1 555 010 0100"
        if pattern == "^[A-Z]{3}$":
            return "USD"
        if pattern == "^[a-z][a-z_]{0,39}$":
            return "lead"
        if pattern == "^[a-z][a-z0-9_]{0,39}$":
            return f"sweep_{secrets.token_hex(3)}"
        if pattern.startswith("^[A-Za-z0-9_"):
            return "A" * max(16, s.get("minLength", 1))
        text = "Hostile sweep"
        return text.ljust(s.get("minLength", 0), "x")
    return None


# Values beyond the required fields that make a base body valid, so the variants go deeper.
BASE_EXTRAS: dict[tuple[str, str], Callable[[Ctx], dict[str, Any]]] = {
    ("POST", f"{API}/leads"): lambda ctx: {"first_name": "Ada", "email": email()},
    ("POST", f"{API}/contacts"): lambda ctx: {"first_name": "Cy", "email": email()},
    ("POST", f"{API}/call-logs"): lambda ctx: {"lead_id": ctx.ids["lead"]},
    ("POST", f"{API}/activities"): lambda ctx: {"type": "note"},
    ("POST", f"{API}/tasks/bulk"): lambda ctx: {"action": "reschedule", "shift_by": "P1D"},
    ("POST", f"{API}/tasks/{{task_id}}/time-logs"): lambda ctx: {
        "started_at": "2026-01-05T09:00:00Z",
        "ended_at": "2026-01-05T10:00:00Z",
    },
    ("PATCH", f"{API}/tasks/{{task_id}}/time-logs/{{time_log_id}}"): lambda ctx: {"notes": "sweep"},
    ("POST", f"{API}/tasks"): lambda ctx: {"due_at": "2031-03-03T10:00:00Z"},
    ("POST", f"{API}/notifications/read"): lambda ctx: {"ids": [ctx.ids["notification"]]},
    ("POST", f"{API}/notifications/{{notification_id}}/snooze"): lambda ctx: {
        "until": (datetime.now(UTC) + timedelta(days=1)).isoformat()
    },
    ("POST", f"{API}/leads/{{lead_id}}/merge"): lambda ctx: {"other_id": ctx.ids["lead2"]},
}


# Whole bodies the document cannot describe: activity metadata is checked per activity type.
EXTRA_BODIES: dict[tuple[str, str], list[tuple[str, dict[str, Any]]]] = {
    ("POST", f"{API}/activities"): [
        *[
            (f"meeting starts_at {v}", {"type": "meeting", "metadata": {"starts_at": v}})
            for v in DATETIME_EDGES
        ],
        *[
            (f"email opened_at {v}", {"type": "email", "metadata": {"opened_at": v}})
            for v in DATETIME_EDGES
        ],
        (
            "meeting ends before it starts",
            {
                "type": "meeting",
                "metadata": {
                    "starts_at": "2031-01-01T10:00:00Z",
                    "ends_at": "1700-01-01T00:00:00Z",
                },
            },
        ),
        ("call duration 2**63", {"type": "call", "metadata": {"duration": 2**63}}),
        (
            "file size 2**63",
            {"type": "file", "metadata": {"action": "uploaded", "file_name": "x", "size": 2**63}},
        ),
        ("email to 101 addresses", {"type": "email", "metadata": {"to_addresses": ["a@b"] * 101}}),
        (
            "meeting attendees unknown",
            {
                "type": "meeting",
                "metadata": {
                    "starts_at": "2031-01-01T10:00:00Z",
                    "attendee_ids": [f"mem_{ULID()}"],
                },
            },
        ),
        ("a derived type", {"type": "status_change", "metadata": {"field": "x"}}),
        ("related to a deal by a lead id", {"related_to_type": "deal"}),
        ("related to a member", {"related_to_type": "member"}),
        ("mention of an unknown member", {"description": f"@[X](mem_{ULID()}) @[Y](x'; --)"}),
        ("mention 10,000 times", {"description": "@[X](mem_x) " * 10_000}),
    ],
    ("POST", f"{API}/tasks"): [
        ("recurring, until year 9999", {"recurrence_rule": "FREQ=YEARLY;UNTIL=99991231T000000Z"}),
        ("recurring every second", {"recurrence_rule": "FREQ=SECONDLY"}),
        (
            "due 4000-12-31, recurring daily",
            {"due_at": "4000-12-31T23:59:59Z", "recurrence_rule": "FREQ=DAILY"},
        ),
        ("due 1700-01-01, reminder 4w", {"due_at": "1700-01-01T00:00:00Z", "reminders": ["4w"]}),
        (
            "due 1700-01-01, recurring weekly",
            {"due_at": "1700-01-01T00:00:00Z", "recurrence_rule": "FREQ=WEEKLY"},
        ),
        ("naive due_at in a zone", {"due_at": "4000-12-31T23:59:59"}),
    ],
}


def extras(ctx: Ctx, method: str, path: str) -> dict[str, Any]:
    make = BASE_EXTRAS.get((method, path))
    return make(ctx) if make else {}


# --------------------------------------------------------------------------- hostile values


# Values for fields whose format the document cannot say (hand-parsed strings, free JSON).
EXTRA_VALUES: dict[str, list[Any]] = {
    "shift_by": [
        "P99999999999W",
        "-P99999999999D",
        "PT99999999999999H",
        "P3661D",
        "P0D",
        "P1Y",
        "P1.5D",
        "P",
        "PT",
        "1d",
    ],
    "reminders": [["99999w"], ["0m"], ["1h", "1h"], ["1h"] * 11],
    "reminder_offsets": [["99999w"], ["0m"], ["1h", "1h"], ["1h"] * 11],
    "recurrence_rule": [
        "FREQ=SECONDLY;COUNT=100000000",
        "FREQ=DAILY;UNTIL=99991231T235959Z",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=DAILY;INTERVAL=0",
        "FREQ=DAILY;INTERVAL=999999999",
        "FREQ=MINUTELY",
        "RRULE:FREQ=DAILY",
        "FREQ=DAILY;COUNT=-1",
        "FREQ=DAILY;UNTIL=00010101T000000Z",
        "garbage",
    ],
    "time_zone": ["Mars/Phobos", "UTC+99", "../../../etc/passwd", " ", "Etc/GMT+14", "localtime"],
    "value": [
        "1e400",
        "NaN",
        "Infinity",
        "-Infinity",
        "-1",
        "9" * 40 + ".99",
        "1e-400",
        "0x10",
        "1_000",
        Raw("1e400"),
        1e308,
    ],
    "currency": ["XXX", "usd"],
    "digest": ["hourly", ""],
    "dnd": [
        {"start": "25:00", "end": "07:00"},
        {"start": "24:00", "end": "24:00"},
        {"start": "12:60", "end": "1:00"},
    ],
    "types": [
        {"nope": {"email": True}},
        {"mention": {"fax": True}},
        {"mention": {"email": "yes"}},
        {"mention": None},
    ],
    "target_type": ["planet", "lead", "member", "task"],
    "scopes": [["*"], ["leads:delete"], ["x" * 1000 + ":read"]],
    "position": [-1, 2**31, -(2**63)],
    "required_fields": [["no_such_field"], ["custom.x"], ["value", "value"]],
    "keys": [["a", "a"], ["no_such_stage"], ["a"] * 51],
    "stage": ["no_such_stage"],
    "related_to_type": ["planet", "task", "member", "activity", "deal"],
    "metadata": [
        {"duration": 1e308},
        {"starts_at": "9999-12-31T23:59:59-12:00"},
        {"type": "meeting"},
    ],
    "auto_advance": [
        {"all": [{}]},
        {"all": [{"field": "value", "op": "gt", "value": {"a": [1e308]}}]},
        {
            "all": [
                {"field": "expected_close_date", "op": "lt", "value": "9999-12-31T23:59:59-12:00"}
            ]
        },
        {"all": [{"activity": "call", "within_days": 3650, "min_count": 10000}]},
    ],
    "probability": [101, -1],
    "digest_hour": [24, -1],
}


# The hostile values of a scalar also tried as the first item of an array of them.
ITEM_LABELS = ("NUL", "lone surrogate", "100 KB", "SQL", "a number")


def hostile_values(
    ctx: Ctx, schemas: Schemas, name: str, s: Any, depth: int = 0
) -> list[tuple[str, Any]]:
    """(label, value) pairs for one field; nested objects and arrays of objects recurse once."""
    s = schemas.resolve(s)
    k = kind_of(s)
    out: list[tuple[str, Any]] = [("null", None)]
    ref = ref_kind(ctx, name)
    if k in ("string", "any"):
        out += [("a number", 12345), ("an object", {"a": 1}), ("an array", ["x"])]
        if s.get("maxLength"):
            out.append(("over maxLength", "x" * (s["maxLength"] + 1)))
        out += [
            ("100 KB", "x" * 100_000),
            ("NUL", "a\x00b"),
            ("lone surrogate", "a\ud800b"),
            ("empty", ""),
            ("SQL", SQL),
            ("unicode", "Zoë 名前 🙂 \u202e"),
        ]
        if s.get("format") == "date-time":
            out += [(f"datetime {v}", v) for v in DATETIME_EDGES]
        if s.get("format") == "date":
            out += [(f"date {v}", v) for v in DATE_EDGES]
        if s.get("enum"):
            out.append(("not in the enum", "NOT_IN_ENUM"))
        if ref:
            out += [("unknown id", unknown_id(ref)), ("another team's id", ctx.their_ids[ref])]
    if k in ("integer", "number"):
        out += [
            ("a string", "5"),
            ("a boolean", True),
            ("1e308", 1e308),
            ("-1", -1),
            ("2**63", 2**63),
            ("2**64", 2**64),
            ("0.5", 0.5),
            ("1e400", Raw("1e400")),
            ("-1e400", Raw("-1e400")),
        ]
    if k == "boolean":
        out += [("a string", "true"), ("a number", 1)]
    if k == "array":
        item_schema = schemas.resolve(s.get("items") or {})
        item = base_value(ctx, schemas, name, item_schema)
        out += [
            ("a string", "x"),
            ("an object", {}),
            ("10,001 items", [item] * 10_001),
            ("40 deep", nested_list(40)),
            ("[null]", [None]),
            ("[object]", [{"a": 1}]),
        ]
        if "maxItems" in s:
            out.append(("over maxItems", [item] * (s["maxItems"] + 1)))
        if ref:
            out += [("[unknown id]", [unknown_id(ref)]), ("[their id]", [ctx.their_ids[ref]])]
        if depth == 0:
            for label, v in hostile_values(ctx, schemas, name, item_schema, depth + 1):
                if kind_of(item_schema) == "object" and "properties" in item_schema:
                    out.append((f"[0]{label}", [v]))
                elif label in ITEM_LABELS or label.startswith(("date", "another", "unknown")):
                    out.append((f"[0] {label}", [v]))
    if k == "object":
        props = s.get("properties")
        out += [("a string", "x"), ("an array", [1]), ("40 deep", nested_dict(40))]
        if props is None:
            out += [
                ("NUL key", {"a\x00": 1}),
                ("10,001 keys", {f"k{i}": i for i in range(10_001)}),
                ("2**64 inside", {"n": 2**64}),
                ("1e400 inside", {"n": Raw("1e400")}),
                ("surrogate inside", {"d": "\ud800"}),
                ("edge datetime inside", {"d": "9999-12-31T23:59:59-12:00"}),
            ]
        elif depth < 2:
            base = base_value(ctx, schemas, name, s)
            out += [("unknown field", {**base, "zz_unknown": 1}), ("empty object", {})]
            for sub, sub_s in props.items():
                for label, v in hostile_values(ctx, schemas, sub, sub_s, depth + 1):
                    out.append((f".{sub} {label}", {**base, sub: v}))
    for v in EXTRA_VALUES.get(name, []) if depth <= 1 else []:
        out.append((f"{v!r}"[:40], v))
    return out


# --------------------------------------------------------------------------- cases


@dataclass
class Case:
    label: str
    method: str
    url: str
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    params: list[tuple[str, str]] | None = None


JSON_HEADERS = {"content-type": "application/json"}


def body_cases(ctx: Ctx, schemas: Schemas, url: str, schema: dict[str, Any]) -> list[Case]:
    s = schemas.resolve(schema)
    props = s.get("properties") or {}
    base = {**base_value(ctx, schemas, "$", s), **extras(ctx, ctx.method, ctx.path)}
    cases: list[Case] = []

    def add(label: str, content: bytes, headers: dict[str, str] | None = None) -> None:
        cases.append(Case(label, ctx.method, url, content, headers or JSON_HEADERS))

    for name, sub in props.items():
        for label, v in hostile_values(ctx, schemas, name, sub):
            add(f"{name}: {label}", dump({**base, name: v}, ascii_only=label != "unicode"))
    add("unknown field", dump({**base, "zz_unknown": 1}))
    add("unknown field with NUL", dump({**base, "zz\x00": 1}))
    add("duplicate key", dump(base)[:-1] + b', "zz": 1, "zz": 2}' if base else b'{"zz":1,"zz":2}')
    add("empty body", b"")
    add("whitespace body", b"  \n")
    add("a JSON array", b"[]")
    add("an array of the body", dump([base]))
    add("JSON null", b"null")
    add("a JSON string", b'"x"')
    add("a number", b"1e400")
    add("invalid JSON", b"{bad")
    add("truncated JSON", dump(base)[:-1])
    add("invalid UTF-8", b'{"x": "\xff\xfe"}')
    add("a BOM", b"\xef\xbb\xbf" + dump(base))
    add("40 deep", dump(nested_dict(40)))
    add("10,000 deep", b"[" * 10_000 + b"]" * 10_000)
    add("10,001 items at the top", dump([base] * 10_001))
    add("over 1 MiB", dump({**base, "zz": "x" * (1024 * 1024 + 10)}))
    add("text/plain", dump(base), {"content-type": "text/plain"})
    add("form-encoded", b"a=1&b=2", {"content-type": "application/x-www-form-urlencoded"})
    for label, over in EXTRA_BODIES.get((ctx.method, ctx.path), []):
        add(label, dump({**base, **over}))
    add("the base body", dump(base))  # last: a valid body may change the team's records
    return cases


def header_cases(method: str, url: str, content: bytes | None) -> list[Case]:
    """Hostile ``If-Match`` and ``Idempotency-Key`` headers (with the base body, if any)."""
    base = JSON_HEADERS if content is not None else {}
    values: list[tuple[str, str, str | bytes]] = [
        ("If-Match", "not an ETag", '"x"'),
        ("If-Match", "-1", '"-1"'),
        ("If-Match", "40 digits", '"' + "9" * 40 + '"'),
        ("If-Match", "a list", '"1", "2"'),
        ("If-Match", "UTF-8", '"ü"'.encode()),
    ]
    if method == "POST":
        values += [
            ("Idempotency-Key", "256 characters", "k" * 256),
            ("Idempotency-Key", "UTF-8", "ü".encode() * 100),
            ("Idempotency-Key", "a space", " "),
        ]
    return [
        Case(f"{name}: {label}", method, url, content, {**base, name.lower(): v})  # type: ignore[dict-item]
        for name, label, v in values
    ]


def batch_cases(ctx: Ctx, schemas: Schemas, url: str, create: dict[str, Any]) -> list[Case]:
    """``POST .../batch``: every hostile create body as an item, and hostile update items."""
    s = schemas.resolve(create)
    base = {
        **base_value(ctx, schemas, "$", s),
        **extras(ctx, "POST", ctx.path.removesuffix("/batch")),
    }
    cases: list[Case] = []

    def add(label: str, body: Any) -> None:
        cases.append(Case(label, "POST", url, dump(body), JSON_HEADERS))

    for name, sub in (s.get("properties") or {}).items():
        for label, v in hostile_values(ctx, schemas, name, sub):
            add(f"items[0].{name}: {label}", {"items": [{**base, name: v}]})
    kind = RECORD_PATHS[ctx.path.split("/")[3]]
    mine = ctx.ids[kind]
    for label, item in [
        ("id a number", {"id": 5}),
        ("id unknown", {"id": unknown_id(kind)}),
        ("id of another team", {"id": ctx.their_ids[kind]}),
        ("id with NUL", {"id": "a\x00b"}),
        ("id 10 KB", {"id": "x" * 10_000}),
        ("version a string", {"id": mine, "version": "1"}),
        ("version 2**63", {"id": mine, "version": 2**63}),
        ("version -1", {"id": mine, "version": -1}),
        ("version 1e400", {"id": mine, "version": Raw("1e400")}),
        ("item null", None),
        ("item a string", "x"),
        ("item 40 deep", nested_dict(40)),
        ("item NUL key", {"a\x00": 1}),
    ]:
        add(f"items: {label}", {"items": [item]})
        add(f"items: {label} (all_or_none)", {"items": [base, item], "all_or_none": True})
    add("items: 1,001", {"items": [base] * 1001})
    add("items: empty", {"items": []})
    add("all_or_none a string", {"items": [base], "all_or_none": "yes"})
    return cases


# Path parameters that are credentials, not ids.
SECRETS = frozenset({"invitation", "feed_token"})


def path_cases(ctx: Ctx, path: str, names: list[str], content: bytes | None) -> list[Case]:
    """Each path parameter in turn: unknown, another team's, garbage (the rest real)."""
    real = {n: ctx.ids[path_kind(path, n)] for n in names}
    cases: list[Case] = []
    for n in names:
        kind = path_kind(path, n)
        variants = [
            ("unknown", quote(unknown_id(kind), safe="")),
            ("another team's", quote(ctx.their_ids[kind], safe="")),
            ("SQL", quote(SQL, safe="")),
            ("10 KB", "x" * 10_000),
            ("unicode", quote("ü名🙂\u202e", safe="")),
            ("NUL", "a%00b"),
            ("invalid UTF-8", "%ED%A0%80%FF"),
            ("dots", ".."),
            ("encoded slash", "a%2Fb"),
            ("spaces", "%20%20"),
            ("lower-case id", quote(unknown_id(kind).lower(), safe="")),
        ]
        if kind in SECRETS:  # whoever holds another team's invitation may accept it
            variants = [v for v in variants if v[0] != "another team's"]
        for label, raw in variants:
            parts = {**{m: quote(v, safe="") for m, v in real.items()}, n: raw}
            url = path
            for m, v in parts.items():
                url = url.replace("{" + m + "}", v)
            headers = JSON_HEADERS if content is not None else {}
            cases.append(Case(f"path {n}: {label}", ctx.method, url, content, headers))
    return cases


QUERY_EDGES = [
    "9999-12-31T23:59:59-12:00",
    "0001-01-01T00:00:00+14:00",
    "2026-02-30",
    "0000-01-01",
    "10000-01-01",
    "9999-12-31",
    "0001-01-01",
    "2026-01-01T10:00:00 02:00",
    "1e308",
    str(2**63),
    "-1",
    "NaN",
    "",
    SQL,
    "x" * 10_000,
    "ü名🙂",
    "%_\\",
]
# Query parameters routes read by hand (the document does not list them), by path.
HAND_READ: list[tuple[str, list[str]]] = [
    (r"/\{record_id\}$", ["as_of", "fields"]),
    (r"/history$", ["limit", "cursor"]),
    (
        r"/timeline$",
        ["type", "from", "to", "member_id", "related_to_type", "related_to_id", "group_by"],
    ),
    (
        r"/search/activities$",
        ["q", "type", "from", "to", "member_id", "related_to_type", "related_to_id"],
    ),
    (r"/comments$", ["limit", "cursor"]),
    (r"/mentions$", ["unread", "limit", "cursor"]),
    (r"/(notifications|dispatcher/failures)$", ["status"]),
    (r"/members$", ["search"]),
    (r"/leads/export$", ["format"]),
    (r"/deals/velocity$", ["from", "to", "pipeline_id", "owner_id"]),
    (r"/deals/weighted-value$", ["pipeline_id", "owner_id"]),
    (r"/board$", ["stage", "limit", "cursor", "filter[value]", "filter[expected_close_date]"]),
    (r"/occurrences$", ["limit"]),
    (r"/stages/\{key\}$", ["target_stage"]),
]


def hand_read(path: str) -> list[str]:
    return [name for pattern, names in HAND_READ if re.search(pattern, path) for name in names]


def cursor_of(payload: Any) -> str:
    return base64.urlsafe_b64encode(dump(payload)).decode().rstrip("=")


def signature(sort: str) -> str:
    return hashlib.blake2s(sort.encode(), digest_size=4).hexdigest()


def query_cases(
    method: str, path: str, url: str, fields: dict[str, dict[str, Any]] | None
) -> list[Case]:
    """Hostile query strings: an unknown parameter, the hand-read ones with edge values, and
    for a list (``fields`` its items' fields) limit, cursor, sort, fields and filters."""
    qs: list[tuple[str, list[tuple[str, str]]]] = [
        ("unknown parameter", [("zz_unknown", "1")]),
        ("NUL in a name", [("a\x00", "1")]),
    ]
    for name in hand_read(path):
        for v in QUERY_EDGES:
            qs.append((f"{name}={v[:20]}", [(name, v)]))
        qs.append((f"{name} twice", [(name, "a"), (name, "b")]))
    if fields is None:
        return [Case(f"query {label}", method, url, params=params) for label, params in qs]
    for v in ("0", "-1", str(10**9), "abc", "1.5", "9" * 400, ""):
        qs.append((f"limit={v[:12]}", [("limit", v)]))
    for label, v in [
        ("garbage", "garbage"),
        ("not base64", "!!!"),
        ("10 KB", "x" * 10_000),
        ("a number", "5"),
        ("JSON of the wrong shape", cursor_of(["x", [1]])),
        ("JSON null", cursor_of(None)),
        ("JSON 40 deep", cursor_of(nested_list(40))),
        ("wrong signature", cursor_of([signature("nope"), [1, "x"]])),
    ]:
        qs.append((f"cursor {label}", [("cursor", v)]))
    # Cursors signed for the sort they come with, holding hostile values.
    sorts = ["-created_at"] + (["name"] if "name" in fields else [])
    for name, fs in fields.items():
        if kind_of(fs) in ("integer", "number", "boolean") or fs.get("format") in (
            "date",
            "date-time",
        ):
            sorts.append(name)
    for sort in dict.fromkeys(sorts):
        sig = signature(f"{sort},{'-' if sort.startswith('-') else ''}id")
        for label, values in [
            ("edge datetime", ["9999-12-31T23:59:59-12:00", "x"]),
            ("year 0", ["0001-01-01T00:00:00+14:00", "x"]),
            ("1e308", [1e308, "x"]),
            ("2**63", [2**63, "x"]),
            ("NUL", ["a\x00", "b\x00"]),
            ("object", [{"a": 1}, ["x"]]),
            ("nulls", [None, None]),
            ("too few", ["x"]),
        ]:
            qs.append(
                (
                    f"sort={sort} cursor {label}",
                    [("sort", sort), ("cursor", cursor_of([sig, values]))],
                )
            )
    for v in ("nope", "-", ",,,", "id,id", "-" * 100, SQL, "custom", "-custom"):
        qs.append((f"sort={v[:20]}", [("sort", v)]))
    for v in ("nope", ",", SQL, "id," * 500):
        qs.append((f"fields={v[:20]}", [("fields", v)]))
    for k, v in [
        ("filter[nope]", "x"),
        ("filter[id__bogus]", "x"),
        ("filter[]", "x"),
        ("filter[__gt]", "x"),
        ("filter[custom.k]", SQL),
        ("filter[custom.]", "x"),
        ("filter[custom.k__gt]", "9999-12-31T23:59:59-12:00"),
        ("filter[custom.k__in]", ",,,"),
        ("filter[custom]", '{"a": [1e400]}'),
        ("filter[custom__contains]", "{bad"),
        ("filter[custom__contains]", '{"a": 1}'),
        ("filter[custom__in]", "[1, {}]"),
        ("filter[custom__gt]", "1e400"),
        ("filter[id]", "a\x00b"),
        ("filter[id__in]", ",".join(["x"] * 5000)),
        ("filter[id]\x00", "x"),
    ]:
        qs.append((f"{k}={v[:20]!r}", [(k, v)]))
    for name, fs in fields.items():
        t = kind_of(fs)
        fmt = fs.get("format")
        if fmt in ("date-time", "date"):
            values = [*QUERY_EDGES[:7], "2026-03-02"]
        elif t in ("integer", "number"):
            values = [
                "1e308",
                str(2**63),
                "-" + "9" * 400,
                "NaN",
                "Infinity",
                "0x10",
                "1e-400",
                "7",
            ]
        elif t == "boolean":
            values = ["maybe", ""]
        elif t == "array":
            values = [SQL, ",,,"]
        elif t == "object":
            values = ["{bad", '{"a": 1e400}', "[]", "9" * 400]
        else:
            values = [SQL, "x" * 10_000]
        for v in values:
            qs.append((f"filter[{name}]={v[:20]}", [(f"filter[{name}]", v)]))
            if fmt in ("date-time", "date") or t in ("integer", "number"):
                qs.append((f"filter[{name}__gt]={v[:20]}", [(f"filter[{name}__gt]", v)]))
        qs.append((f"filter[{name}__in]", [(f"filter[{name}__in]", f"{values[0]},,{values[-1]}")]))
        qs.append((f"filter[{name}__contains]", [(f"filter[{name}__contains]", "%_\\")]))
        qs.append((f"filter[{name}__isnull]", [(f"filter[{name}__isnull]", "maybe")]))
        qs.append((f"sort=-{name}", [("sort", f"-{name}")]))
    return [Case(f"query {label}", method, url, params=params) for label, params in qs]


def multipart_cases(url: str) -> list[Case]:
    boundary = "sweepBOUNDARY"
    garbage = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.csv"\r\n'
        'Content-Type: text/csv\r\n\r\n\x00\xff,"\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="object"\r\n\r\nplanets\r\n'
        f"--{boundary}--\r\n"
    ).encode("latin-1")
    ct = {"content-type": f"multipart/form-data; boundary={boundary}"}
    return [
        Case("garbage multipart", "POST", url, garbage, ct),
        Case("truncated multipart", "POST", url, garbage[:60], ct),
        Case(
            "multipart without boundary",
            "POST",
            url,
            garbage,
            {"content-type": "multipart/form-data"},
        ),
        Case("a JSON body", "POST", url, b'{"file": "x"}', JSON_HEADERS),
        Case("no body", "POST", url, b"", {}),
    ]


# --------------------------------------------------------------------------- what was written


class Footprint:
    """Rows per ``app`` table of a team, with an order-independent hash of their contents
    (a half-written row, an update or a delete all change it). Sessions, whose
    ``last_used_at`` any authenticated request may touch, are counted only."""

    COUNT_ONLY = frozenset({"sessions"})

    def __init__(self, conn: psycopg.AsyncConnection[Any], tables: list[str]) -> None:
        self.conn = conn
        parts = []
        for t in tables:
            where = pgsql.SQL("id") if t == "teams" else pgsql.SQL("team_id")
            digest = (
                pgsql.SQL("0::numeric")
                if t in self.COUNT_ONLY
                else pgsql.SQL("coalesce(sum(hashtextextended(x::text, 0)), 0)")
            )
            parts.append(
                pgsql.SQL(
                    "SELECT {name}, count(*), {digest} FROM app.{t} x WHERE {w} = %(team)s"
                ).format(name=pgsql.Literal(t), digest=digest, t=pgsql.Identifier(t), w=where)
            )
        self.query = pgsql.SQL(" UNION ALL ").join(parts)

    async def of(self, team_id: str) -> dict[str, tuple[int, int]]:
        cur = await self.conn.execute(self.query, {"team": team_id})
        return {r[0]: (r[1], int(r[2])) for r in await cur.fetchall()}


def changed(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> list[str]:
    return [
        f"{t} rows {before[t][0]} -> {after[t][0]}"
        + ("" if before[t][0] != after[t][0] else " (contents changed)")
        for t in before
        if before[t] != after[t]
    ]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client from an address of its own: the sweep's failed logins throttle no other test."""
    address = f"198.51.100.{secrets.randbelow(250) + 1}"
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://leadly.test", timeout=60
    ) as c:
        yield c


@pytest.fixture(scope="module")
async def served(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get(DOC_URL)
    assert r.status_code == 200
    doc = r.json()
    assert _operations(doc) == _operations(DOC), "the served document is the collected one"
    return doc


@pytest.fixture(scope="module")
async def footprint(database_url: str) -> AsyncIterator[Footprint]:
    url = os.environ["LEADLY_DATABASE_URL"]
    conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    try:
        cur = await conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'app' AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
            "AND (c.relname = 'teams' OR EXISTS (SELECT 1 FROM pg_attribute a WHERE "
            "a.attrelid = c.oid AND a.attname = 'team_id' AND NOT a.attisdropped)) "
            "ORDER BY 1"
        )
        tables = [r[0] for r in await cur.fetchall()]
        assert {"leads", "events", "tasks", "teams", "notifications"} <= set(tables)
        yield Footprint(conn, tables)
    finally:
        await conn.close()


@pytest.fixture(scope="module")
async def theirs(client: httpx.AsyncClient) -> World:
    """Another team (module-wide: its records are made once) whose ids the sweep sends."""
    return World(await make_team(client))


# --------------------------------------------------------------------------- the sweep


# Answers of 500 and above the sweep accepts: not a client's input but the server's set-up.
SERVER_STATES = {("GET", f"{API}/push-subscriptions/vapid-public-key"): 503}  # Web Push unset


def verdict(r: httpx.Response, allowed: int | None = None) -> str | None:
    """Why an answer breaks the contract, or None."""
    if r.status_code >= 500 and r.status_code != allowed:
        return f"{r.status_code}: {r.text[:300]}"
    ctype = r.headers.get("content-type", "")
    if 400 <= r.status_code < 600:
        if not ctype.startswith("application/problem+json"):
            return f"{r.status_code} as {ctype!r}: {r.text[:200]}"
        try:
            body = r.json()
        except ValueError:
            return f"{r.status_code}: the problem document is not JSON"
        missing = {"type", "title", "status", "detail"} - set(body)
        if missing or body.get("status") != r.status_code:
            return f"{r.status_code}: bad problem document {str(body)[:200]}"
    elif ctype.startswith("application/json") and r.status_code == 200:
        body = r.json()
        if isinstance(body, dict) and isinstance(body.get("results"), list):  # a batch
            bad = [x for x in body["results"] if isinstance(x, dict) and x.get("status", 0) >= 500]
            if bad:
                return f"a batch item answered {bad[0]}"[:300]
    return None


def json_schema(op: dict[str, Any]) -> Any:
    return op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")


def list_fields(schemas: Schemas, op: dict[str, Any]) -> dict[str, dict[str, Any]] | None:
    """The fields of a list's items (``filter[...]``, ``sort``), or None: not a list."""
    content = op.get("responses", {}).get("200", {}).get("content", {})
    shape = schemas.resolve(next(iter(content.values()), {}).get("schema", {}))
    props = shape.get("properties") or {}
    if not {"data", "next_cursor", "has_more"} <= set(props):
        return None
    item = schemas.resolve(schemas.resolve(props["data"]).get("items", {}))
    return {n: schemas.resolve(x) for n, x in (item.get("properties") or {}).items()}


async def cases_for(
    method: str, path: str, op: dict[str, Any], served: dict[str, Any], me: World, theirs: World
) -> list[Case]:
    """Every request the sweep sends to one operation, in order (the base body last: a valid
    one may change the records the others name)."""
    schemas = Schemas(served)
    ctx = Ctx(method, path, me, theirs)
    body_schema = json_schema(op)
    if (method, path) in UNDOCUMENTED_BODIES:
        assert body_schema is None, "documented now: drop it from UNDOCUMENTED_BODIES"
        module, name = UNDOCUMENTED_BODIES[(method, path)].split(":")
        struct = getattr(__import__(module, fromlist=[name]), name)
        body_schema = schemas.add(msgspec.json.schema(struct))
    create = (
        json_schema(served["paths"][path.removesuffix("/batch")]["post"])
        if path.endswith("/batch")
        else None
    )
    names = [p["name"] for p in op.get("parameters", []) if p["in"] == "path"]

    # The records the base values, path parameters and variants name: mine and theirs.
    kinds = {path_kind(path, n) for n in names}
    kinds |= wanted_kinds(ctx, schemas, body_schema) | wanted_kinds(ctx, schemas, create)
    if create is not None:
        kinds.add(RECORD_PATHS[path.split("/")[3]])
    for k in sorted(kinds):
        ctx.ids[k] = await me.id(k)
        ctx.their_ids[k] = await theirs.id(k)
    url = path
    for n in names:
        url = url.replace("{" + n + "}", quote(ctx.ids[path_kind(path, n)], safe=""))

    cases: list[Case] = []
    if (method, path) in MULTIPART:
        cases += multipart_cases(url)
    elif (method, path) in FORM_CALLBACKS:
        form = {"content-type": "application/x-www-form-urlencoded"}
        cases.append(Case("garbage form", method, url, b"\x00=\xff&MessageStatus=delivered", form))
    elif create is not None:
        cases += batch_cases(ctx, schemas, url, create)
        cases += [c for c in body_cases(ctx, schemas, url, body_schema) if ":" not in c.label]
    elif body_schema is not None:
        cases += body_cases(ctx, schemas, url, body_schema)
    elif method != "GET":
        cases += [
            Case("an unexpected body", method, url, b'{"zz": [1e400]}', JSON_HEADERS),
            Case("an unexpected invalid body", method, url, b"{bad", JSON_HEADERS),
        ]
    base = cases.pop() if cases and cases[-1].label == "the base body" else None
    if names:
        cases += path_cases(ctx, path, names, base.content if base else None)
    if method != "GET" and (method, path) not in MULTIPART | FORM_CALLBACKS:
        cases += header_cases(method, url, base.content if base else None)
    fields = list_fields(schemas, op) if method == "GET" and not names else None
    if method == "GET" or hand_read(path):
        cases += query_cases(method, path, url, fields)
    if base is not None:
        cases.append(base)
    return cases


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
async def test_hostile_input(
    method: str,
    path: str,
    team: Team,
    client: httpx.AsyncClient,
    served: dict[str, Any],
    footprint: Footprint,
    theirs: World,
) -> None:
    me = World(Team(client, team.token, team.team_id, team.member_id, team.email, team.password))
    cases = await cases_for(method, path, served["paths"][path][method.lower()], served, me, theirs)
    allowed = SERVER_STATES.get((method, path))
    failures: list[str] = []
    mine = await footprint.of(team.team_id)
    others = await footprint.of(theirs.team.team_id)
    for case in cases:
        r = await client.request(
            case.method,
            case.url,
            content=case.content,
            params=case.params,
            headers={**me.team.headers, **case.headers},
        )
        problem = verdict(r, allowed)
        if problem:
            failures.append(f"{case.label}: {problem}")
        if method == "GET":  # reads write nothing, refused or not: checked once, at the end
            continue
        after = await footprint.of(team.team_id)
        if r.status_code >= 400 and changed(mine, after):
            failures.append(
                f"{case.label}: refused ({r.status_code}) but wrote {changed(mine, after)}"
            )
        mine = after
    if method == "GET":
        after = await footprint.of(team.team_id)
        if changed(mine, after):
            failures.append(f"{len(cases)} reads wrote {changed(mine, after)}")
    wrote = changed(others, await footprint.of(theirs.team.team_id))
    assert not wrote, f"another team's rows changed: {wrote}"
    assert not failures, (
        f"{len(failures)} of {len(cases)} requests broke the contract:\n" + "\n".join(failures[:40])
    )


# --------------------------------------------------------------------------- what the sweep found
# Each 500 the sweep found has a focused assertion: in the area's tests of bad input (records,
# auth, deals, tasks), or here for the timelines (whose tests another change is reshaping).


@pytest.mark.parametrize("url", [f"{API}/leads/{{lead}}/timeline", f"{API}/search/activities"])
async def test_to_on_the_last_date_is_a_400_naming_it(team: Team, url: str) -> None:
    """A date ``to`` includes that day: the day after 9999-12-31 overflowed into a 500."""
    r = await team.post(f"{API}/leads", json={"first_name": "Ada"})
    url = url.format(lead=r.json()["id"])
    q = {"q": "x"} if "search" in url else {}
    for to in ("9999-12-30", "9999-12-31T23:59:59Z"):
        r = await team.get(url, params={**q, "to": to})
        assert r.status_code == 200, (to, r.text)
    r = await team.get(url, params={**q, "to": "9999-12-31"})
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem")
    assert r.json()["errors"] == [{"field": "to", "message": "Out of range."}], r.text
