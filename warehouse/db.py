"""Engines, roles, row-level security and the tenant transaction.

Roles (names from settings):
- owner (NOLOGIN): owns schema ``app`` and every table; migrations ``SET ROLE`` to it.
- api: owns nothing; every transaction sets ``app.team_id`` (and ``app.member_id``), and forced
  row-level security shows it only that team's rows.
- worker: the dispatcher; reads events and writes dispatcher state across teams.
- analytics: dbt and Dagster; reads every team (reporting tables carry their own RLS).
- auth (``<owner>_auth``, NOLOGIN): owns the SECURITY DEFINER look-ups that resolve a token or a
  login email to its team before any team is known.

The api, worker and analytics roles are LOGIN roles that are members of no other role, so a
connection opened as one of them cannot ``SET ROLE`` its way to more privileges. Each process logs
in as its role: the host and database come from ``LEADLY_DATABASE_URL`` (the admin URL, used only
for bootstrap and migrations), the password from ``LEADLY_DB_ROLE_PASSWORD`` (unset: none, for
servers with trust or peer authentication such as the embedded one).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from leadly.settings import Settings, get_settings
from warehouse.events import watch_commits

T = TypeVar("T")


@dataclass(frozen=True)
class Roles:
    owner: str
    api: str
    worker: str
    analytics: str
    dashboard: str = "leadly_dashboard"

    @property
    def auth(self) -> str:
        return f"{self.owner}_auth"

    @classmethod
    def from_settings(cls, s: Settings) -> Roles:
        return cls(
            s.owner_db_role,
            s.api_db_role,
            s.worker_db_role,
            s.analytics_db_role,
            s.dashboard_db_role,
        )

    @property
    def login_roles(self) -> tuple[str, ...]:
        return (self.api, self.worker, self.analytics, self.dashboard)


def database_url(settings: Settings | None = None) -> str:
    """The admin URL: ``LEADLY_DATABASE_URL``, or the embedded server's (started on demand)."""
    s = settings or get_settings()
    if s.database_url:
        return s.database_url
    from warehouse import embedded

    return embedded.start(s.data_path, s.db_name)


def sqlalchemy_url(url: str) -> str:
    u = make_url(url)
    return str(u.set(drivername="postgresql+psycopg").render_as_string(hide_password=False))


def libpq_url(url: str) -> str:
    u = make_url(url)
    return u.set(drivername="postgresql").render_as_string(hide_password=False)


_OPTIONS = {"options": "-c TimeZone=UTC"}


def role_url(url: str, role: str | None) -> str:
    """``url`` with its user (and password) replaced by the login role ``role``."""
    if not role:
        return url
    password = get_settings().db_role_password or None
    u = make_url(url).set(username=role, password=password)
    return u.render_as_string(hide_password=False)


def make_async_engine(url: str, role: str | None, pool_size: int = 20, **kw: Any) -> AsyncEngine:
    engine = create_async_engine(
        sqlalchemy_url(role_url(url, role)),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,
        connect_args={**_OPTIONS, "prepare_threshold": 5},
        **kw,
    )
    watch_commits(engine.sync_engine)
    return engine


def make_engine(url: str, role: str | None, **kw: Any) -> Engine:
    return create_engine(sqlalchemy_url(role_url(url, role)), connect_args=_OPTIONS, **kw)


def connect_as(url: str, role: str | None = None, **kw: Any) -> psycopg.Connection:
    """A plain psycopg connection that runs as ``role``."""
    return psycopg.connect(libpq_url(role_url(url, role)), **_OPTIONS, **kw)


# --------------------------------------------------------------------------- bootstrap


def bootstrap_roles(url: str, roles: Roles) -> None:
    """Create the roles and schemas the migrations expect (idempotent; needs CREATEROLE).

    Roles are cluster-wide, so several databases (e.g. parallel test runs) share them.
    """
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        me = conn.execute("SELECT current_user").fetchone()[0]
        for name in (roles.owner, roles.auth, *roles.login_roles):
            with contextlib.suppress(
                psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation
            ):
                exists = conn.execute(
                    "SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)
                ).fetchone()
                if not exists:
                    conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(name)))
        # Migrations SET ROLE to the owner. The login roles stand alone: members of nothing,
        # so a connection opened as one of them cannot switch to more privileges.
        conn.execute(
            sql.SQL("GRANT {} TO {}").format(sql.Identifier(roles.owner), sql.Identifier(me))
        )
        password = get_settings().db_role_password or None
        for name in roles.login_roles:
            can_login = conn.execute(
                "SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (name,)
            ).fetchone()[0]
            if can_login and password is None:
                continue
            # Parallel bootstraps (test runs) may race on the same role: one ALTER is enough.
            with contextlib.suppress(psycopg.errors.InternalError_):
                conn.execute(
                    sql.SQL(
                        "ALTER ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                        "NOBYPASSRLS PASSWORD {}"
                    ).format(sql.Identifier(name), sql.Literal(password))
                )
        # The owner creates the auth functions and hands them to the auth role.
        conn.execute(
            sql.SQL("GRANT {} TO {}").format(
                sql.Identifier(roles.auth), sql.Identifier(roles.owner)
            )
        )
        db = conn.execute("SELECT current_database()").fetchone()[0]
        conn.execute(
            sql.SQL("GRANT CREATE, CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(db), sql.Identifier(roles.owner)
            )
        )
        for name in roles.login_roles:
            conn.execute(
                sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                    sql.Identifier(db), sql.Identifier(name)
                )
            )
        # dbt (the analytics role) creates and owns the analytics_* schemas it builds.
        conn.execute(
            sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(
                sql.Identifier(db), sql.Identifier(roles.analytics)
            )
        )


# --------------------------------------------------------------------------- RLS helpers
# Used by migrations: every tenant table gets the same policies.


def enable_tenant_rls(
    conn: Connection,
    table: str,
    roles: Roles,
    *,
    key: str = "team_id",
    auth_lookup: bool = False,
    worker_write: bool = False,
    api_privileges: str = "SELECT, INSERT, UPDATE, DELETE",
) -> None:
    """Force RLS on ``app.<table>``: a row is visible and writable only when its team is the
    transaction's ``app.team_id``; the worker and analytics roles read across teams."""
    q = f"app.{table}"
    conn.execute(text(f"ALTER TABLE {q} ENABLE ROW LEVEL SECURITY"))
    conn.execute(text(f"ALTER TABLE {q} FORCE ROW LEVEL SECURITY"))
    cond = f"{key} = current_setting('app.team_id', true)"
    conn.execute(text(f"CREATE POLICY tenant_isolation ON {q} USING ({cond}) WITH CHECK ({cond})"))
    conn.execute(
        text(
            f"CREATE POLICY platform_read ON {q} FOR SELECT "
            f"TO {roles.worker}, {roles.analytics} USING (true)"
        )
    )
    if api_privileges:
        conn.execute(text(f"GRANT {api_privileges} ON {q} TO {roles.api}"))
    conn.execute(text(f"GRANT SELECT ON {q} TO {roles.worker}, {roles.analytics}"))
    if auth_lookup:
        conn.execute(
            text(f"CREATE POLICY auth_lookup ON {q} FOR SELECT TO {roles.auth} USING (true)")
        )
        conn.execute(text(f"GRANT SELECT ON {q} TO {roles.auth}"))
    if worker_write:
        conn.execute(
            text(
                f"CREATE POLICY worker_write ON {q} FOR ALL TO {roles.worker} "
                "USING (true) WITH CHECK (true)"
            )
        )
        conn.execute(text(f"GRANT INSERT, UPDATE, DELETE ON {q} TO {roles.worker}"))


# --------------------------------------------------------------------------- runtime


_engines: dict[tuple[str, str, int, int | None], AsyncEngine] = {}


def _loop_key() -> int | None:
    try:
        return id(asyncio.get_running_loop())
    except RuntimeError:
        return None


def engine(
    role: str = "api", *, pool_size: int | None = None, settings: Settings | None = None
) -> AsyncEngine:
    """The process's engine for a role (``api``: row-level security per team; ``worker``: the
    dispatcher's cross-team reads) on the running event loop: one per role and loop, so the API,
    the worker, Dagster jobs and the CLI share one factory, and a job that runs its own loop
    (:func:`run`) gets its own pool, closed with it. ``dashboard``: reads of the reporting
    models under their row-level security (reports, share links, deliveries)."""
    s = settings or get_settings()
    name = {"api": s.api_db_role, "worker": s.worker_db_role, "dashboard": s.dashboard_db_role}[
        role
    ]
    size = pool_size or (s.db_pool_size if role == "api" else 2)
    key = (database_url(s), name, size, _loop_key())
    found = _engines.get(key)
    if found is None:
        found = _engines[key] = make_async_engine(key[0], name, size)
    return found


def api_engine(settings: Settings | None = None) -> AsyncEngine:
    return engine("api", settings=settings)


async def dispose_engines() -> None:
    """Close every engine opened on the running event loop (or outside any loop)."""
    loop = _loop_key()
    for key in [k for k in _engines if k[3] == loop or k[3] is None]:
        await _engines.pop(key).dispose()


def forget_engines() -> None:
    """Drop every cached engine without closing it (after a fork, or when settings change)."""
    _engines.clear()


def run(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine on a fresh event loop, then close the engines opened on it: the one way a
    Dagster job or a CLI verb gets its engines and its loop."""

    async def main() -> T:
        try:
            return await make()
        finally:
            await dispose_engines()

    return asyncio.run(main())


async def set_tenant(conn: AsyncConnection, team_id: str, member_id: str | None = None) -> None:
    await conn.execute(
        text("SELECT set_config('app.team_id', :t, true), set_config('app.member_id', :m, true)"),
        {"t": team_id, "m": member_id or ""},
    )


@contextlib.asynccontextmanager
async def tenant_tx(
    engine: AsyncEngine, team_id: str, member_id: str | None = None
) -> AsyncIterator[AsyncConnection]:
    """One transaction scoped to ``team_id``: commit on success, roll back on any error."""
    async with engine.begin() as conn:
        await set_tenant(conn, team_id, member_id)
        yield conn


@contextlib.contextmanager
def sync_tenant_tx(engine: Engine, team_id: str) -> Iterator[Connection]:
    with engine.begin() as conn:
        conn.execute(text("SELECT set_config('app.team_id', :t, true)"), {"t": team_id})
        yield conn
