"""Opaque page cursors of the timeline's lists (mentions, comment threads, timelines, search).

A cursor is base64url JSON of where a page ended: ``[moment, id]`` for the lists in time order,
``[rank, id]`` for search. A cursor that does not decode is a 400 naming ``cursor``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec

from leadly.problem import Problem


def encode(obj: Any) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(obj)).decode().rstrip("=")


def decode(cursor: str) -> Any:
    try:
        return msgspec.json.decode(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, msgspec.DecodeError):
        raise bad_cursor() from None


def bad_cursor() -> Problem:
    return Problem(
        400,
        "The cursor is malformed or belongs to another query.",
        errors=[{"field": "cursor", "message": "Malformed cursor."}],
    )


def moment_and_id(cursor: str) -> tuple[datetime, str]:
    """The ``(moment, id)`` a time-ordered page ended at."""
    value = decode(cursor)
    try:
        at, rid = value
        return datetime.fromisoformat(at), str(rid)
    except (TypeError, ValueError):
        raise bad_cursor() from None


def page(rows: Sequence[dict[str, Any]], limit: int, moment: str) -> dict[str, Any]:
    """A page of ``rows`` (fetched with ``limit + 1``): the first ``limit`` of them, and a cursor
    past the last one, keyed by its ``moment`` column and id, when there are more."""
    has_more = len(rows) > limit
    data = list(rows[:limit])
    nxt = encode([data[-1][moment].isoformat(), data[-1]["id"]]) if has_more else None
    return {"data": data, "next_cursor": nxt, "has_more": has_more}
