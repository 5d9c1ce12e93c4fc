"""The activity timeline: activities on any record, threaded comments on them, @mentions.

* ``activities``: one entry of a record's timeline, related to any record by
  ``(related_to_type, related_to_id)``. Calls, emails, meetings, notes and files are logged by
  people through the API; every other entry (status changes, field updates, creates, deletes,
  merges, ...) is derived from ``app.events`` by the ``timeline`` dispatcher consumer and carries
  the event's id in ``source_event_id`` (unique per team, so re-delivering an event adds nothing).
  ``search_vector`` is a stored generated tsvector (subject A, description B, outcome/file C)
  whose lexemes carry a tag of the team (``app.team_tsvector``), so its plain GIN index keeps one
  posting list per team and word (migration ``e7f8a9b0c1d2``).
* ``activity_comments``: threaded by ``parent_comment_id``; a deleted comment stays as a
  tombstone (``deleted_at`` set, text emptied) so its replies keep their place.
* ``mentions``: ``@[Name](member_id)`` in an activity's description or a comment's text; read
  state per mentioned member.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from warehouse.models.base import (
    Base,
    SoftDeleteMixin,
    TenantMixin,
    TimestampsMixin,
    VersionMixin,
    member_fk,
)

ACTIVITY_TYPES = (
    "call",
    "email",
    "meeting",
    "note",
    "task",
    "status_change",
    "field_update",
    "file",
    "system",
)
ACTOR_TYPES = ("member", "api_key", "system")

# Both are IMMUTABLE expressions (two-argument to_tsvector, app.team_tsvector), as a generated
# column needs. app.team_tsvector prefixes every lexeme with a tag of the team (see migration
# e7f8a9b0c1d2); app.activity_search tags the query alike (app.team_tsquery).
ACTIVITY_SEARCH = (
    "app.team_tsvector(team_id, "
    "setweight(to_tsvector('english'::regconfig, coalesce(subject, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'B') || "
    "setweight(to_tsvector('english'::regconfig, coalesce(metadata ->> 'outcome', '') || ' ' || "
    "coalesce(metadata ->> 'file_name', '')), 'C'))"
)
COMMENT_SEARCH = "app.team_tsvector(team_id, to_tsvector('english'::regconfig, coalesce(text, '')))"


class Activity(TenantMixin, TimestampsMixin, VersionMixin, SoftDeleteMixin, Base):
    __tablename__ = "activities"
    type: Mapped[str] = mapped_column(Text, nullable=False)
    subject: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    related_to_type: Mapped[str] = mapped_column(Text, nullable=False)
    related_to_id: Mapped[str] = mapped_column(Text, nullable=False)
    actor_type: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'member'"))
    member_id: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    meta: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, key="metadata", nullable=False, server_default=text("'{}'::jsonb")
    )
    source_event_id: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[str | None] = mapped_column(Text)
    search_vector: Mapped[Any] = mapped_column(TSVECTOR, Computed(ACTIVITY_SEARCH, persisted=True))
    # A meeting's metadata.starts_at, indexed for the reminder job (NULL for other types).
    meeting_starts_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True),
        Computed("app.meeting_starts_at(type, metadata)", persisted=True),
    )
    __table_args__ = (
        member_fk("member_id"),
        ForeignKeyConstraint(
            ["team_id", "source_event_id"], ["app.events.team_id", "app.events.id"]
        ),
        CheckConstraint(f"type IN {ACTIVITY_TYPES!r}", name="type"),
        CheckConstraint(f"actor_type IN {ACTOR_TYPES!r}", name="actor_type"),
        CheckConstraint("related_to_type <> '' AND related_to_id <> ''", name="related_to"),
        Index(
            "ix_activities_team_related_occurred",
            "team_id",
            "related_to_type",
            "related_to_id",
            text("occurred_at DESC"),
            text("id DESC"),
        ),
        Index("ix_activities_team_member_occurred", "team_id", "member_id", "occurred_at"),
        Index("ix_activities_team_occurred", "team_id", "occurred_at"),
        Index("ix_activities_team_created", "team_id", "created_at", "id"),
        Index("ix_activities_team_type_occurred", "team_id", "type", "occurred_at"),
        Index(
            "uq_activities_team_source_event",
            "team_id",
            "source_event_id",
            unique=True,
            postgresql_where=text("source_event_id IS NOT NULL"),
        ),
        Index(
            "ix_activities_team_meeting_starts",
            "team_id",
            "meeting_starts_at",
            postgresql_where=text("meeting_starts_at IS NOT NULL AND deleted_at IS NULL"),
        ),
        # No team_id: the lexemes carry the team's tag (one posting list per team and word).
        Index("ix_activities_search", "search_vector", postgresql_using="gin"),
    )


class ActivityComment(TenantMixin, TimestampsMixin, VersionMixin, SoftDeleteMixin, Base):
    __tablename__ = "activity_comments"
    activity_id: Mapped[str] = mapped_column(Text, nullable=False)
    parent_comment_id: Mapped[str | None] = mapped_column(Text)
    author_id: Mapped[str] = mapped_column(Text, nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    edited_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    search_vector: Mapped[Any] = mapped_column(TSVECTOR, Computed(COMMENT_SEARCH, persisted=True))
    __table_args__ = (
        ForeignKeyConstraint(
            ["team_id", "activity_id"], ["app.activities.team_id", "app.activities.id"]
        ),
        ForeignKeyConstraint(
            ["team_id", "parent_comment_id"],
            ["app.activity_comments.team_id", "app.activity_comments.id"],
        ),
        member_fk("author_id"),
        Index("ix_activity_comments_team_activity", "team_id", "activity_id", "created_at", "id"),
        Index("ix_activity_comments_team_created", "team_id", "created_at"),
        Index("ix_activity_comments_team_parent", "team_id", "parent_comment_id"),
        Index("ix_activity_comments_search", "search_vector", postgresql_using="gin"),
    )


class Mention(TenantMixin, Base):
    __tablename__ = "mentions"
    member_id: Mapped[str] = mapped_column(Text, nullable=False)
    activity_id: Mapped[str] = mapped_column(Text, nullable=False)
    comment_id: Mapped[str | None] = mapped_column(Text)
    mentioned_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        member_fk("member_id"),
        member_fk("mentioned_by"),
        ForeignKeyConstraint(
            ["team_id", "activity_id"], ["app.activities.team_id", "app.activities.id"]
        ),
        ForeignKeyConstraint(
            ["team_id", "comment_id"],
            ["app.activity_comments.team_id", "app.activity_comments.id"],
        ),
        # One mention of a member per activity description and per comment.
        Index(
            "uq_mentions_team_activity_member",
            "team_id",
            "activity_id",
            "member_id",
            unique=True,
            postgresql_where=text("comment_id IS NULL"),
        ),
        Index(
            "uq_mentions_team_comment_member",
            "team_id",
            "comment_id",
            "member_id",
            unique=True,
            postgresql_where=text("comment_id IS NOT NULL"),
        ),
        Index("ix_mentions_team_member_created", "team_id", "member_id", "created_at", "id"),
    )
