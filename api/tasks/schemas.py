from datetime import datetime
from typing import Annotated, Literal

from msgspec import UNSET, Meta, Struct, UnsetType

from api.common.fields import Custom, LongText, RecordId, Text
from api.common.structs import partial
from warehouse.models.tasks import (
    DEPENDENCY_TYPES,
    REMINDER_KINDS,
    TASK_PRIORITIES,
    TASK_STATUSES,
    TIME_LOG_SOURCES,
)

TaskStatus = Literal[TASK_STATUSES]
TaskPriority = Literal[TASK_PRIORITIES]
DependencyType = Literal[DEPENDENCY_TYPES]
Title = Annotated[str, Meta(min_length=1, max_length=500, pattern=r"^[^\x00]*\S[^\x00]*$")]
Tag = Annotated[str, Meta(min_length=1, max_length=100, pattern=r"^[^\x00,]+$")]
ObjectType = Annotated[str, Meta(pattern=r"^[a-z][a-z_]{0,39}$")]
Hours = Annotated[float, Meta(ge=0, le=100_000)]
Rule = Annotated[str, Meta(min_length=1, max_length=500, pattern=r"^[^\x00]*$")]
# How long before due: minutes/hours are exact durations, days/weeks are calendar days in the
# member's time zone (the same wall-clock time, across daylight-saving changes).
ReminderOffset = Annotated[str, Meta(pattern=r"^[1-9][0-9]{0,4}[mhdw]$")]
Members = Annotated[list[RecordId], Meta(max_length=50)]
Tags = Annotated[list[Tag], Meta(max_length=50)]
Offsets = Annotated[list[ReminderOffset], Meta(max_length=10)]
ExDates = Annotated[list[datetime], Meta(max_length=500)]


class TaskCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    title: Title
    description: LongText | None = None
    status: TaskStatus = "todo"
    priority: TaskPriority = "medium"
    due_at: datetime | None = None
    """ISO 8601; without an offset it is read in the first assignee's time zone."""
    assignee_ids: Members = []
    related_to_type: ObjectType | None = None
    """lead, contact, account, deal, task, ... (any object with an id)."""
    related_to_id: RecordId | None = None
    tags: Tags = []
    parent_task_id: RecordId | None = None
    estimated_hours: Hours | None = None
    recurrence_rule: Rule | None = None
    """An RFC 5545 RRULE value, e.g. FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10 (due_at is DTSTART)."""
    recurrence_exdates: ExDates = []
    """Occurrences to skip (EXDATE), as their start times."""
    reminders: Offsets | None = None
    """Override the assignees' default reminders, e.g. ["1h", "1d", "1w"]; [] for none."""
    custom: Custom = {}


TaskUpdate = partial(TaskCreate, name="TaskUpdate")


class Task(Struct, kw_only=True):
    id: str
    title: str
    description: str | None
    status: TaskStatus
    priority: TaskPriority
    priority_rank: int
    due_at: datetime | None
    time_zone: str
    started_at: datetime | None
    completed_at: datetime | None
    assignee_ids: list[str]
    related_to_type: str | None
    related_to_id: str | None
    tags: list[str]
    parent_task_id: str | None
    estimated_hours: float | None
    actual_hours: float
    """Hours logged on the task and all its subtasks (running timers count up to now)."""
    recurrence_rule: str | None
    recurrence_exdates: list[datetime]
    series_id: str | None
    series_start_at: datetime | None
    occurrence_at: datetime | None
    next_occurrence_id: str | None
    reminders: list[str] | None
    custom: dict
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    version: int


class DependencyIn(Struct, forbid_unknown_fields=True, kw_only=True):
    depends_on_task_id: RecordId
    type: DependencyType = "finish_to_start"


class Dependency(Struct, kw_only=True):
    id: str
    task_id: str
    depends_on_task_id: str
    type: DependencyType
    created_by: str | None
    created_at: datetime


class DependencyList(Struct, kw_only=True):
    depends_on: list[Dependency]
    """What this task waits for."""
    blocks: list[Dependency]
    """Tasks that wait for this one."""


class TimeLogIn(Struct, forbid_unknown_fields=True, kw_only=True):
    started_at: datetime
    ended_at: datetime
    notes: LongText | None = None


TimeLogUpdate = partial(
    TimeLogIn,
    name="TimeLogUpdate",
    doc="""A PATCH of a time log: at least one field. ``ended_at`` on a running timer's log stops
    it at that time; it cannot be cleared (null).""",
)


class TimeLog(Struct, kw_only=True):
    id: str
    task_id: str
    member_id: str
    started_at: datetime
    ended_at: datetime | None
    hours: float
    notes: str | None
    source: Literal[TIME_LOG_SOURCES]
    created_at: datetime
    version: int


class TimeSummary(Struct, kw_only=True):
    task_id: str
    estimated_hours: float | None
    own_actual_hours: float
    actual_hours: float
    """Logged on the task and every subtask, any depth."""
    estimated_hours_total: float | None
    """The task's estimate plus its subtasks' (None when none has one)."""
    subtask_count: int


class SplitIn(TaskUpdate, forbid_unknown_fields=True, kw_only=True):
    """A "this and following" edit: the same fields as PATCH."""


class BulkIn(Struct, forbid_unknown_fields=True, kw_only=True):
    action: Literal["assign", "reschedule", "complete", "delete"]
    ids: Annotated[list[Annotated[str, Meta(max_length=200)]], Meta(min_length=1)]
    assignee_ids: Members | UnsetType = UNSET
    """assign: the members to assign."""
    mode: Literal["replace", "add", "remove"] = "replace"
    """assign: replace the assignees, add to them or remove from them."""
    due_at: datetime | None | UnsetType = UNSET
    """reschedule: the new due date (or null to clear it)."""
    shift_by: Annotated[str, Meta(max_length=40)] | UnsetType = UNSET
    """reschedule: an ISO 8601 duration such as P1D, -PT2H or P1W (days and weeks keep the
    wall-clock time in the task's time zone)."""


class BulkResult(Struct, kw_only=True, omit_defaults=True):
    id: str
    status: int
    detail: str | None = None
    blocking_task_id: str | None = None


class BulkOut(Struct, kw_only=True):
    results: list[BulkResult]


class ReminderOut(Struct, kw_only=True):
    member_id: str
    kind: Literal[REMINDER_KINDS]
    offset: str
    due_at: datetime
    remind_at: datetime
    status: Literal["scheduled", "fired", "skipped"]
    fired_at: datetime | None


class ReminderDefaults(Struct, forbid_unknown_fields=True, kw_only=True):
    reminder_offsets: Offsets
    overdue_alerts: bool = True


class ReminderDefaultsOut(Struct, kw_only=True):
    member_id: str
    time_zone: str
    reminder_offsets: list[str]
    overdue_alerts: bool


class CalendarFeedIn(Struct, forbid_unknown_fields=True, kw_only=True):
    name: Text | None = None


class CalendarFeedOut(Struct, kw_only=True):
    id: str
    name: str | None
    member_id: str
    created_at: datetime
    revoked_at: datetime | None
    url: str | None = None
    """Only in the answer to the POST that created it: the secret cannot be read again."""
