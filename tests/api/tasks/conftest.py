"""Helpers for the task API tests: task factories, members with time zones, superuser SQL."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.records.conftest import Sql, add_member, db, sql  # noqa: F401
from tests.conftest import Team, assert_problem

__all__ = ["Sql", "add_member", "assert_problem", "depend", "new_task", "set_zone"]


async def new_task(team: Team, **values: Any) -> dict[str, Any]:
    r = await team.post("/api/v1/tasks", json={"title": "Call back", **values})
    assert r.status_code == 201, r.text
    return r.json()


async def set_zone(team: Team, member_id: str, zone: str) -> None:
    r = await team.patch(f"/api/v1/members/{member_id}", json={"time_zone": zone})
    assert r.status_code == 200, r.text


async def task(team: Team, id: str) -> dict[str, Any]:
    r = await team.get(f"/api/v1/tasks/{id}")
    assert r.status_code == 200, r.text
    return r.json()


async def depend(team: Team, task_id: str, on: str, type_: str | None = None) -> httpx.Response:
    """POST "``task_id`` depends on ``on``" (the default type unless ``type_``)."""
    body = {"depends_on_task_id": on} | ({"type": type_} if type_ else {})
    return await team.post(f"/api/v1/tasks/{task_id}/dependencies", json=body)
