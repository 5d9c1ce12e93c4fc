"""One built warehouse for the reports tests: two teams' records written through the API, the
semantic layer's models built once by dbt (the slow part), then every test reads them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.api.auth.conftest import add_member
from tests.conftest import Team, make_team

SEMANTIC_MODELS = [
    "rpt_sem_leads",
    "rpt_sem_deals",
    "rpt_sem_calls",
    "rpt_sem_tasks",
    "rpt_sem_activities",
    "rpt_sem_stage_exits",
    "rpt_sem_forecast",
]


@dataclass
class World:
    url: str
    a: Team
    b: Team
    guest: Team
    user: Team
    today: str
    week_ago: str
    env: dict[str, str]

    def sql(self, query: str, *args: Any) -> list[dict[str, Any]]:
        with psycopg.connect(self.url, row_factory=dict_row) as conn:
            return conn.execute(query, args).fetchall()


async def ok(r: Any, status: int = 201) -> dict[str, Any]:
    assert r.status_code == status, r.text
    return r.json()


async def seed(team: Team, n_web: int, n_referral: int) -> None:
    """Leads (some converted, one without a source), deals (open, won, lost), calls, tasks
    and a logged note, all owned by the team's owner."""
    leads = []
    for i in range(n_web):
        leads.append(
            await ok(
                await team.post(
                    "/api/v1/leads",
                    json={"first_name": f"W{i}", "source": "web", "owner_id": team.member_id},
                )
            )
        )
    for i in range(n_referral):
        leads.append(
            await ok(
                await team.post(
                    "/api/v1/leads",
                    json={"first_name": f"R{i}", "source": "referral", "status": "contacted"},
                )
            )
        )
    await ok(
        await team.post(
            "/api/v1/leads", json={"first_name": "=cmd|' /C calc'!A0", "source": "=HYPERLINK(1)"}
        )
    )
    await ok(await team.post(f"/api/v1/leads/{leads[0]['id']}/convert", json={}))

    def deal(**v: Any) -> Any:
        return team.post("/api/v1/deals", json={"name": "D", "owner_id": team.member_id, **v})

    await ok(await deal(value="1000"))
    await ok(await deal(value="250.50", stage="negotiation", expected_close_date="2031-01-31"))
    won = await ok(await deal(value="500"))
    lost = await ok(await deal(value="70"))
    await ok(
        await team.post(
            f"/api/v1/deals/{won['id']}/move", json={"stage": "won", "win_reason": "Fit"}
        ),
        200,
    )
    await ok(
        await team.post(
            f"/api/v1/deals/{lost['id']}/move", json={"stage": "lost", "loss_reason": "Price"}
        ),
        200,
    )
    for outcome in ("connected", "voicemail", "connected"):
        await ok(
            await team.post(
                "/api/v1/call-logs",
                json={
                    "lead_id": leads[0]["id"],
                    "member_id": team.member_id,
                    "duration": 120,
                    "outcome": outcome,
                },
            )
        )
    t1 = await ok(
        await team.post(
            "/api/v1/tasks", json={"title": "Call back", "assignee_ids": [team.member_id]}
        )
    )
    await ok(
        await team.post(
            "/api/v1/tasks", json={"title": "Send deck", "assignee_ids": [team.member_id]}
        )
    )
    await ok(await team.patch(f"/api/v1/tasks/{t1['id']}", json={"status": "completed"}), 200)
    await ok(
        await team.post(
            "/api/v1/activities",
            json={
                "type": "note",
                "related_to_type": "lead",
                "related_to_id": leads[0]["id"],
                "subject": "Met",
            },
        )
    )


@pytest.fixture(scope="package")
async def world(http: Any, database_url: str, tmp_path_factory: pytest.TempPathFactory) -> World:
    from warehouse.dbt import dbt_env, run_dbt

    url = os.environ["LEADLY_DATABASE_URL"]
    a, b = await make_team(http, "Reports A"), await make_team(http, "Reports B")
    await seed(a, n_web=3, n_referral=2)
    await seed(b, n_web=1, n_referral=0)
    # One of team A's leads was created a year ago (comparisons, date filters).
    old = await ok(await a.post("/api/v1/leads", json={"first_name": "Old", "source": "web"}))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "UPDATE app.leads SET created_at = created_at - interval '1 year' WHERE team_id = %s AND id = %s",
            (a.team_id, old["id"]),
        )
    guest, user = await add_member(a, "guest"), await add_member(a, "user")
    tmp: Path = tmp_path_factory.mktemp("dbt_reports")
    env = dbt_env(target_path=tmp / "target", log_path=tmp / "logs")
    run_dbt(["build", "--select", *(f"+{m}" for m in SEMANTIC_MODELS)], env=env)
    now = datetime.now(UTC).date()
    return World(
        url, a, b, guest, user, now.isoformat(), (now - timedelta(days=7)).isoformat(), env
    )
