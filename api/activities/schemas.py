"""Activities, comments, mentions and search results as the API shows them.

``metadata`` is validated per activity type with msgspec tagged Structs: the activity's ``type``
is the tag, so ``{"type": "call", **metadata}`` converts to :class:`CallMetadata` and so on
(:data:`ActivityMetadata`). Unknown fields are refused, like everywhere else in the API.
"""

from datetime import datetime
from typing import Annotated, Any, Literal

from msgspec import Meta, Struct

from api.common.fields import LongText, RecordId, Text, Url
from api.common.structs import page_of, partial
from warehouse.models.activities import ACTIVITY_TYPES
from warehouse.models.crm import CALL_DIRECTIONS

ActivityType = Literal[ACTIVITY_TYPES]
#: What people log through ``POST /api/v1/activities``; every other type is derived from the
#: event log by the timeline consumer and refused on that route.
LOGGABLE_TYPES = ("call", "email", "meeting", "note", "file")
ObjectName = Annotated[str, Meta(pattern=r"^[a-z][a-z_]{0,39}$")]
AwareDatetime = Annotated[datetime, Meta(tz=True)]
Seconds = Annotated[int, Meta(ge=0, le=7 * 24 * 3600)]
CommentText = Annotated[str, Meta(min_length=1, max_length=20_000, pattern=r"^[^\x00]*$")]
EmailAddress = Annotated[str, Meta(pattern=r"^[^@\s\x00]+@[^@\s\x00]+$", max_length=320)]


class _Meta(Struct, forbid_unknown_fields=True, kw_only=True, tag_field="type"):
    pass


class CallMetadata(_Meta, tag="call", kw_only=True):
    duration: Seconds = 0
    """Length of the call in seconds."""
    outcome: Text | None = None
    """Free text: connected, voicemail, no answer, ..."""
    recording_url: Url | None = None
    direction: Literal[CALL_DIRECTIONS] | None = None
    phone_number: Annotated[str, Meta(max_length=40)] | None = None


class EmailMetadata(_Meta, tag="email", kw_only=True):
    status: Literal["sent", "received", "opened", "clicked"] = "sent"
    from_address: EmailAddress | None = None
    to_addresses: Annotated[list[EmailAddress], Meta(max_length=100)] = []
    cc_addresses: Annotated[list[EmailAddress], Meta(max_length=100)] = []
    message_id: Text | None = None
    opened_at: AwareDatetime | None = None
    clicked_at: AwareDatetime | None = None
    url: Url | None = None
    """The link that was clicked (status clicked)."""


class MeetingMetadata(_Meta, tag="meeting", kw_only=True):
    status: Literal["scheduled", "completed", "cancelled"] = "scheduled"
    starts_at: AwareDatetime
    ends_at: AwareDatetime | None = None
    attendee_ids: Annotated[list[RecordId], Meta(max_length=200)] = []
    """Members of the team who attend."""
    location: Text | None = None
    conference_url: Url | None = None


class NoteMetadata(_Meta, tag="note", kw_only=True):
    pinned: bool = False


class FileMetadata(_Meta, tag="file", kw_only=True):
    action: Literal["uploaded", "shared", "downloaded"]
    file_name: Text
    file_id: Text | None = None
    url: Url | None = None
    size: Annotated[int, Meta(ge=0)] | None = None
    content_type: Text | None = None


class TaskMetadata(_Meta, tag="task", kw_only=True):
    action: Literal["created", "completed"]
    task_id: Text | None = None


class StatusChangeMetadata(_Meta, tag="status_change", kw_only=True):
    field: str
    old: Any = None
    new: Any = None
    action: str = "updated"
    other_fields: list[str] = []


class FieldUpdateMetadata(_Meta, tag="field_update", kw_only=True):
    fields: list[str]
    changes: dict[str, Any] = {}
    action: str = "updated"


class SystemMetadata(_Meta, tag="system", kw_only=True):
    action: str
    changes: dict[str, Any] = {}
    data: dict[str, Any] = {}


ActivityMetadata = (
    CallMetadata
    | EmailMetadata
    | MeetingMetadata
    | NoteMetadata
    | FileMetadata
    | TaskMetadata
    | StatusChangeMetadata
    | FieldUpdateMetadata
    | SystemMetadata
)
METADATA_BY_TYPE: dict[str, type[_Meta]] = {
    "call": CallMetadata,
    "email": EmailMetadata,
    "meeting": MeetingMetadata,
    "note": NoteMetadata,
    "file": FileMetadata,
    "task": TaskMetadata,
    "status_change": StatusChangeMetadata,
    "field_update": FieldUpdateMetadata,
    "system": SystemMetadata,
}


class ActivityCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    type: ActivityType
    """call | email | meeting | note | file (the other types are derived from the event log)."""
    related_to_type: ObjectName
    """The singular object name: lead, deal, contact, account, task, ..."""
    related_to_id: RecordId
    subject: Text | None = None
    description: LongText | None = None
    """HTML is sanitised; ``@[Name](member_id)`` mentions a member."""
    occurred_at: AwareDatetime | None = None
    """Defaults to now."""
    metadata: Annotated[dict[str, Any], Meta(max_length=100)] = {}
    """Per type: call {duration, outcome, recording_url, direction, phone_number}; email
    {status, from_address, to_addresses, ...}; meeting {status, starts_at, ends_at,
    attendee_ids, location, conference_url}; note {pinned}; file {action, file_name, ...}."""


# An activity's type and record are set when it is logged; its time cannot be cleared.
ActivityUpdate = partial(
    ActivityCreate,
    name="ActivityUpdate",
    exclude=("type", "related_to_type", "related_to_id"),
    not_null=("occurred_at",),
)


class Activity(Struct, kw_only=True):
    id: str
    type: ActivityType
    subject: str | None
    description: str | None
    related_to_type: str
    related_to_id: str
    actor_type: str
    member_id: str | None
    occurred_at: datetime
    metadata: dict[str, Any]
    source_event_id: int | None
    """The event this entry was derived from (null for logged activities)."""
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    version: int


class CommentIn(Struct, forbid_unknown_fields=True, kw_only=True):
    text: CommentText
    """HTML is sanitised; ``@[Name](member_id)`` mentions a member."""
    parent_comment_id: RecordId | None = None
    """Reply to this comment (of the same activity)."""


class CommentUpdate(Struct, forbid_unknown_fields=True, kw_only=True):
    text: CommentText


class Comment(Struct, kw_only=True):
    id: str
    activity_id: str
    parent_comment_id: str | None
    author_id: str
    text: str | None
    """Null once deleted (the comment stays in the thread as a tombstone)."""
    deleted: bool
    created_at: datetime
    updated_at: datetime
    edited_at: datetime | None
    deleted_at: datetime | None
    version: int
    mentions: list[str] = []
    """Member ids mentioned in the text."""
    replies: list["Comment"] = []


CommentPage = page_of(Comment)


class Mention(Struct, kw_only=True):
    id: str
    member_id: str
    activity_id: str
    comment_id: str | None
    mentioned_by: str | None
    created_at: datetime
    read_at: datetime | None
    related_to_type: str
    related_to_id: str
    activity_subject: str | None
    excerpt: str | None


MentionPage = page_of(Mention)


class MarkReadIn(Struct, forbid_unknown_fields=True, kw_only=True):
    ids: Annotated[list[RecordId], Meta(max_length=1000)] | None = None
    """Mentions to mark read; omitted: all of mine."""


class MarkReadOut(Struct, kw_only=True):
    updated: int


class TimelineGroup(Struct, kw_only=True):
    key: str
    count: int
    items: list[Activity]


TimelinePage = page_of(Activity, name="TimelinePage")


class GroupedTimelinePage(Struct, kw_only=True):
    group_by: str
    groups: list[TimelineGroup]
    data: list[Activity]
    next_cursor: str | None
    has_more: bool


class SearchHit(Struct, kw_only=True):
    activity: Activity
    rank: float
    snippet: str
    """HTML: text escaped, matching words in ``<mark>``."""
    comment_id: str | None = None
    """Set when the best match is a comment on the activity."""


SearchPage = page_of(SearchHit, name="SearchPage")
