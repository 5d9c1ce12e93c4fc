"""events: app.event_horizon(), the per-database visibility horizon of the event log

Revision ID: b8e5f6a7c9d0
Revises: c9f6a7b8d0e1
Create Date: 2026-11-27 17:55:00.000000

Cursor readers of ``app.events`` (the dispatcher, the incremental dbt models) only read events of
transactions older than every transaction still running, so an event that commits late is never
skipped. ``pg_snapshot_xmin(pg_current_snapshot())`` gives that horizon for the whole server: a
long transaction in *another* database (a benchmark, another test run, another tenant database)
held every reader back until it finished, and so did every dbt model build in this database.
``app.event_horizon()`` leaves out the in-progress transactions that ``pg_stat_activity`` shows
running in another database, or under a login that may not insert into ``app.events`` (the
analytics and dashboard roles: dbt builds and dashboards never write events); everything it
cannot place (finished since the snapshot, subtransactions, no privilege to see other roles'
sessions) still counts, so it is never later than the safe horizon of the event log.

Seeing other roles' ``backend_xid`` needs ``pg_read_all_stats``: the function runs as the owner
role, which is granted it when the migrating role may grant it (a superuser, as in the embedded
server and the tests). Without it the function is exactly the server-wide horizon.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

from warehouse.db import Roles

revision = "b8e5f6a7c9d0"
down_revision = "c9f6a7b8d0e1"
branch_labels = None
depends_on = None

READERS = ("api", "worker", "analytics")


# CREATE OR REPLACE: the downgrade of a later version of the function restores this one.
FUNCTION = """
CREATE OR REPLACE FUNCTION app.event_horizon() RETURNS xid8
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
    SELECT coalesce(min(x), pg_snapshot_xmax(pg_current_snapshot()))
    FROM pg_snapshot_xip(pg_current_snapshot()) AS x
    WHERE NOT EXISTS (
        SELECT 1
        FROM pg_stat_activity AS a
        WHERE a.backend_xid = x::xid
          AND (
              a.datname IS DISTINCT FROM current_database()
              OR NOT has_table_privilege(a.usesysid, 'app.events', 'INSERT')
          )
    )
$$
"""


def _roles() -> Roles:
    return op.get_context().config.attributes["roles"]


def upgrade() -> None:
    r = _roles()
    bind = op.get_bind()
    can_grant = bind.execute(
        text(
            "SELECT rolsuper OR pg_has_role(current_user, 'pg_read_all_stats', "
            "'USAGE WITH ADMIN OPTION') FROM pg_roles WHERE rolname = current_user"
        )
    ).scalar()
    if can_grant:
        op.execute(f'GRANT pg_read_all_stats TO "{r.owner}"')
    op.execute(FUNCTION)
    op.execute(f'ALTER FUNCTION app.event_horizon() OWNER TO "{r.owner}"')
    op.execute("REVOKE ALL ON FUNCTION app.event_horizon() FROM PUBLIC")
    readers = ", ".join(f'"{getattr(r, name)}"' for name in READERS)
    op.execute(f"GRANT EXECUTE ON FUNCTION app.event_horizon() TO {readers}")


def downgrade() -> None:
    op.execute("DROP FUNCTION app.event_horizon()")
    # pg_read_all_stats stays granted: other objects of the owner role may rely on it.
