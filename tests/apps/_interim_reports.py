"""INTERIM stand-in for the dbt reporting models until dbt/ lands: the two rpt_ tables with
their contract's columns, simple counts from app tables, and the same row-level security."""

from __future__ import annotations

from api.settings import get_settings
from warehouse.db import connect_as, database_url

SQL = """
CREATE SCHEMA IF NOT EXISTS analytics_reporting;
DROP TABLE IF EXISTS analytics_reporting.rpt_lead_funnel;
CREATE TABLE analytics_reporting.rpt_lead_funnel AS
SELECT l.team_id, (l.created_at AT TIME ZONE 'UTC')::date AS created_date, l.source,
       l.owner_id, m.name AS owner_name,
       count(*)::int AS leads_created,
       count(*) FILTER (WHERE l.status IN ('contacted','qualified','converted'))::int AS leads_contacted,
       count(*) FILTER (WHERE l.status IN ('qualified','converted'))::int AS leads_qualified,
       count(*) FILTER (WHERE l.status = 'converted')::int AS leads_converted,
       0::numeric AS contacted_rate, 0::numeric AS qualified_rate, 0::numeric AS converted_rate,
       NULL::numeric AS avg_hours_to_contacted, NULL::numeric AS avg_hours_to_qualified,
       NULL::numeric AS avg_hours_to_converted
FROM app.leads l LEFT JOIN app.team_members m ON m.team_id = l.team_id AND m.id = l.owner_id
WHERE l.deleted_at IS NULL
GROUP BY 1, 2, 3, 4, 5;
DROP TABLE IF EXISTS analytics_reporting.rpt_daily_rollup;
CREATE TABLE analytics_reporting.rpt_daily_rollup AS
SELECT team_id, created_date AS metric_date, 'leads_created'::text AS metric,
       'all'::text AS dimension_name, 'all'::text AS dimension_value,
       sum(leads_created)::numeric AS value
FROM analytics_reporting.rpt_lead_funnel GROUP BY 1, 2
UNION ALL
SELECT team_id, (started_at AT TIME ZONE 'UTC')::date, 'calls_logged', 'all', 'all', count(*)
FROM app.call_logs WHERE deleted_at IS NULL GROUP BY 1, 2;
"""


def build() -> None:
    s = get_settings()
    with connect_as(database_url(s), s.analytics_db_role) as conn:
        conn.execute(SQL)
        for t in ("rpt_lead_funnel", "rpt_daily_rollup"):
            q = f"analytics_reporting.{t}"
            conn.execute(f"ALTER TABLE {q} ENABLE ROW LEVEL SECURITY")
            conn.execute(
                f"CREATE POLICY team ON {q} FOR SELECT TO {s.dashboard_db_role} "
                "USING (team_id = current_setting('app.team_id', true))"
            )
            conn.execute(f"GRANT SELECT ON {q} TO {s.dashboard_db_role}")
        conn.execute(f"GRANT USAGE ON SCHEMA analytics_reporting TO {s.dashboard_db_role}")
        conn.commit()
