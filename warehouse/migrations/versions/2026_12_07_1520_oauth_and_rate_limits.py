"""oauth: clients, codes and tokens; API keys' rate limit; the request log of keys and clients

Revision ID: 9b3e1d7a5c21
Revises: 5b1d7e0c2a94
Create Date: 2026-12-07 15:20:00.000000

Secrets, codes and tokens are stored as keyed hashes. Two look-ups run before a team is known
(SECURITY DEFINER, owned by the auth role like the other credential look-ups):
``app.auth_oauth_client_lookup(client_id)`` for the token, revocation and introspection
endpoints, and ``app.auth_oauth_token_lookup(hash)`` for a bearer access token.
``app.auth_api_key_lookup`` now also returns the key's ``rate_limit_per_hour``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from warehouse.db import Roles, enable_tenant_rls
from warehouse.migrate import migration_module

revision = "9b3e1d7a5c21"
down_revision = "5b1d7e0c2a94"
branch_labels = None
depends_on = None

ARR = postgresql.ARRAY(sa.Text())


def _roles() -> Roles:
    return op.get_context().config.attributes["roles"]


def _keys() -> list[sa.Column]:
    return [
        sa.Column("team_id", sa.Text(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
    ]


def _pk(table: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint("team_id", "id", name=f"pk_{table}")


def _now(name: str) -> sa.Column:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _member_fk(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["team_id", column],
        ["app.team_members.team_id", "app.team_members.id"],
        name=f"fk_{table}_team_id_{column}",
        ondelete="CASCADE",
    )


def _client_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["team_id", "client_id"],
        ["app.oauth_clients.team_id", "app.oauth_clients.id"],
        name=f"fk_{table}_team_id_client_id",
        ondelete="CASCADE",
    )


CLIENT_LOOKUP = """
CREATE FUNCTION app.auth_oauth_client_lookup(p_client_id text)
RETURNS TABLE (team_id text, client_id text, name text, type text, secret_hash bytea,
               redirect_uris text[], scopes text[], created_by text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, app AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY SELECT c.team_id, c.id, c.name, c.type, c.secret_hash, c.redirect_uris, c.scopes,
         c.created_by
  FROM app.oauth_clients c WHERE c.id = p_client_id;
END $$
"""

TOKEN_LOOKUP = """
CREATE FUNCTION app.auth_oauth_token_lookup(p_hash bytea)
RETURNS TABLE (team_id text, token_id text, client_id text, member_id text, role_key text,
               is_active boolean, scopes text[], expires_at timestamptz,
               revoked_at timestamptz, last_used_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, app AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY SELECT t.team_id, t.id, t.client_id, t.member_id, r.key, m.is_active, t.scopes,
         t.expires_at, t.revoked_at, t.last_used_at
  FROM app.oauth_tokens t
  JOIN app.team_members m ON m.team_id = t.team_id AND m.id = t.member_id
  JOIN app.roles r ON r.team_id = m.team_id AND r.id = m.role_id
  WHERE t.access_hash = p_hash;
END $$
"""

API_KEY_LOOKUP = """
CREATE FUNCTION app.auth_api_key_lookup(p_hash bytea)
RETURNS TABLE (team_id text, key_id text, member_id text, role_key text, is_active boolean,
               scopes text[], expires_at timestamptz, revoked_at timestamptz,
               last_used_at timestamptz, rate_limit_per_hour integer)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, app AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY SELECT k.team_id, k.id, k.member_id, r.key, m.is_active, k.scopes, k.expires_at,
         k.revoked_at, k.last_used_at, k.rate_limit_per_hour
  FROM app.api_keys k
  JOIN app.team_members m ON m.team_id = k.team_id AND m.id = k.member_id
  JOIN app.roles r ON r.team_id = m.team_id AND r.id = m.role_id
  WHERE k.key_hash = p_hash;
END $$
"""

FUNCTIONS = (
    ("auth_oauth_client_lookup", "text", CLIENT_LOOKUP),
    ("auth_oauth_token_lookup", "bytea", TOKEN_LOOKUP),
    ("auth_api_key_lookup", "bytea", API_KEY_LOOKUP),
)


def _own(name: str, args: str) -> None:
    r = _roles()
    x = op.execute
    x(f"ALTER FUNCTION app.{name}({args}) OWNER TO {r.auth}")
    x(f"REVOKE ALL ON FUNCTION app.{name}({args}) FROM PUBLIC")
    x(f"GRANT EXECUTE ON FUNCTION app.{name}({args}) TO {r.api}")


def upgrade() -> None:
    op.add_column(
        "api_keys",
        sa.Column(
            "rate_limit_per_hour", sa.Integer(), server_default=sa.text("1000"), nullable=False
        ),
        schema="app",
    )
    op.execute(
        "ALTER TABLE app.api_keys ADD CONSTRAINT ck_api_keys_rate_limit_positive "
        "CHECK (rate_limit_per_hour > 0)"
    )
    op.create_table(
        "oauth_clients",
        *_keys(),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(), nullable=True),
        sa.Column("redirect_uris", ARR, nullable=False),
        sa.Column("scopes", ARR, nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        _now("created_at"),
        _pk("oauth_clients"),
        _member_fk("oauth_clients", "created_by"),
        sa.CheckConstraint("type IN ('confidential', 'public')", name="ck_oauth_clients_type"),
        sa.CheckConstraint(
            "(type = 'public') = (secret_hash IS NULL)", name="ck_oauth_clients_secret"
        ),
        schema="app",
    )
    op.create_index(
        "ix_oauth_clients_team_created", "oauth_clients", ["team_id", "created_at"], schema="app"
    )
    op.create_table(
        "oauth_codes",
        *_keys(),
        sa.Column("code_hash", sa.LargeBinary(), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("member_id", sa.Text(), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("scopes", ARR, nullable=False),
        sa.Column("code_challenge", sa.Text(), nullable=False),
        sa.Column("code_challenge_method", sa.Text(), nullable=False),
        _now("created_at"),
        _ts("expires_at", nullable=False),
        _pk("oauth_codes"),
        _client_fk("oauth_codes"),
        _member_fk("oauth_codes", "member_id"),
        sa.UniqueConstraint("code_hash", name="uq_oauth_codes_code_hash"),
        sa.CheckConstraint("code_challenge_method = 'S256'", name="ck_oauth_codes_s256"),
        schema="app",
    )
    op.create_index(
        "ix_oauth_codes_team_client", "oauth_codes", ["team_id", "client_id"], schema="app"
    )
    op.create_index(
        "ix_oauth_codes_team_member", "oauth_codes", ["team_id", "member_id"], schema="app"
    )
    op.create_index("ix_oauth_codes_expires", "oauth_codes", ["expires_at"], schema="app")
    op.create_table(
        "oauth_tokens",
        *_keys(),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("member_id", sa.Text(), nullable=False),
        sa.Column("family_id", sa.Text(), nullable=False),
        sa.Column("grant_type", sa.Text(), nullable=False),
        sa.Column("access_hash", sa.LargeBinary(), nullable=False),
        sa.Column("refresh_hash", sa.LargeBinary(), nullable=True),
        sa.Column("scopes", ARR, nullable=False),
        _now("created_at"),
        _ts("expires_at", nullable=False),
        _ts("refresh_expires_at"),
        _ts("refreshed_at"),
        _ts("revoked_at"),
        _ts("last_used_at"),
        _pk("oauth_tokens"),
        _client_fk("oauth_tokens"),
        _member_fk("oauth_tokens", "member_id"),
        sa.UniqueConstraint("access_hash", name="uq_oauth_tokens_access_hash"),
        sa.UniqueConstraint("refresh_hash", name="uq_oauth_tokens_refresh_hash"),
        sa.CheckConstraint(
            "grant_type IN ('authorization_code', 'client_credentials', 'refresh_token')",
            name="ck_oauth_tokens_grant_type",
        ),
        schema="app",
    )
    op.create_index(
        "ix_oauth_tokens_team_family", "oauth_tokens", ["team_id", "family_id"], schema="app"
    )
    op.create_index(
        "ix_oauth_tokens_team_member_client",
        "oauth_tokens",
        ["team_id", "member_id", "client_id"],
        schema="app",
    )
    op.create_index(
        "ix_oauth_tokens_team_client", "oauth_tokens", ["team_id", "client_id"], schema="app"
    )
    op.create_index(
        "ix_oauth_tokens_purge", "oauth_tokens", ["refresh_expires_at", "expires_at"], schema="app"
    )
    op.create_table(
        "api_requests",
        *_keys(),
        sa.Column("credential_type", sa.Text(), nullable=False),
        sa.Column("credential_id", sa.Text(), nullable=False),
        sa.Column("member_id", sa.Text(), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        _now("created_at"),
        _pk("api_requests"),
        sa.CheckConstraint(
            "credential_type IN ('api_key', 'oauth_client')", name="ck_api_requests_credential"
        ),
        schema="app",
    )
    op.create_index(
        "ix_api_requests_team_credential",
        "api_requests",
        ["team_id", "credential_id", "created_at", "id"],
        schema="app",
    )
    op.create_index("ix_api_requests_created", "api_requests", ["created_at"], schema="app")

    r = _roles()
    conn = op.get_bind()
    enable_tenant_rls(conn, "oauth_clients", r, auth_lookup=True)
    enable_tenant_rls(conn, "oauth_codes", r)
    enable_tenant_rls(conn, "oauth_tokens", r, auth_lookup=True)
    # The log is written by requests and read by admins; the purge job deletes as the worker.
    enable_tenant_rls(conn, "api_requests", r, api_privileges="SELECT, INSERT")
    for table in ("oauth_codes", "oauth_tokens", "api_requests"):
        op.execute(
            f"CREATE POLICY worker_purge ON app.{table} FOR DELETE TO {r.worker} USING (true)"
        )
        op.execute(f"GRANT DELETE ON app.{table} TO {r.worker}")
    op.execute("DROP FUNCTION app.auth_api_key_lookup(bytea)")
    op.execute(f"GRANT CREATE ON SCHEMA app TO {r.auth}")  # needed only to take ownership
    for name, args, body in FUNCTIONS:
        op.execute(body)
        _own(name, args)
    op.execute(f"REVOKE CREATE ON SCHEMA app FROM {r.auth}")


def downgrade() -> None:
    r = _roles()
    for name, args, _ in FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS app.{name}({args})")
    core = migration_module("2026_11_27_0001_core_operational_schema.py")
    (original,) = [f for f in core.AUTH_FUNCTIONS if "auth_api_key_lookup" in f]
    op.execute(original)
    op.execute(f"GRANT CREATE ON SCHEMA app TO {r.auth}")
    _own("auth_api_key_lookup", "bytea")
    op.execute(f"REVOKE CREATE ON SCHEMA app FROM {r.auth}")
    op.drop_table("api_requests", schema="app")
    op.drop_table("oauth_tokens", schema="app")
    op.drop_table("oauth_codes", schema="app")
    op.drop_table("oauth_clients", schema="app")
    op.execute("ALTER TABLE app.api_keys DROP CONSTRAINT ck_api_keys_rate_limit_positive")
    op.drop_column("api_keys", "rate_limit_per_hour", schema="app")
