"""What the record page knows of each object: its API path, how a record is named and found,
its fields (label, kind, choices, whether a member may edit it), its related lists and actions.

One generic record page (``apps/record.py``) is driven by these descriptions rather than five
copies. The shape is plain data so that objects described by the API at run time (custom
objects, ``GET /api/v1/metadata/objects``) can be turned into :class:`ObjectDesc` too: a
collection path, an id prefix, fields with kinds, and the filter linking a related list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from apps import fmt
from warehouse.models.crm import CALL_DIRECTIONS, LEAD_STATUSES
from warehouse.models.deals import DEAL_STATUSES, VALUE_TYPES
from warehouse.models.tasks import TASK_PRIORITIES, TASK_STATUSES

#: Field kinds: how a value is shown (``fmt.value``) and edited (``apps/record.py``).
KINDS = ("text", "long_text", "choice", "member", "ref", "date", "datetime", "money", "number",
         "percent", "bool", "duration", "email", "url", "phone")  # fmt: skip


@dataclass(frozen=True)
class Field:
    name: str
    kind: str = "text"
    label: str = ""
    choices: tuple[str, ...] = ()
    ref: str = ""  # kind "ref": the referenced object's api_name
    editable: bool = True
    required: bool = False

    @property
    def title(self) -> str:
        return self.label or fmt.label(self.name)


@dataclass(frozen=True)
class Related:
    """A related list: records of ``object`` whose ``field`` holds this record's id (``field``
    ``related_to``: the ``related_to_type``/``related_to_id`` pair of tasks and activities;
    ``@name``: the ids listed in this record's ``name`` field, e.g. a deal's contacts)."""

    title: str
    object: str
    field: str
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class ObjectDesc:
    api_name: str  # "leads": the URL's plural and the key of OBJECTS
    singular: str  # "lead": the object type of timelines, tasks and watches
    label: str  # "Lead"
    plural_label: str  # "Leads"
    prefix: str  # the id prefix: "lead"
    path: str  # the API collection: "/leads"
    name_fields: tuple[str, ...]  # the record's name: these fields' values, joined
    search_fields: tuple[str, ...]  # text fields searched with filter[f__contains]
    fields: tuple[Field, ...]
    related: tuple[Related, ...] = ()
    columns: tuple[str, ...] = ()  # a list's columns after the name
    timeline: bool = True
    watchable: bool = True
    actions: frozenset[str] = field(default_factory=frozenset)  # "convert", "merge"
    sort: str = "-created_at"

    def name(self, row: Mapping[str, Any]) -> str:
        if {"first_name", "last_name"} & set(self.name_fields):
            who = fmt.person(row)
            if who:
                extra = [
                    str(row[f]) for f in self.name_fields if f == "company_name" and row.get(f)
                ]
                return " · ".join([who, *extra])
        parts = [str(row[f]) for f in self.name_fields if row.get(f) not in (None, "")]
        return " · ".join(parts) or f"{self.label} {str(row.get('id', ''))[-6:]}"

    def get_field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def list_fields(self) -> tuple[str, ...]:
        """The fields a list asks for (``fields=``): id, the name's and the columns' (and the
        currency of money)."""
        money = ("currency",) if self.get_field("currency") else ()
        return tuple(dict.fromkeys(("id", *self.name_fields, *self.columns, *money)))


OWNER = Field("owner_id", "member", "Owner")
TASKS = Related("Tasks", "tasks", "related_to", ("status", "priority", "due_at"))
CREATED = Field("created_at", "datetime", editable=False)


def deals_by(field: str) -> Related:
    return Related("Deals", "deals", field, ("stage", "value", "expected_close_date"))


def calls_by(field: str) -> Related:
    return Related("Calls", "call_logs", field, ("started_at", "duration", "outcome"))


OBJECTS: dict[str, ObjectDesc] = {
    d.api_name: d
    for d in (
        ObjectDesc(
            "leads", "lead", "Lead", "Leads", "lead", "/leads",
            name_fields=("first_name", "last_name", "company_name"),
            search_fields=("first_name", "last_name", "email", "company_name"),
            fields=(
                Field("first_name"), Field("last_name"), Field("email", "email"),
                Field("phone", "phone"), Field("title"), Field("company_name", label="Company"),
                Field("status", "choice", choices=LEAD_STATUSES), Field("source"),
                Field("rating", "number"), Field("industry"), Field("location"),
                Field("website", "url"), OWNER,
                Field("converted_contact_id", "ref", "Converted to contact", ref="contacts",
                      editable=False),
                Field("converted_account_id", "ref", "Converted to account", ref="accounts",
                      editable=False),
                Field("merged_into_id", "ref", "Merged into", ref="leads", editable=False),
                CREATED,
            ),
            related=(
                calls_by("lead_id"),
                deals_by("lead_id"),
                TASKS,
            ),
            columns=("email", "status", "source", "owner_id", "created_at"),
            actions=frozenset({"convert", "merge"}),
        ),
        ObjectDesc(
            "contacts", "contact", "Contact", "Contacts", "cont", "/contacts",
            name_fields=("first_name", "last_name"),
            search_fields=("first_name", "last_name", "email"),
            fields=(
                Field("first_name"), Field("last_name"), Field("email", "email"),
                Field("phone", "phone"), Field("title"),
                Field("account_id", "ref", "Account", ref="accounts"), OWNER,
                Field("lead_id", "ref", "From lead", ref="leads", editable=False),
                CREATED,
            ),
            related=(
                calls_by("contact_id"),
                TASKS,
            ),
            columns=("email", "account_id", "owner_id", "created_at"),
        ),
        ObjectDesc(
            "accounts", "account", "Account", "Accounts", "acct", "/accounts",
            name_fields=("name",),
            search_fields=("name", "domain"),
            fields=(
                Field("name", required=True), Field("domain"), Field("industry"),
                Field("website", "url"), OWNER, CREATED,
            ),
            related=(
                Related("Contacts", "contacts", "account_id", ("email", "title")),
                deals_by("account_id"),
                TASKS,
            ),
            columns=("domain", "industry", "owner_id", "created_at"),
        ),
        ObjectDesc(
            "deals", "deal", "Deal", "Deals", "deal", "/deals",
            name_fields=("name",),
            search_fields=("name", "next_step", "competitor"),
            fields=(
                Field("name", required=True), Field("stage", "choice", editable=False),
                Field("status", "choice", choices=DEAL_STATUSES, editable=False),
                Field("value", "money"), Field("currency"),
                Field("value_type", "choice", choices=VALUE_TYPES),
                Field("probability", "percent"), Field("weighted_value", "money", editable=False),
                Field("expected_close_date", "date", "Expected close"),
                Field("actual_close_date", "date", "Closed on", editable=False),
                OWNER, Field("account_id", "ref", "Account", ref="accounts"),
                Field("lead_id", "ref", "Lead", ref="leads"),
                Field("next_step"), Field("competitor"), Field("source"),
                Field("win_reason", editable=False), Field("loss_reason", editable=False),
                Field("days_in_stage", "number", editable=False),
                Field("is_rotting", "bool", editable=False),
                CREATED,
            ),
            related=(Related("Contacts", "contacts", "@contacts", ("email", "title")), TASKS),
            columns=("stage", "value", "owner_id", "expected_close_date"),
            sort="-updated_at",
        ),
        ObjectDesc(
            "call_logs", "call_log", "Call log", "Call logs", "call", "/call-logs",
            name_fields=("phone_number",),
            search_fields=("phone_number", "outcome", "notes"),
            fields=(
                Field("started_at", "datetime"), Field("direction", "choice", choices=CALL_DIRECTIONS),
                Field("phone_number", "phone"), Field("duration", "duration"), Field("outcome"),
                Field("lead_id", "ref", "Lead", ref="leads"),
                Field("contact_id", "ref", "Contact", ref="contacts"),
                Field("member_id", "member", "Rep"), Field("notes", "long_text"),
                Field("recording_url", "url"), Field("transcript", "long_text", editable=False),
            ),
            columns=("started_at", "direction", "duration", "outcome", "member_id"),
            timeline=False,
            watchable=False,
            sort="-started_at",
        ),
        ObjectDesc(
            "tasks", "task", "Task", "Tasks", "task", "/tasks",
            name_fields=("title",),
            search_fields=("title",),
            fields=(
                Field("title", required=True), Field("description", "long_text"),
                Field("status", "choice", choices=TASK_STATUSES),
                Field("priority", "choice", choices=TASK_PRIORITIES),
                Field("due_at", "datetime", "Due"),
                CREATED,
            ),
            columns=("status", "priority", "due_at"),
            timeline=True,
        ),
    )
}  # fmt: skip

#: The objects a rep opens, creates and searches (tasks have their own pages).
RECORD_OBJECTS = ("leads", "contacts", "accounts", "deals", "call_logs")


def of_id(record_id: str | None) -> ObjectDesc | None:
    """The object a record id belongs to, from its prefix (``deal_01J…`` → deals)."""
    if not record_id or "_" not in record_id:
        return None
    prefix = record_id.rsplit("_", 1)[0]
    return next((d for d in OBJECTS.values() if d.prefix == prefix), None)


def of_type(name: str | None) -> ObjectDesc | None:
    """The object by api_name (``leads``) or singular (``lead``)."""
    if not name:
        return None
    return OBJECTS.get(name) or next((d for d in OBJECTS.values() if d.singular == name), None)
