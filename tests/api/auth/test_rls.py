"""Row-level security, proven directly in the database as the API role.

The API role sees only the rows of the team named in ``app.team_id``, whatever the query; with no
team set it sees nothing; it cannot write rows into another team, cannot change the event log,
and owns no table (so it can neither switch RLS off nor escape FORCE ROW LEVEL SECURITY).
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from api.auth.emails import normalize_email
from leadly.settings import get_settings
from tests.api.auth.conftest import sql
from tests.conftest import Team
from warehouse.db import connect_as


@pytest.fixture
def api_conn(database_url: str) -> Iterator[psycopg.Connection]:
    with connect_as(database_url, get_settings().api_db_role) as conn:
        yield conn


@pytest.fixture
async def two_teams_with_leads(team: Team, other_team: Team) -> tuple[Team, Team]:
    for t, n in ((team, 2), (other_team, 3)):
        for i in range(n):
            r = await t.post("/api/v1/leads", json={"first_name": f"L{i}"})
            assert r.status_code == 201, r.text
    return team, other_team


def set_team(conn: psycopg.Connection, team_id: str) -> None:
    conn.execute("SELECT set_config('app.team_id', %s, false)", (team_id,))


def count(conn: psycopg.Connection, table: str) -> int:
    return conn.execute(f"SELECT count(*) FROM app.{table}").fetchone()[0]  # type: ignore[index]


def test_connection_runs_as_the_api_role(api_conn: psycopg.Connection) -> None:
    role = api_conn.execute("SELECT current_user").fetchone()[0]  # type: ignore[index]
    assert role == get_settings().api_db_role
    row = api_conn.execute(
        "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    assert row == (False, False)


async def test_api_role_sees_only_its_teams_rows(
    api_conn: psycopg.Connection, two_teams_with_leads: tuple[Team, Team]
) -> None:
    a, b = two_teams_with_leads
    # Superuser view: both teams have rows.
    [(total,)] = sql(
        "SELECT count(*) FROM app.leads WHERE team_id IN (%s, %s)", a.team_id, b.team_id
    )
    assert total == 5
    set_team(api_conn, a.team_id)
    assert count(api_conn, "leads") == 2
    assert count(api_conn, "team_members") == 1
    assert count(api_conn, "teams") == 1
    assert count(api_conn, "sessions") == 1
    members = api_conn.execute("SELECT DISTINCT team_id FROM app.team_members").fetchall()
    assert members == [(a.team_id,)]
    events = api_conn.execute("SELECT DISTINCT team_id FROM app.events").fetchall()
    assert events == [(a.team_id,)]
    # An explicit filter on the other team finds nothing either.
    n = api_conn.execute("SELECT count(*) FROM app.leads WHERE team_id = %s", (b.team_id,))
    assert n.fetchone()[0] == 0  # type: ignore[index]
    set_team(api_conn, b.team_id)
    assert count(api_conn, "leads") == 3


async def test_without_team_the_api_role_sees_nothing(
    api_conn: psycopg.Connection, two_teams_with_leads: tuple[Team, Team]
) -> None:
    for table in (
        "leads",
        "team_members",
        "teams",
        "sessions",
        "api_keys",
        "invitations",
        "email_verifications",
        "roles",
        "events",
        "contacts",
        "accounts",
    ):
        assert count(api_conn, table) == 0, table
    set_team(api_conn, "")
    assert count(api_conn, "leads") == 0


async def test_writes_into_another_team_are_rejected(
    api_conn: psycopg.Connection, team: Team, other_team: Team
) -> None:
    set_team(api_conn, team.team_id)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        api_conn.execute(
            "INSERT INTO app.leads (team_id, id, first_name) VALUES (%s, 'lead_rls_x', 'x')",
            (other_team.team_id,),
        )
    api_conn.rollback()
    set_team(api_conn, team.team_id)
    # Moving a visible row into another team is rejected as well.
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        api_conn.execute(
            "UPDATE app.team_members SET team_id = %s WHERE id = %s",
            (other_team.team_id, team.member_id),
        )
    api_conn.rollback()
    # Another team's rows cannot be changed or deleted: they are simply not there.
    set_team(api_conn, team.team_id)
    cur = api_conn.execute(
        "UPDATE app.team_members SET name = 'pwned' WHERE id = %s", (other_team.member_id,)
    )
    assert cur.rowcount == 0
    cur = api_conn.execute("DELETE FROM app.sessions WHERE team_id = %s", (other_team.team_id,))
    assert cur.rowcount == 0
    api_conn.commit()
    [(name,)] = sql("SELECT name FROM app.team_members WHERE id = %s", other_team.member_id)
    assert name != "pwned"


async def test_events_are_append_only(api_conn: psycopg.Connection, team: Team) -> None:
    set_team(api_conn, team.team_id)
    assert count(api_conn, "events") > 0
    for stmt in (
        "UPDATE app.events SET action = 'x'",
        "DELETE FROM app.events",
        "TRUNCATE app.events",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            api_conn.execute(stmt)
        api_conn.rollback()
        set_team(api_conn, team.team_id)
    [(n,)] = sql(
        "SELECT count(*) FROM app.events WHERE team_id = %s AND action = 'x'", team.team_id
    )
    assert n == 0


def test_events_are_append_only_even_for_the_owner(database_url: str) -> None:
    with connect_as(database_url) as conn:
        conn.execute(f"SET ROLE {get_settings().owner_db_role}")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute("DELETE FROM app.events")


def test_api_role_owns_nothing(api_conn: psycopg.Connection) -> None:
    role = get_settings().api_db_role
    owned = api_conn.execute(
        "SELECT schemaname, tablename FROM pg_tables WHERE tableowner = %s", (role,)
    ).fetchall()
    assert owned == []
    owned = api_conn.execute(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE pg_get_userbyid(c.relowner) = %s",
        (role,),
    ).fetchall()
    assert owned == []
    fns = api_conn.execute(
        "SELECT proname FROM pg_proc WHERE pg_get_userbyid(proowner) = %s", (role,)
    ).fetchall()
    assert fns == []
    schemas = api_conn.execute(
        "SELECT nspname FROM pg_namespace WHERE pg_get_userbyid(nspowner) = %s", (role,)
    ).fetchall()
    assert schemas == []


def test_every_app_table_forces_rls(database_url: str) -> None:
    rows = sql(
        "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'app' AND c.relkind = 'r' AND c.relname <> 'alembic_version'"
        " AND EXISTS (SELECT 1 FROM information_schema.columns i WHERE i.table_schema = 'app'"
        "   AND i.table_name = c.relname AND i.column_name IN ('team_id'))"
    )
    assert rows
    for name, enabled, forced in rows:
        assert enabled and forced, name


def test_api_role_cannot_disable_rls(api_conn: psycopg.Connection) -> None:
    for stmt in (
        "ALTER TABLE app.leads DISABLE ROW LEVEL SECURITY",
        "ALTER TABLE app.leads NO FORCE ROW LEVEL SECURITY",
        "DROP POLICY tenant_isolation ON app.leads",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            api_conn.execute(stmt)
        api_conn.rollback()


def test_api_connection_cannot_switch_to_another_role(api_conn: psycopg.Connection) -> None:
    owner = get_settings().owner_db_role
    session_user = api_conn.execute("SELECT session_user").fetchone()[0]  # type: ignore[index]
    assert session_user == get_settings().api_db_role
    supers = [r for (r,) in api_conn.execute("SELECT rolname FROM pg_roles WHERE rolsuper")]
    for role in (owner, *supers):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            api_conn.execute(f'SET ROLE "{role}"')
        api_conn.rollback()


async def test_auth_lookups_reveal_only_what_auth_needs(
    api_conn: psycopg.Connection, team: Team
) -> None:
    # The SECURITY DEFINER look-ups run without a team, keyed by a secret (or the login email,
    # normalised by the caller).
    row = api_conn.execute(
        "SELECT * FROM app.auth_login_lookup(%s)", (normalize_email(team.email.upper()),)
    ).fetchone()
    assert row is not None and row[0] == team.team_id
    assert (
        api_conn.execute("SELECT * FROM app.auth_session_lookup(%s)", (b"not a hash",)).fetchall()
        == []
    )
    # ... and the API role cannot read the credential tables directly without a team.
    assert count(api_conn, "sessions") == 0
