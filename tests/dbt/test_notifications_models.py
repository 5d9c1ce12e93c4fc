"""The notification staging models against the test database: notifications made from a lead
assignment through the API (with an email delivery), one `dbt build` of the staging views and
their data tests, then what the views show (and what they keep out)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from psycopg.rows import dict_row

from tests.api.notifications.conftest import (  # noqa: F401 - fixtures
    add_member,
    notification_worker,
    services,
    wait_for_notification,
)
from tests.conftest import make_team
from warehouse.db import connect_as
from warehouse.dbt import dbt_env, run_dbt

# One worker runs this module (`--dist loadgroup`): one dbt build, never two at once.
pytestmark = pytest.mark.xdist_group("notifications_dbt")

SELECT = [
    "stg_app__notifications",
    "stg_app__notification_deliveries",
    "stg_app__notification_preferences",
    "stg_app__notification_settings",
    "stg_app__watches",
    "stg_app__push_subscriptions",
    "stg_app__realtime_tickets",
]


def rows(url: str, sql: str, *args: Any) -> list[dict[str, Any]]:
    with connect_as(url, "leadly_analytics") as conn:
        return list(conn.cursor(row_factory=dict_row).execute(sql, args))


@pytest.fixture(scope="module")
async def world(
    http: Any,
    database_url: str,
    notification_worker: Any,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[dict[str, Any]]:
    owner = await make_team(http, "Notify A")
    rep = await add_member(owner)
    r = await rep.request(
        "PUT",
        "/api/v1/notification-preferences",
        json={"types": {"lead_assigned": {"email": True}}, "phone": "+15550009999"},
    )
    assert r.status_code == 200, r.text
    r = await rep.post(
        "/api/v1/watches", json={"target_type": "member", "target_id": owner.member_id}
    )
    assert r.status_code == 201, r.text
    r = await owner.post(
        "/api/v1/leads", json={"first_name": "Dbt", "last_name": "Lead", "owner_id": rep.member_id}
    )
    lead_id = r.json()["id"]
    n = await wait_for_notification(rep, lambda n: n["related_to_id"] == lead_id)
    assert (await rep.post("/api/v1/realtime/tickets")).status_code == 201
    tmp: Path = tmp_path_factory.mktemp("dbt_notifications")
    env = dbt_env(target_path=tmp / "target", log_path=tmp / "logs")
    run_dbt(["build", "--select", *SELECT], env=env)  # views and their data tests
    yield {"url": database_url, "rep": rep, "notification": n}


def test_staging_views(world: dict[str, Any]) -> None:
    url, rep, n = world["url"], world["rep"], world["notification"]
    (row,) = rows(
        url,
        "SELECT * FROM analytics_staging.stg_app__notifications WHERE notification_id = %s",
        n["id"],
    )
    assert row["notification_type"] == "lead_assigned" and row["member_id"] == rep.member_id
    assert row["is_read"] is False and row["source_key"].startswith("evt:")
    deliveries = rows(
        url,
        "SELECT * FROM analytics_staging.stg_app__notification_deliveries "
        "WHERE notification_id = %s",
        n["id"],
    )
    assert [d["channel"] for d in deliveries] == ["email"]
    (settings,) = rows(
        url,
        "SELECT * FROM analytics_staging.stg_app__notification_settings WHERE member_id = %s",
        rep.member_id,
    )
    assert settings["has_phone"] is True and "phone" not in settings
    (ticket,) = rows(
        url,
        "SELECT * FROM analytics_staging.stg_app__realtime_tickets WHERE member_id = %s",
        rep.member_id,
    )
    assert "token_hash" not in ticket
    assert rows(
        url,
        "SELECT * FROM analytics_staging.stg_app__watches WHERE member_id = %s",
        rep.member_id,
    )
