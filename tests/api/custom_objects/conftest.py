"""Helpers for the custom object tests: a team with an object and fields of every type."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from tests.conftest import Team, make_team

#: One field of each storable type, and a value of it (as sent and as read back).
FIELDS: dict[str, dict[str, Any]] = {
    "note": {"type": "text"},
    "body": {"type": "long_text"},
    "hours": {"type": "integer"},
    "ratio": {"type": "decimal", "precision": 10, "scale": 3},
    "fee": {"type": "currency"},
    "share": {"type": "percent"},
    "due": {"type": "date"},
    "starts": {"type": "datetime"},
    "billable": {"type": "boolean"},
    "stage": {
        "type": "picklist",
        "options": [{"value": "new"}, {"value": "won"}, {"value": "old", "active": False}],
    },
    "tags": {"type": "multi_picklist", "options": [{"value": "a"}, {"value": "b"}, {"value": "c"}]},
    "site": {"type": "url"},
    "mail": {"type": "email"},
    "tel": {"type": "phone"},
}


def uniq(prefix: str = "o") -> str:
    return f"{prefix}_{secrets.token_hex(3)}"


async def new_object(team: Team, api_name: str | None = None, **extra: Any) -> dict[str, Any]:
    name = api_name or uniq("proj")
    r = await team.post(
        "/api/v1/metadata/objects",
        json={"api_name": name, "label": "Project", "plural_label": "Projects", **extra},
    )
    assert r.status_code == 201, r.text
    return r.json()


async def new_field(team: Team, obj: str, api_name: str, **spec: Any) -> dict[str, Any]:
    body = {"api_name": api_name, "label": api_name.replace("_", " ").title(), **spec}
    r = await team.post(f"/api/v1/metadata/objects/{obj}/fields", json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def new_record(team: Team, obj: str, **values: Any) -> dict[str, Any]:
    r = await team.post(f"/api/v1/objects/{obj}", json={"name": uniq("rec"), **values})
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture(scope="module")
async def admin(http: httpx.AsyncClient) -> Team:
    return await make_team(http)


@pytest.fixture(scope="module")
async def typed(admin: Team) -> str:
    """A custom object with a field of every type (api name returned)."""
    obj = (await new_object(admin))["api_name"]
    for name, spec in FIELDS.items():
        await new_field(admin, obj, name, **spec)
    return obj
