"""The task views are index look-ups under row-level security (checked by EXPLAIN as the API
role), and every index of the task tables leads with team_id."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from api.common.listing import parse_params
from api.tasks.service import task_service
from leadly.actor import Actor
from tests.api.tasks.conftest import Sql
from tests.plugin import explain_as_api, index_first_columns

TEAM = f"team_task_explain_{secrets.token_hex(4)}"
TABLES = (
    "tasks",
    "task_assignees",
    "task_dependencies",
    "time_logs",
    "task_reminders",
    "member_task_settings",
    "calendar_feeds",
)


@pytest.fixture(scope="module")
async def stats(db: Any) -> None:
    sql = Sql(db)
    await sql.exec("INSERT INTO app.teams (id, name, slug) VALUES (%s, 'E', %s)", TEAM, TEAM)
    await sql.exec(
        """INSERT INTO app.tasks (team_id, id, title, status, priority, due_at, assignee_ids,
                                  related_to_type, related_to_id, created_at)
        SELECT %s, 'task_x' || g, 'T',
               (ARRAY['todo','in_progress','waiting','completed'])[1 + g %% 4],
               (ARRAY['low','medium','high','urgent'])[1 + g %% 4],
               now() + g * interval '1 hour', ARRAY['mem_' || (g %% 50)],
               'lead', 'lead_' || (g %% 500), now() - g * interval '1 min'
        FROM generate_series(1, 5000) g""",
        TEAM,
    )
    for t in ("tasks", "task_assignees"):
        await sql.exec(f"ANALYZE app.{t}")


async def plan(sql: Sql, query: dict[str, str], member: str = "mem_explain") -> list[dict]:
    actor = Actor(team_id=TEAM, member_id=member, role="owner")
    params = parse_params(query)
    kept = []
    where = []
    for name, op, raw in params.filters:  # the service's own rewrite of the views
        if name == "assignee_ids":
            where.append(task_service._assigned_to(actor, raw))
        else:
            kept.append((name, op, raw))
    params = type(params)(tuple(kept), params.sort, params.fields, params.limit, params.cursor)
    stmt, _ = task_service.lister.apply(task_service._scoped(actor).where(*where), params)
    return await explain_as_api(sql.conn, stmt.order_by(None).limit(None), TEAM)


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ({"filter[assignee_ids__contains]": "mem_7"}, "pk_task_assignees"),
        ({"filter[status]": "todo"}, "ix_tasks_team_status"),
        (
            {"filter[related_to_type]": "lead", "filter[related_to_id]": "lead_3"},
            "ix_tasks_team_related",
        ),
        ({"filter[due_at__lt]": "2020-01-01T00:00:00Z"}, "ix_tasks_team_due"),
        ({"filter[parent_task_id]": "task_x1"}, "ix_tasks_team_parent"),
    ],
)
async def test_views_use_team_indexes(stats: None, sql: Sql, query: dict, index: str) -> None:
    nodes = await plan(sql, query)
    used = [n for n in nodes if n.get("Index Name") == index]
    assert used, [(n["Node Type"], n.get("Index Name")) for n in nodes]
    assert "team_id" in used[0]["Index Cond"]


async def test_every_index_leads_with_team_id(sql: Sql) -> None:
    rows = await index_first_columns(sql.conn, TABLES)
    assert len(rows) >= 15
    # The feed token look-up happens before any team is known (like session tokens).
    odd = [r for r in rows if r["first_column"] != "team_id"]
    assert [r["index"] for r in odd] == ["uq_calendar_feeds_token_hash"]
