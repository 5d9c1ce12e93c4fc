"""``leadly seed --demo``: a small demo team through the domain services, each row with its
event, every role present, and a second run that changes nothing."""

from __future__ import annotations

import httpx
import pytest

from api.seed.demo import MEMBERS, OUTCOMES, SOURCES, STATUSES, _Generator
from leadly.settings import get_settings
from tests.cli.conftest import ok, run_leadly
from warehouse.db import connect_as

SIZES = {"leads": 60, "accounts": 6, "contacts": 15, "calls": 40}
# table -> object_type of its events
# The orchestration tests reuse this demo team (one demo owner per database): same xdist
# group, and this file is collected first, so it always seeds it.
pytestmark = pytest.mark.xdist_group("orchestration")

TABLES = {
    "team_members": "member",
    "accounts": "account",
    "contacts": "contact",
    "leads": "lead",
    "call_logs": "call_log",
}


def _counts(conn, team_id: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {
        t: conn.execute(f"SELECT count(*) FROM app.{t} WHERE team_id = %s", (team_id,)).fetchone()[
            0
        ]
        for t in TABLES
    }


async def test_seed_demo(
    http: httpx.AsyncClient, cli_env: dict[str, str], database_url: str
) -> None:
    args = ["seed", "--demo"] + [f"--{k}={v}" for k, v in SIZES.items()]
    out = ok(run_leadly(*args, env=cli_env))
    assert "Demo login: demo@leadly.dev" in out

    s = get_settings()
    with connect_as(database_url, s.worker_db_role) as conn:
        team_id = conn.execute(
            "SELECT team_id FROM app.team_members WHERE email = 'demo@leadly.dev'"
        ).fetchone()[0]
        roles = dict(
            conn.execute(
                "SELECT r.key, count(*) FROM app.team_members m JOIN app.roles r "
                "ON r.team_id = m.team_id AND r.id = m.role_id WHERE m.team_id = %s GROUP BY 1",
                (team_id,),
            ).fetchall()
        )
        assert set(roles) == {"owner", "admin", "manager", "user", "guest"}
        counts = _counts(conn, team_id)
        assert counts == {
            "team_members": len(MEMBERS),
            "accounts": SIZES["accounts"],
            "contacts": SIZES["contacts"],
            "leads": SIZES["leads"],
            "call_logs": SIZES["calls"],
        }
        for table, object_type in TABLES.items():
            missing = conn.execute(
                f"SELECT count(*) FROM app.{table} t WHERE t.team_id = %s AND NOT EXISTS ("
                "SELECT 1 FROM app.events e WHERE e.team_id = t.team_id AND e.object_id = t.id "
                "AND e.object_type = %s AND e.action = 'created')",
                (team_id, object_type),
            ).fetchone()[0]
            assert missing == 0, f"{missing} {table} rows have no 'created' event"
        leads = conn.execute(
            "SELECT status, source, rating, website_score, owner_id, company_name, location "
            "FROM app.leads WHERE team_id = %s",
            (team_id,),
        ).fetchall()
        guest = conn.execute(
            "SELECT m.id FROM app.team_members m JOIN app.roles r ON r.team_id = m.team_id "
            "AND r.id = m.role_id WHERE m.team_id = %s AND r.key = 'guest'",
            (team_id,),
        ).fetchone()[0]
        assert {row[0] for row in leads} <= set(STATUSES)
        assert {row[1] for row in leads} <= set(SOURCES)
        assert all(row[2] is None or 1 <= row[2] <= 5 for row in leads)
        assert all(row[3] is None or 0 <= row[3] <= 100 for row in leads)
        assert all(row[4] and row[4] != guest for row in leads)
        assert all(row[5] and row[6] for row in leads)
        assert len({row[4] for row in leads}) > 1, "owners are spread over the reps"
        orphans = conn.execute(
            "SELECT count(*) FROM app.contacts WHERE team_id = %s AND account_id IS NULL",
            (team_id,),
        ).fetchone()[0]
        assert orphans == 0
        calls = conn.execute(
            "SELECT outcome, duration, transcript, ai_suggestions FROM app.call_logs "
            "WHERE team_id = %s",
            (team_id,),
        ).fetchall()
        assert {c[0] for c in calls} <= set(OUTCOMES)
        assert all(c[1] >= 0 for c in calls)
        assert all((c[2] is None) == (c[3] is None) for c in calls)

    for _role, _name, email in MEMBERS:  # every member signs in with the demo password
        r = await http.post(
            "/api/v1/auth/login", json={"email": email, "password": s.demo_password}
        )
        assert r.status_code == 200, (email, r.text)

    again = ok(run_leadly(*args, env=cli_env))
    assert "already exists" in again
    with connect_as(database_url, s.worker_db_role) as conn:
        assert _counts(conn, team_id) == counts


def test_demo_content_is_deterministic() -> None:
    reps = {"mem_01JAAAAAAAAAAAAAAAAAAAAAAA": "user", "mem_01JBBBBBBBBBBBBBBBBBBBBBBB": "manager"}
    names = {mid: "Rep Name" for mid in reps}

    def content() -> list[dict[str, object]]:
        gen = _Generator(7, reps, names)
        accounts = gen.accounts(5)
        contacts = gen.contacts(8, [v for _, v in accounts])
        leads = gen.leads(20)
        calls = gen.calls(10, [v for _, v in leads], [v for _, v in contacts])
        strip = ("id", "account_id", "lead_id", "contact_id", "started_at")
        return [
            {k: v for k, v in values.items() if k not in strip}
            for _, values in accounts + contacts + leads + calls
        ]

    assert content() == content()


@pytest.mark.parametrize("args", [["seed"], ["seed", "--leads=-1", "--demo"]])
def test_seed_needs_demo_and_sane_sizes(args: list[str], cli_env: dict[str, str]) -> None:
    assert run_leadly(*args, env=cli_env).returncode == 2
