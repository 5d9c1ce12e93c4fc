"""Each domain value list has one home, ``warehouse/models/<domain>.py``: the migrated check
constraints hold exactly its values, and the API's enums are built from it."""

from __future__ import annotations

import re
import typing
from typing import Any

import msgspec
from sqlalchemy import CheckConstraint

from api.activities.schemas import ActivityCreate
from api.call_logs.schemas import CallLogCreate
from api.deals.schemas import DealCreate
from api.imports.schemas import Import
from api.leads.schemas import LeadCreate
from api.tasks.schemas import TaskCreate
from warehouse.models import metadata
from warehouse.models.activities import ACTIVITY_TYPES
from warehouse.models.crm import CALL_DIRECTIONS, LEAD_STATUSES
from warehouse.models.deals import VALUE_TYPES
from warehouse.models.imports import DUPLICATE_POLICIES, IMPORT_STATUSES
from warehouse.models.tasks import TASK_PRIORITIES, TASK_STATUSES

_IN = re.compile(r"^\(?(\w+) IN \((.*)\)\)?$")


def _model_lists() -> dict[tuple[str, str], list[str]]:
    """(schema.table, column) -> the values of each ``column IN (...)`` check of the models."""
    out: dict[tuple[str, str], list[str]] = {}
    for table in metadata.tables.values():
        for c in table.constraints:
            if isinstance(c, CheckConstraint):
                m = _IN.match(str(c.sqltext))
                if m:
                    out[(table.fullname, m.group(1))] = re.findall(r"'([^']*)'", m.group(2))
    return out


async def test_migrated_checks_hold_the_models_value_lists(db: Any) -> None:
    lists = _model_lists()
    assert ("app.leads", "status") in lists and len(lists) >= 15
    for (table, column), values in lists.items():
        cur = await db.execute(
            """SELECT pg_get_constraintdef(c.oid) AS def FROM pg_constraint c
               WHERE c.conrelid = %s::regclass AND c.contype = 'c'""",
            (table,),
        )
        found = [
            re.findall(r"'([^']*)'::text", r["def"])
            for r in await cur.fetchall()
            if re.search(rf"\b{column}\b", r["def"]) and "'" in r["def"]
        ]
        assert sorted(values) in [sorted(f) for f in found], (table, column, found)


def _enum(struct: type[msgspec.Struct], field: str) -> tuple[Any, ...]:
    tp = typing.get_type_hints(struct)[field]
    literal = next(a for a in (tp, *typing.get_args(tp)) if typing.get_origin(a) is typing.Literal)
    return typing.get_args(literal)


def test_api_enums_are_the_models_value_lists() -> None:
    assert _enum(LeadCreate, "status") == LEAD_STATUSES
    assert _enum(CallLogCreate, "direction") == CALL_DIRECTIONS
    assert _enum(ActivityCreate, "type") == ACTIVITY_TYPES
    assert _enum(DealCreate, "value_type") == VALUE_TYPES
    assert _enum(TaskCreate, "status") == TASK_STATUSES
    assert _enum(TaskCreate, "priority") == TASK_PRIORITIES
    assert _enum(Import, "status") == IMPORT_STATUSES
    assert _enum(Import, "duplicate_policy") == DUPLICATE_POLICIES
