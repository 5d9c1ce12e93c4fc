"""Prefixed, sortable identifiers: ``lead_01JD5Z...`` (a ULID after the object's prefix)."""

from __future__ import annotations

import re

from ulid import ULID

_ID_RE = re.compile(r"^[a-z][a-z0-9]*_[0-9A-HJKMNP-TV-Z]{26}$")


def new_id(prefix: str) -> str:
    return f"{prefix}_{ULID()}"


def looks_like_id(value: str, prefix: str | None = None) -> bool:
    if not _ID_RE.match(value):
        return False
    return prefix is None or value.startswith(prefix + "_")
