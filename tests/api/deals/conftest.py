"""Helpers for the deal tests: a team's default pipeline, deal factories, superuser SQL."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.records.conftest import Sql, db, new_contact, new_lead, uniq  # noqa: F401
from tests.conftest import Team


async def default_pipeline(team: Team) -> dict[str, Any]:
    r = await team.get("/api/v1/pipelines")
    assert r.status_code == 200, r.text
    found = [p for p in r.json()["data"] if p["is_default"]]
    assert len(found) == 1, r.json()
    return found[0]


async def new_deal(team: Team, **values: Any) -> dict[str, Any]:
    r = await team.post("/api/v1/deals", json={"name": uniq("Deal "), **values})
    assert r.status_code == 201, r.text
    return r.json()


async def move(team: Team, deal_id: str, stage: str, **body: Any) -> Any:
    headers = body.pop("headers", {})
    return await team.post(
        f"/api/v1/deals/{deal_id}/move", json={"stage": stage, **body}, headers=headers
    )


@pytest.fixture
def sql(db: Any) -> Sql:  # noqa: F811
    return Sql(db)
