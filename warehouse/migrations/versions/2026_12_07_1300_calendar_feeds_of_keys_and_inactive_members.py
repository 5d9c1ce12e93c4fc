"""calendar feeds: revoke those made through an API key or held by a deactivated member

Revision ID: d2e3f4a5b6c7
Revises: c1d2e3f4a5b6
Create Date: 2026-12-07 13:00:00.000000

A feed URL is a credential. API keys may no longer create feeds (docs/auth.md: keys cannot
create credentials), and a feed now dies with its member's deactivation. The key that made a
feed was never recorded, so a feed whose creation event was written by an API key is revoked
here, with the feeds of members already deactivated. Their owners make new ones from a session.
Nothing to undo on downgrade (revocation is not reversed).
"""

from __future__ import annotations

from alembic import op

revision = "d2e3f4a5b6c7"
down_revision = "c1d2e3f4a5b6"
branch_labels = None
depends_on = None


def upgrade() -> None:
    x = op.execute
    # Every team's rows (row-level security is forced, also for the owner of the tables).
    x("ALTER TABLE app.calendar_feeds NO FORCE ROW LEVEL SECURITY")
    x("ALTER TABLE app.team_members NO FORCE ROW LEVEL SECURITY")
    x("ALTER TABLE app.events NO FORCE ROW LEVEL SECURITY")
    x(
        """
        UPDATE app.calendar_feeds f SET revoked_at = now()
        WHERE f.revoked_at IS NULL AND (
          EXISTS (SELECT 1 FROM app.events e
                  WHERE e.team_id = f.team_id AND e.object_type = 'calendar_feed'
                    AND e.object_id = f.id AND e.action = 'created'
                    AND e.actor_type = 'api_key')
          OR EXISTS (SELECT 1 FROM app.team_members m
                     WHERE m.team_id = f.team_id AND m.id = f.member_id AND NOT m.is_active))
        """
    )
    x("ALTER TABLE app.events FORCE ROW LEVEL SECURITY")
    x("ALTER TABLE app.team_members FORCE ROW LEVEL SECURITY")
    x("ALTER TABLE app.calendar_feeds FORCE ROW LEVEL SECURITY")


def downgrade() -> None:
    pass
