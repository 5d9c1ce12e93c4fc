"""activity search: a tagged lexeme holds at most 2,046 bytes (PostgreSQL 18's limit)

Revision ID: e3f4a5b6c7d8
Revises: d2e3f4a5b6c7
Create Date: 2026-12-07 13:30:00.000000

``app.team_tsvector`` and ``app.team_tsquery`` (e7f8a9b0c1d2) put a 9-byte team tag before each
lexeme and left out lexemes longer than 2,038 bytes, counting on lexemes of up to 2,047 bytes.
PostgreSQL 15 reads a 2,047-byte word back as a tsvector; PostgreSQL 18 stops at 2,046 ("word is
too long (2047 bytes, max 2046 bytes)"), so on 18 an activity or comment holding a word of exactly
2,038 bytes could not be written (its generated ``search_vector`` failed: a 500). Both functions
now leave out (or, in a query, turn into the tag that matches nothing) lexemes longer than 2,037
bytes, on every version (Leadly supports PostgreSQL 15 to 18).

``CREATE OR REPLACE``: owner, grants, the generated columns and their indexes stay. Rows already
written on PostgreSQL 15 with a 2,038-byte lexeme keep it until they are next updated; such a
word cannot be searched for through the API (queries are at most 500 characters), and a dump
restored elsewhere recomputes the generated columns with the new functions.
"""

from __future__ import annotations

from alembic import op

from warehouse.migrate import migration_module

revision = "e3f4a5b6c7d8"
down_revision = "d2e3f4a5b6c7"
branch_labels = None
depends_on = None

TAGGED = migration_module("2026_11_27_2000_activity_search_partitioned.py")
OLD_LIMIT, NEW_LIMIT = "2038", "2037"


def _functions(limit: str) -> list[str]:
    """e7f8a9b0c1d2's two functions (as CREATE OR REPLACE) with ``limit`` as the longest lexeme
    that is tagged."""
    out = []
    for ddl, uses in ((TAGGED.TEAM_TSVECTOR, 2), (TAGGED.TEAM_TSQUERY, 2)):
        assert ddl.count(OLD_LIMIT) == uses, ddl
        out.append(
            ddl.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1).replace(
                OLD_LIMIT, limit
            )
        )
    return out


def upgrade() -> None:
    for ddl in _functions(NEW_LIMIT):
        op.execute(ddl)


def downgrade() -> None:
    for ddl in _functions(OLD_LIMIT):
        op.execute(ddl)
