"""events: app.event_horizon() in PL/pgSQL, reading the backend list once

Revision ID: f8a9b0c1d2e3
Revises: e7f8a9b0c1d2
Create Date: 2026-11-27 20:10:00.000000

Every dispatcher read (each consumer, after every wake-up) and every incremental dbt model calls
``app.event_horizon()``. The SQL version was planned again on each call (a SQL function that
cannot be inlined keeps no plan) and scanned ``pg_stat_activity`` (a view joining
``pg_database`` and ``pg_authid``) once per in-progress transaction: 2–2.5 ms per call, most of
a woken consumer's read. This version keeps its plan for the session, reads
``pg_stat_get_activity(NULL)`` once into a hashed ``NOT IN`` and needs no scan at all when no
transaction is running: about 0.3 ms. Same result: in-progress transactions of this database
under a login that may insert into ``app.events`` (or that it cannot place) hold the horizon.
"""

from __future__ import annotations

from alembic import op

from warehouse.migrate import migration_module

revision = "f8a9b0c1d2e3"
down_revision = "e7f8a9b0c1d2"
branch_labels = None
depends_on = None

PLPGSQL = """
CREATE OR REPLACE FUNCTION app.event_horizon() RETURNS xid8
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
  snap pg_snapshot := pg_current_snapshot();
  horizon xid8;
BEGIN
  SELECT min(x) INTO horizon
  FROM pg_snapshot_xip(snap) AS x
  WHERE x::xid NOT IN (
      SELECT a.backend_xid
      FROM pg_stat_get_activity(NULL) AS a
      WHERE a.backend_xid IS NOT NULL
        AND (a.datid IS DISTINCT FROM (
                 SELECT d.oid FROM pg_database AS d WHERE d.datname = current_database())
             OR NOT has_table_privilege(a.usesysid, 'app.events', 'INSERT')));
  RETURN coalesce(horizon, pg_snapshot_xmax(snap));
END
$$
"""


def upgrade() -> None:
    # CREATE OR REPLACE keeps the owner, the grants and every dependent object.
    op.execute(PLPGSQL)


def downgrade() -> None:
    op.execute(migration_module("2026_11_27_1755_event_horizon.py").FUNCTION)
