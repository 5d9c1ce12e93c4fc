"""activities: meeting_starts_at, an indexed column for the meeting-reminder scan

Revision ID: a9b0c1d2e3f4
Revises: f8a9b0c1d2e3
Create Date: 2026-11-27 20:20:00.000000

The meeting-reminder job (every minute) looked for meetings starting within 15 minutes with
``(metadata->>'starts_at')::timestamptz``: a cast that depends on the session's time zone, so
no index could hold it, and the scan read every activity of every team (seconds at 10M
activities, each minute). ``meeting_starts_at`` is a stored generated column
(``app.meeting_starts_at(type, metadata)``: a meeting's start, parsed in UTC; NULL for other
types and for a value that is not a timestamp) with a partial index
``(team_id, meeting_starts_at)`` over live meetings. Plain-column comparisons are leakproof, so
the index serves the API role under row-level security too.

Adding a stored generated column rewrites ``app.activities`` once during the upgrade.
"""

from __future__ import annotations

from alembic import op

from warehouse.db import Roles

revision = "a9b0c1d2e3f4"
down_revision = "f8a9b0c1d2e3"
branch_labels = None
depends_on = None

FUNCTION = """
CREATE FUNCTION app.meeting_starts_at(p_type text, p_metadata jsonb) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog SET timezone = 'UTC' AS $$
BEGIN
  IF p_type IS DISTINCT FROM 'meeting' OR jsonb_typeof(p_metadata -> 'starts_at') <> 'string'
  THEN
    RETURN NULL;
  END IF;
  RETURN (p_metadata ->> 'starts_at')::timestamptz;
EXCEPTION WHEN data_exception THEN  -- not a timestamp: no reminder, the row is still written
  RETURN NULL;
END
$$
"""


def _roles() -> Roles:
    return op.get_context().config.attributes["roles"]


def upgrade() -> None:
    r = _roles()
    op.execute(FUNCTION)
    op.execute(
        "GRANT EXECUTE ON FUNCTION app.meeting_starts_at(text, jsonb) "
        f'TO "{r.api}", "{r.worker}", "{r.analytics}"'
    )
    op.execute(
        "ALTER TABLE app.activities ADD COLUMN meeting_starts_at timestamptz "
        "GENERATED ALWAYS AS (app.meeting_starts_at(type, metadata)) STORED"
    )
    op.execute(
        "CREATE INDEX ix_activities_team_meeting_starts ON app.activities "
        "(team_id, meeting_starts_at) "
        "WHERE meeting_starts_at IS NOT NULL AND deleted_at IS NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX app.ix_activities_team_meeting_starts")
    op.execute("ALTER TABLE app.activities DROP COLUMN meeting_starts_at")
    op.execute("DROP FUNCTION app.meeting_starts_at(text, jsonb)")
