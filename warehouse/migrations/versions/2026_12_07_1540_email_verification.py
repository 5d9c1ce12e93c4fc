"""email verification: an address becomes a login only once its member proved they read it

Revision ID: cb0681b4340e
Revises: d7c4e2a9b1f3
Create Date: 2026-12-07 15:40:00.000000

Emails were never verified, so an admin could squat ``ceo@bigcorp.example`` (invite it, accept
the invitation himself) and a stranger's sign-up kept the real owner of an address out. Now:

- ``team_members.email_verified_at``: existing members are backfilled as verified (nobody is
  locked out by the upgrade);
- one login per *verified* address (``uq_team_members_email_verified``, partial), and one member
  per address within a team (``uq_team_members_team_email``);
- ``app.auth_login_lookup`` answers verified members only: an unverified address does not sign
  in with a password and does not block a sign-up;
- ``app.email_verifications`` keeps the hash of each single-use, expiring verification link,
  found before the team is known by ``app.auth_email_verification_lookup``.

The downgrade drops the links and the column; it refuses, naming them, if two members (now
unverified ones) share an address, which the old unique index cannot hold.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from warehouse.db import Roles, enable_tenant_rls
from warehouse.migrate import migration_module

revision = "cb0681b4340e"
down_revision = "d7c4e2a9b1f3"
branch_labels = None
depends_on = None

NORMALIZED = "2026_12_07_1200_login_email_normalized.py"

LOOKUP = """
CREATE FUNCTION app.auth_login_lookup(p_email text)
RETURNS TABLE (team_id text, member_id text, password_hash text, is_active boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, app AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY SELECT m.team_id, m.id, m.password_hash, m.is_active
  FROM app.team_members m WHERE m.email_normalized = p_email AND m.email_verified_at IS NOT NULL
;
END $$"""

VERIFICATION_LOOKUP = """
CREATE FUNCTION app.auth_email_verification_lookup(p_hash bytea)
RETURNS TABLE (team_id text, verification_id text, member_id text, email_normalized text,
               expires_at timestamptz, used_at timestamptz, revoked_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, app AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY SELECT v.team_id, v.id, v.member_id, v.email_normalized, v.expires_at, v.used_at,
         v.revoked_at
  FROM app.email_verifications v WHERE v.token_hash = p_hash
;
END $$"""


def _roles() -> Roles:
    return op.get_context().config.attributes["roles"]


def _own(name: str, args: str, sql: str | None) -> None:
    """(Re)create a look-up owned by the auth role, executable by the API role only."""
    r = _roles()
    x = op.execute
    x(f"DROP FUNCTION IF EXISTS app.{name}({args})")
    if sql is None:
        return
    x(sql)
    x(f"GRANT CREATE ON SCHEMA app TO {r.auth}")  # needed only to take ownership
    x(f"ALTER FUNCTION app.{name}({args}) OWNER TO {r.auth}")
    x(f"REVOKE ALL ON FUNCTION app.{name}({args}) FROM PUBLIC")
    x(f"GRANT EXECUTE ON FUNCTION app.{name}({args}) TO {r.api}")
    x(f"REVOKE CREATE ON SCHEMA app FROM {r.auth}")


def upgrade() -> None:
    op.add_column(
        "team_members",
        sa.Column("email_verified_at", sa.DateTime(timezone=True), nullable=True),
        schema="app",
    )
    # Every team's members (row-level security is forced on the table, also for its owner).
    op.execute("ALTER TABLE app.team_members NO FORCE ROW LEVEL SECURITY")
    op.execute("UPDATE app.team_members SET email_verified_at = created_at")
    op.execute("ALTER TABLE app.team_members FORCE ROW LEVEL SECURITY")
    op.create_index(
        "uq_team_members_team_email",
        "team_members",
        ["team_id", "email_normalized"],
        unique=True,
        schema="app",
    )
    op.create_index(
        "uq_team_members_email_verified",
        "team_members",
        ["email_normalized"],
        unique=True,
        schema="app",
        postgresql_where=sa.text("email_verified_at IS NOT NULL"),
    )
    op.drop_index("uq_team_members_email_normalized", table_name="team_members", schema="app")
    _own("auth_login_lookup", "text", LOOKUP)

    op.create_table(
        "email_verifications",
        sa.Column("member_id", sa.Text(), nullable=False),
        sa.Column("email_normalized", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("team_id", sa.Text(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id", "member_id"],
            ["app.team_members.team_id", "app.team_members.id"],
            name=op.f("fk_email_verifications_team_id_member_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("team_id", "id", name=op.f("pk_email_verifications")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_email_verifications_token_hash")),
        schema="app",
    )
    op.create_index(
        "ix_email_verifications_team_member",
        "email_verifications",
        ["team_id", "member_id"],
        unique=False,
        schema="app",
    )
    enable_tenant_rls(op.get_bind(), "email_verifications", _roles(), auth_lookup=True)
    _own("auth_email_verification_lookup", "bytea", VERIFICATION_LOOKUP)


def downgrade() -> None:
    conn = op.get_bind()
    conn.execute(sa.text("ALTER TABLE app.team_members NO FORCE ROW LEVEL SECURITY"))
    shared = conn.execute(
        sa.text(
            "SELECT email_normalized FROM app.team_members GROUP BY email_normalized "
            "HAVING count(*) > 1 ORDER BY 1"
        )
    ).scalars()
    clashes = list(shared)
    conn.execute(sa.text("ALTER TABLE app.team_members FORCE ROW LEVEL SECURITY"))
    if clashes:
        raise RuntimeError(
            "Several members (some unverified) share these addresses; the previous schema "
            "allows one member per address across Leadly. Remove the unverified ones first: "
            + ", ".join(clashes)
        )
    _own("auth_email_verification_lookup", "bytea", None)
    op.drop_index(
        "ix_email_verifications_team_member", table_name="email_verifications", schema="app"
    )
    op.drop_table("email_verifications", schema="app")
    # The look-up as c1d2e3f4a5b6 defined it.
    _own("auth_login_lookup", "text", migration_module(NORMALIZED).LOOKUP)
    op.create_index(
        "uq_team_members_email_normalized",
        "team_members",
        ["email_normalized"],
        unique=True,
        schema="app",
    )
    op.drop_index("uq_team_members_email_verified", table_name="team_members", schema="app")
    op.drop_index("uq_team_members_team_email", table_name="team_members", schema="app")
    op.drop_column("team_members", "email_verified_at", schema="app")
