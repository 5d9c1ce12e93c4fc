"""The operations the sweep covers (from the app's OpenAPI document, built at collection time),
JSON as raw bytes, and the edge values shared by the bodies and the query strings."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

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


# Routes the sweep does not exercise, and why: the routes that cannot take part are not in the
# document (the WebSocket gateway ``/api/v1/ws``, the Swagger UI), and the two special ones are
# swept their own way (MULTIPART, FORM_CALLBACKS). The OAuth protocol endpoints answer what
# OAuth clients expect, not problem documents: RFC 6749 error JSON for form bodies, an HTML
# page for the browser; tests/api/oauth/test_hostile.py sweeps them with those rules.
_OAUTH_PROTOCOL = "OAuth protocol (RFC 6749 errors / HTML): tests/api/oauth/test_hostile.py"
SKIPPED: dict[tuple[str, str], str] = {
    ("POST", f"{API}/oauth/token"): _OAUTH_PROTOCOL,
    ("POST", f"{API}/oauth/revoke"): _OAUTH_PROTOCOL,
    ("POST", f"{API}/oauth/introspect"): _OAUTH_PROTOCOL,
    ("POST", f"{API}/oauth/authorize/decision"): _OAUTH_PROTOCOL,
    ("GET", f"{API}/oauth/authorize"): _OAUTH_PROTOCOL,
}

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
