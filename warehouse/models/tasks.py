"""Tasks: to-dos with subtasks, dependencies, time logs, recurrence, reminders, calendar feeds.

* ``app.tasks`` — one task (or one occurrence of a recurring series). ``assignee_ids`` is a
  ``text[]`` of member ids with a GIN index; ``app.task_assignees`` mirrors it (kept by a
  trigger) so "a member's tasks" is a B-tree look-up even under row-level security (PostgreSQL
  keeps the non-leakproof ``@>`` array operator out of index conditions on RLS tables).
* ``app.task_dependencies`` — "task depends on depends_on_task" with a type.
* ``app.time_logs`` — timer runs and manual entries; one running timer per member (partial
  unique index on ``ended_at IS NULL``).
* ``app.task_reminders`` — reminders and overdue alerts that fired (one row per member, kind,
  offset and due date: the idempotency key of the firing job).
* ``app.member_task_settings`` — a member's default reminder offsets and overdue alerts.
* ``app.calendar_feeds`` — per-member iCalendar feed tokens (stored hashed, revocable).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    Numeric,
    SmallInteger,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from warehouse.models.base import Base, TenantMixin, TimestampsMixin, VersionMixin, member_fk
from warehouse.models.crm import StandardObject

TASK_STATUSES = ("todo", "in_progress", "waiting", "completed", "cancelled")
OPEN_STATUSES = ("todo", "in_progress", "waiting")
TASK_PRIORITIES = ("low", "medium", "high", "urgent")
DEPENDENCY_TYPES = ("finish_to_start", "start_to_start", "finish_to_finish")
TIME_LOG_SOURCES = ("timer", "manual")
REMINDER_KINDS = ("reminder", "overdue")
PRIORITY_RANK_SQL = (
    "CASE priority WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3 "
    "WHEN 'urgent' THEN 4 END"
)


def _task_fk(column: str, ondelete: str | None = None) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["team_id", column], ["app.tasks.team_id", "app.tasks.id"], ondelete=ondelete
    )


class Task(StandardObject, Base):
    __tablename__ = "tasks"
    title: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'todo'"))
    priority: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'medium'"))
    priority_rank: Mapped[int] = mapped_column(SmallInteger, Computed(PRIORITY_RANK_SQL))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The zone an offset-less due_at and the recurrence are read in (first assignee's).
    time_zone: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'UTC'"))
    # When due_at was last set: reminders scheduled before it are skipped, not fired late.
    due_set_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    assignee_ids: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default=text("'{}'")
    )
    related_to_type: Mapped[str | None] = mapped_column(Text)
    related_to_id: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default=text("'{}'")
    )
    parent_task_id: Mapped[str | None] = mapped_column(Text)
    estimated_hours: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    recurrence_rule: Mapped[str | None] = mapped_column(Text)
    recurrence_exdates: Mapped[list[datetime]] = mapped_column(
        ARRAY(DateTime(timezone=True)), nullable=False, server_default=text("'{}'")
    )
    series_id: Mapped[str | None] = mapped_column(Text)
    series_start_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    occurrence_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_occurrence_id: Mapped[str | None] = mapped_column(Text)
    reminders: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    __table_args__ = (
        member_fk("created_by"),
        _task_fk("parent_task_id"),
        _task_fk("next_occurrence_id"),
        CheckConstraint(f"status IN {TASK_STATUSES!r}", name="status"),
        CheckConstraint(f"priority IN {TASK_PRIORITIES!r}", name="priority"),
        CheckConstraint("title <> ''", name="title"),
        CheckConstraint("estimated_hours IS NULL OR estimated_hours >= 0", name="estimated_hours"),
        CheckConstraint("(related_to_type IS NULL) = (related_to_id IS NULL)", name="related_to"),
        CheckConstraint("parent_task_id IS NULL OR parent_task_id <> id", name="parent_task_id"),
        CheckConstraint(
            "recurrence_rule IS NULL OR (due_at IS NOT NULL AND series_id IS NOT NULL)",
            name="recurrence_rule",
        ),
        Index("ix_tasks_team_created", "team_id", "created_at", "id"),
        Index("ix_tasks_team_updated", "team_id", "updated_at", "id"),
        Index("ix_tasks_team_status", "team_id", "status"),
        Index("ix_tasks_team_priority", "team_id", "priority_rank", "id"),
        Index("ix_tasks_team_due", "team_id", "due_at", "id"),
        Index("ix_tasks_team_related", "team_id", "related_to_type", "related_to_id"),
        Index("ix_tasks_team_parent", "team_id", "parent_task_id"),
        Index("ix_tasks_team_series", "team_id", "series_id"),
        Index("ix_tasks_team_creator", "team_id", "created_by"),
        Index("ix_tasks_team_assignees", "team_id", "assignee_ids", postgresql_using="gin"),
        Index("ix_tasks_team_tags", "team_id", "tags", postgresql_using="gin"),
    )


class TaskAssignee(Base):
    """One (task, assignee) pair, mirrored from ``tasks.assignee_ids`` by a trigger."""

    __tablename__ = "task_assignees"
    team_id: Mapped[str] = mapped_column(Text, primary_key=True)
    member_id: Mapped[str] = mapped_column(Text, primary_key=True)
    task_id: Mapped[str] = mapped_column(Text, primary_key=True)
    __table_args__ = (
        ForeignKeyConstraint(
            ["team_id", "task_id"], ["app.tasks.team_id", "app.tasks.id"], ondelete="CASCADE"
        ),
        Index("ix_task_assignees_team_task", "team_id", "task_id"),
    )


class TaskDependency(TenantMixin, Base):
    __tablename__ = "task_dependencies"
    task_id: Mapped[str] = mapped_column(Text, nullable=False)
    depends_on_task_id: Mapped[str] = mapped_column(Text, nullable=False)
    type: Mapped[str] = mapped_column(
        Text, nullable=False, server_default=text("'finish_to_start'")
    )
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    __table_args__ = (
        _task_fk("task_id", "CASCADE"),
        _task_fk("depends_on_task_id", "CASCADE"),
        member_fk("created_by"),
        CheckConstraint(f"type IN {DEPENDENCY_TYPES!r}", name="type"),
        CheckConstraint("task_id <> depends_on_task_id", name="not_self"),
        Index("uq_task_dependencies_pair", "team_id", "task_id", "depends_on_task_id", unique=True),
        Index("ix_task_dependencies_team_depends_on", "team_id", "depends_on_task_id"),
    )


class TimeLog(TenantMixin, TimestampsMixin, VersionMixin, Base):
    __tablename__ = "time_logs"
    task_id: Mapped[str] = mapped_column(Text, nullable=False)
    member_id: Mapped[str] = mapped_column(Text, nullable=False)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    notes: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'manual'"))
    __table_args__ = (
        _task_fk("task_id", "CASCADE"),
        member_fk("member_id"),
        CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name="ended_at"),
        CheckConstraint(f"source IN {TIME_LOG_SOURCES!r}", name="source"),
        Index("ix_time_logs_team_task", "team_id", "task_id", "started_at"),
        Index("ix_time_logs_team_member", "team_id", "member_id", "started_at"),
        # One running timer per member.
        Index(
            "uq_time_logs_team_member_running",
            "team_id",
            "member_id",
            unique=True,
            postgresql_where=text("ended_at IS NULL"),
        ),
    )


class TaskReminder(TenantMixin, Base):
    """A reminder or overdue alert that fired (the firing job's idempotency record)."""

    __tablename__ = "task_reminders"
    task_id: Mapped[str] = mapped_column(Text, nullable=False)
    member_id: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    offset: Mapped[str] = mapped_column(Text, nullable=False)  # "1h", "1d", "1w"; "0" overdue
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    remind_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    fired_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    __table_args__ = (
        _task_fk("task_id", "CASCADE"),
        member_fk("member_id"),
        CheckConstraint(f"kind IN {REMINDER_KINDS!r}", name="kind"),
        Index(
            "uq_task_reminders_once",
            "team_id",
            "task_id",
            "member_id",
            "kind",
            "offset",
            "due_at",
            unique=True,
        ),
    )


class MemberTaskSettings(TenantMixin, Base):
    """``id`` is the member's id: their default reminders and overdue alerts."""

    __tablename__ = "member_task_settings"
    reminder_offsets: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default=text("'{1h,1d}'")
    )
    overdue_alerts: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("true")
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    __table_args__ = (member_fk("id"),)


class CalendarFeed(TenantMixin, Base):
    __tablename__ = "calendar_feeds"
    member_id: Mapped[str] = mapped_column(Text, nullable=False)
    name: Mapped[str | None] = mapped_column(Text)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        member_fk("member_id", ondelete="CASCADE"),
        Index("ix_calendar_feeds_team_member", "team_id", "member_id"),
    )
