"""Bodies from the schemas: the resolved schemas, a valid-looking base value per field, and the
hostile values tried one field at a time."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ulid import ULID

from tests.api.hostile_input.operations import (
    API,
    DATE_EDGES,
    DATETIME_EDGES,
    SQL,
    Raw,
    nested_dict,
    nested_list,
)
from tests.api.hostile_input.world import (
    ID_PATTERN,
    IDS_KINDS,
    REF_FIELDS,
    World,
    email,
    unknown_id,
)

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
