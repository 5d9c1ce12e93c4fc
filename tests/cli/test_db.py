"""``leadly db current | upgrade | downgrade`` as a real process, on databases holding data."""

from __future__ import annotations

import psycopg
from alembic.script import ScriptDirectory

from tests.cli.conftest import ok, run_leadly
from tests.conftest import Team
from warehouse.migrate import MIGRATIONS

SMALL_DEMO = ["--leads", "6", "--accounts", "2", "--contacts", "3", "--calls", "4"]


def _head_and_previous() -> tuple[str, str | None]:
    script = ScriptDirectory(str(MIGRATIONS))
    head = script.get_current_head()
    assert head is not None
    down = script.get_revision(head).down_revision
    assert down is None or isinstance(down, str), "expected a linear history"
    return head, down


def _count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(f"SELECT count(*) FROM app.{table}").fetchone()[0]


async def test_current_and_upgrade_keep_the_test_databases_data(
    team: Team, cli_env: dict[str, str]
) -> None:
    r = await team.post("/api/v1/leads", json={"first_name": "Ada", "email": "ada@db-cli.io"})
    assert r.status_code == 201, r.text
    head, _ = _head_and_previous()

    assert ok(run_leadly("db", "current", env=cli_env)).strip() == f"{head} (head)"
    assert head in ok(run_leadly("db", "upgrade", env=cli_env))  # already at head: no-op

    r = await team.get(f"/api/v1/leads/{r.json()['id']}")
    assert r.status_code == 200 and r.json()["email"] == "ada@db-cli.io"


def test_downgrade_then_upgrade_a_database_holding_data(
    spare_database: str, cli_env: dict[str, str]
) -> None:
    env = {**cli_env, "LEADLY_DATABASE_URL": spare_database}
    head, previous = _head_and_previous()
    at = "Database at {}.".format

    assert ok(run_leadly("db", "current", env=env)).strip() == "base"
    assert ok(run_leadly("db", "upgrade", "head", env=env)).strip() == at(f"{head} (head)")
    ok(run_leadly("seed", "--demo", *SMALL_DEMO, env=env))  # rows, through the services
    assert _count(spare_database, "leads") == 6

    # Default: one step down. The rows must survive the last migration going down and up.
    assert ok(run_leadly("db", "downgrade", env=env)).strip() == at(previous or "base")
    if previous is not None:
        assert _count(spare_database, "leads") == 6
    assert ok(run_leadly("db", "upgrade", env=env)).strip() == at(f"{head} (head)")
    if previous is not None:
        assert _count(spare_database, "leads") == 6
    else:  # down to base dropped every table (expected); the rebuilt schema takes data again
        assert _count(spare_database, "leads") == 0
        ok(run_leadly("seed", "--demo", *SMALL_DEMO, env=env))
        assert _count(spare_database, "leads") == 6


# The head the first data-platform release shipped; every later migration must go down to it and
# back up again on a database that holds data (demo leads, deals, calls made through the services).
RELEASED_HEAD = "47487ac92e2f"


def test_every_later_migration_goes_down_and_up_on_a_database_holding_data(
    spare_database: str, cli_env: dict[str, str]
) -> None:
    env = {**cli_env, "LEADLY_DATABASE_URL": spare_database}
    head, _ = _head_and_previous()
    ok(run_leadly("db", "upgrade", env=env))
    ok(run_leadly("seed", "--demo", *SMALL_DEMO, env=env))
    assert _count(spare_database, "leads") == 6

    down = ok(run_leadly("db", "downgrade", RELEASED_HEAD, env=env)).strip()
    assert down == f"Database at {RELEASED_HEAD}."
    assert _count(spare_database, "leads") == 6
    up = ok(run_leadly("db", "upgrade", env=env)).strip()
    assert up == f"Database at {head} (head)."
    assert _count(spare_database, "leads") == 6
    with psycopg.connect(spare_database) as conn:  # existing teams get their default pipeline
        teams, pipelines = conn.execute(
            "SELECT (SELECT count(*) FROM app.teams),"
            " (SELECT count(*) FROM app.pipelines WHERE is_default)"
        ).fetchone()
    assert teams == pipelines > 0


def test_members_are_verified_by_the_email_verification_upgrade(
    spare_database: str, cli_env: dict[str, str]
) -> None:
    """cb0681b4340e: nobody is locked out (existing members are verified logins); going down
    refuses, naming it, an address that two members hold (the old schema allowed one)."""
    env = {**cli_env, "LEADLY_DATABASE_URL": spare_database}
    before = ScriptDirectory(str(MIGRATIONS)).get_revision("cb0681b4340e").down_revision
    ok(run_leadly("db", "upgrade", str(before), env=env))
    member = (
        "INSERT INTO app.team_members (team_id, id, email, email_normalized, name, role_id) "
        "VALUES (%s, %s, 'Ada@Old.io', 'ada@old.io', 'Ada', %s)"
    )
    with psycopg.connect(spare_database, autocommit=True) as conn:  # a superuser: no RLS
        for t in ("team_a", "team_b"):
            conn.execute("INSERT INTO app.teams (id, name, slug) VALUES (%s, %s, %s)", (t, t, t))
            conn.execute(
                "INSERT INTO app.roles (team_id, id, key, name) VALUES (%s, %s, 'owner', 'O')",
                (t, f"role_{t}"),
            )
        conn.execute(member, ("team_a", "mem_a", "role_team_a"))
    ok(run_leadly("db", "upgrade", env=env))
    with psycopg.connect(spare_database, autocommit=True) as conn:
        verified = conn.execute(
            "SELECT email_verified_at IS NOT NULL FROM app.team_members WHERE id = 'mem_a'"
        ).fetchone()
        assert verified == (True,)
        login = conn.execute("SELECT member_id FROM app.auth_login_lookup('ada@old.io')")
        assert login.fetchall() == [("mem_a",)]
        conn.execute(member, ("team_b", "mem_b", "role_team_b"))  # unverified: allowed now
    refused = run_leadly("db", "downgrade", str(before), env=env)
    assert refused.returncode != 0 and "ada@old.io" in refused.stdout + refused.stderr
    with psycopg.connect(spare_database, autocommit=True) as conn:
        conn.execute("DELETE FROM app.team_members WHERE id = 'mem_b'")
    ok(run_leadly("db", "downgrade", str(before), env=env))
    ok(run_leadly("db", "upgrade", env=env))
