"""team_members.email_normalized: one normalisation of login emails (NFKC case folding)

Revision ID: c1d2e3f4a5b6
Revises: b0c1d2e3f4a5
Create Date: 2026-12-07 12:00:00.000000

Login matched ``lower(email)`` in SQL while the login throttle keyed on Python's ``str.lower()``:
an address that PostgreSQL lowers to a member's email but Python does not (``aadmİn@...``,
U+0130) reached the account through a fresh throttle counter. Now Python normalises once
(``api.auth.emails.normalize_email``: NFKC case folding) and the database keeps the result in
``email_normalized``, unique across Leadly; ``app.auth_login_lookup`` compares it with its
argument, which callers normalise.

The upgrade fills the column for existing members (in Python, the same function, frozen here)
and refuses, naming them, if two existing logins fold to the same address.
"""

from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from alembic import op

from warehouse.db import Roles

revision = "c1d2e3f4a5b6"
down_revision = "b0c1d2e3f4a5"
branch_labels = None
depends_on = None

LOOKUP = """
CREATE FUNCTION app.auth_login_lookup(p_email text)
RETURNS TABLE (team_id text, member_id text, password_hash text, is_active boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, app AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY SELECT m.team_id, m.id, m.password_hash, m.is_active
  FROM app.team_members m WHERE m.email_normalized = p_email
;
END $$"""

OLD_LOOKUP = """
CREATE FUNCTION app.auth_login_lookup(p_email text)
RETURNS TABLE (team_id text, member_id text, password_hash text, is_active boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, app AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY SELECT m.team_id, m.id, m.password_hash, m.is_active
  FROM app.team_members m WHERE lower(m.email) = lower(p_email)
;
END $$"""


def _normalize(email: str) -> str:  # api.auth.emails.normalize_email as of this revision
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", email.strip()).casefold())


def _roles() -> Roles:
    return op.get_context().config.attributes["roles"]


def _lookup(sql: str) -> None:
    r = _roles()
    x = op.execute
    x("DROP FUNCTION app.auth_login_lookup(text)")
    x(sql)
    x(f"GRANT CREATE ON SCHEMA app TO {r.auth}")  # needed only to take ownership
    x(f"ALTER FUNCTION app.auth_login_lookup(text) OWNER TO {r.auth}")
    x("REVOKE ALL ON FUNCTION app.auth_login_lookup(text) FROM PUBLIC")
    x(f"GRANT EXECUTE ON FUNCTION app.auth_login_lookup(text) TO {r.api}")
    x(f"REVOKE CREATE ON SCHEMA app FROM {r.auth}")


def upgrade() -> None:
    conn = op.get_bind()
    op.add_column("team_members", sa.Column("email_normalized", sa.Text()), schema="app")
    # Every team's members (row-level security is forced on the table, also for its owner).
    conn.execute(sa.text("ALTER TABLE app.team_members NO FORCE ROW LEVEL SECURITY"))
    rows = conn.execute(sa.text("SELECT team_id, id, email FROM app.team_members")).all()
    seen: dict[str, str] = {}
    clashes: list[str] = []
    for team_id, member_id, email in rows:
        key = _normalize(email)
        if key in seen:
            clashes.append(f"{seen[key]} and {email}")
        seen[key] = email
        conn.execute(
            sa.text(
                "UPDATE app.team_members SET email_normalized = :n WHERE team_id = :t AND id = :i"
            ),
            {"n": key, "t": team_id, "i": member_id},
        )
    conn.execute(sa.text("ALTER TABLE app.team_members FORCE ROW LEVEL SECURITY"))
    if clashes:
        raise RuntimeError(
            "These logins fold to the same address; change one of each pair first: "
            + "; ".join(clashes)
        )
    op.alter_column("team_members", "email_normalized", nullable=False, schema="app")
    op.drop_index("uq_team_members_email", table_name="team_members", schema="app")
    op.create_index(
        "uq_team_members_email_normalized",
        "team_members",
        ["email_normalized"],
        unique=True,
        schema="app",
    )
    _lookup(LOOKUP)


def downgrade() -> None:
    _lookup(OLD_LOOKUP)
    op.drop_index("uq_team_members_email_normalized", table_name="team_members", schema="app")
    op.create_index(
        "uq_team_members_email",
        "team_members",
        [sa.text("lower(email)")],
        unique=True,
        schema="app",
    )
    op.drop_column("team_members", "email_normalized", schema="app")
