"""Task routes: the uniform CRUD surface plus dependencies, timers, time logs, recurrence,
reminders, bulk actions and calendar feeds."""

from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post, put
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.guards import values_of
from api.tasks import calendar, dependencies, recurrence, reminders, time_logs
from api.tasks.bulk import bulk_action, parse_shift
from api.tasks.schemas import (
    BulkIn,
    BulkOut,
    CalendarFeedIn,
    CalendarFeedOut,
    Dependency,
    DependencyIn,
    DependencyList,
    ReminderDefaults,
    ReminderDefaultsOut,
    ReminderOut,
    Task,
    TaskCreate,
    TaskUpdate,
    TimeLog,
    TimeLogIn,
    TimeLogUpdate,
    TimeSummary,
)
from api.tasks.service import task_service
from api.web.body import strict_body
from api.web.crud import MAX_BATCH, crud_controller
from api.web.errors import problem_response
from api.web.handlers import caller, read_json, write_json, writer
from api.web.http import (
    RollbackWith,
    if_match,
    json_response,
    read,
    record_response,
    write,
)
from leadly.actor import Actor
from leadly.problem import Problem, bad_param, validation
from warehouse.db import api_engine, set_tenant

TasksController = crud_controller(task_service, TaskCreate, TaskUpdate, Task)


def _reader(request: Request) -> Actor:
    return caller(request, "tasks:read")


def _writer(request: Request) -> Actor:
    return writer(request, "tasks")


def _bulk_options(data: BulkIn) -> dict[str, Any]:
    errors = []
    if len(data.ids) > MAX_BATCH:
        errors.append({"field": "ids", "message": f"At most {MAX_BATCH} ids per call."})
    if len(set(data.ids)) != len(data.ids):
        errors.append({"field": "ids", "message": "An id is given more than once."})
    opts: dict[str, Any] = {}
    if data.action == "assign":
        if not isinstance(data.assignee_ids, list):
            errors.append({"field": "assignee_ids", "message": "assign needs assignee_ids."})
        else:
            opts = {"assignee_ids": data.assignee_ids, "mode": data.mode}
    elif data.action == "reschedule":
        has_due = not _unset(data.due_at)
        has_shift = not _unset(data.shift_by)
        if has_due == has_shift:
            errors.append(
                {"field": "due_at", "message": "reschedule takes due_at or shift_by (one of them)."}
            )
        elif has_due:
            opts = {"due_at": data.due_at}
        else:
            opts = {"shift": parse_shift(str(data.shift_by))}
    for field in ("assignee_ids", "due_at", "shift_by"):
        if not _unset(getattr(data, field)) and not _applies(data.action, field):
            errors.append({"field": field, "message": f"Not an option of {data.action}."})
    if errors:
        raise validation(errors)
    return opts


def _unset(v: Any) -> bool:
    return v is msgspec.UNSET


def _applies(action: str, field: str) -> bool:
    return (action, field) in {
        ("assign", "assignee_ids"),
        ("reschedule", "due_at"),
        ("reschedule", "shift_by"),
    }


class TaskActionsController(Controller):
    path = "/api/v1/tasks"
    tags = ["tasks"]

    @post("/bulk", status_code=200, before_request=strict_body(BulkIn, writes=("tasks",)))
    async def bulk(self, request: Request, data: BulkIn) -> Response[BulkOut]:
        """Assign, reschedule, complete or delete up to 1,000 tasks at once, atomically: when
        any id fails (404 when not visible, 409 when blocked, 422 when invalid) nothing is
        changed and the answer is 422 with every id's result."""
        actor = _writer(request)
        opts = _bulk_options(data)

        async def run(conn: AsyncConnection) -> Response:
            results, ok = await bulk_action(conn, actor, data.action, data.ids, opts)
            if not ok:
                failed = sum(1 for r in results if r["status"] >= 400)
                p = Problem(
                    422,
                    f"{failed} of {len(results)} tasks cannot be changed; nothing was changed.",
                    title="Unprocessable Content",
                    results=results,
                )
                raise RollbackWith(problem_response(p, request))
            return json_response({"results": results})

        return await write(request, actor, run)

    # ------------------------------------------------------------------ dependencies

    @post(
        "/{task_id:str}/dependencies",
        status_code=201,
        before_request=strict_body(DependencyIn, writes=("tasks",)),
    )
    async def add_dependency(
        self, request: Request, task_id: str, data: DependencyIn
    ) -> Response[Dependency]:
        """This task depends on ``depends_on_task_id``; a cycle is 422."""
        actor = _writer(request)

        async def run(conn: AsyncConnection) -> Response:
            row = await dependencies.add_dependency(
                conn, actor, task_id, data.depends_on_task_id, data.type
            )
            return json_response(row, 201)

        return await write(request, actor, run)

    @get("/{task_id:str}/dependencies")
    async def list_dependencies(self, request: Request, task_id: str) -> Response[DependencyList]:
        actor = _reader(request)
        return await read_json(actor, dependencies.dependencies, task_id)

    @delete("/{task_id:str}/dependencies/{dependency_id:str}", status_code=204)
    async def remove_dependency(self, request: Request, task_id: str, dependency_id: str) -> None:
        actor = _writer(request)

        async def run(conn: AsyncConnection) -> Response:
            await dependencies.remove_dependency(conn, actor, task_id, dependency_id)
            return Response(content=b"", status_code=204)

        await write(request, actor, run)

    # ------------------------------------------------------------------ time tracking

    @post("/{task_id:str}/timer/start", status_code=201)
    async def start_timer(self, request: Request, task_id: str) -> Response[TimeLog]:
        """Start the caller's timer on the task (409 while one of theirs runs anywhere)."""
        actor = _writer(request)
        return await write_json(request, actor, time_logs.start_timer, task_id, status=201)

    @post("/{task_id:str}/timer/stop", status_code=200)
    async def stop_timer(self, request: Request, task_id: str) -> Response[TimeLog]:
        actor = _writer(request)
        return await write_json(request, actor, time_logs.stop_timer, task_id)

    @post(
        "/{task_id:str}/time-logs",
        status_code=201,
        before_request=strict_body(TimeLogIn, writes=("tasks",)),
    )
    async def add_time_log(
        self, request: Request, task_id: str, data: TimeLogIn
    ) -> Response[TimeLog]:
        actor = _writer(request)

        async def run(conn: AsyncConnection) -> Response:
            row = await time_logs.add_time_log(conn, actor, task_id, values_of(data))
            return json_response(row, 201)

        return await write(request, actor, run)

    @patch(
        "/{task_id:str}/time-logs/{time_log_id:str}",
        status_code=200,
        before_request=strict_body(TimeLogUpdate, writes=("tasks",)),
    )
    async def update_time_log(
        self, request: Request, task_id: str, time_log_id: str, data: TimeLogUpdate
    ) -> Response[TimeLog]:
        """Edit a time log's ``started_at``, ``ended_at`` or ``notes`` (``If-Match`` with its
        version: 412 when stale). Setting ``ended_at`` on a running timer's log stops it. Only
        the member who logged it, or a manager and above."""
        actor = _writer(request)
        expected = if_match(request)
        values = values_of(data)
        if not values:
            raise validation(
                [{"field": "$", "message": "Send at least one of started_at, ended_at, notes."}]
            )

        async def run(conn: AsyncConnection) -> Response:
            row = await time_logs.update_time_log(
                conn, actor, task_id, time_log_id, values, if_match=expected
            )
            return record_response(row)

        return await write(request, actor, run)

    @delete("/{task_id:str}/time-logs/{time_log_id:str}", status_code=204)
    async def delete_time_log(self, request: Request, task_id: str, time_log_id: str) -> None:
        """Delete a time log (a running timer's too: the timer is discarded). Only the member
        who logged it, or a manager and above."""
        actor = _writer(request)
        expected = if_match(request)

        async def run(conn: AsyncConnection) -> Response:
            await time_logs.delete_time_log(conn, actor, task_id, time_log_id, if_match=expected)
            return Response(content=b"", status_code=204)

        await write(request, actor, run)

    @get("/{task_id:str}/time-logs")
    async def list_time_logs(self, request: Request, task_id: str) -> Response[list[TimeLog]]:
        actor = _reader(request)
        return await read_json(actor, time_logs.time_logs, task_id)

    @get("/{task_id:str}/time-summary")
    async def time_summary(self, request: Request, task_id: str) -> Response[TimeSummary]:
        """Actual vs estimated hours, rolled up through subtasks (any depth)."""
        actor = _reader(request)
        return await read_json(actor, time_logs.time_summary, task_id)

    # ------------------------------------------------------------------ recurrence, reminders

    @get("/{task_id:str}/occurrences")
    async def occurrences(self, request: Request, task_id: str) -> Response[list[datetime]]:
        """The next occurrences of a recurring task (``limit``, default 10, at most 200)."""
        actor = _reader(request)
        raw = request.query_params.get("limit", "10")
        if not raw.isdigit() or not 1 <= int(raw) <= 200:
            raise bad_param("limit", "limit must be an integer between 1 and 200.", "Out of range.")

        async def run(conn: AsyncConnection) -> Response:
            dates = await recurrence.upcoming(task_service, conn, actor, task_id, int(raw))
            return json_response([d.astimezone(UTC) for d in dates])

        return await read(actor, run)

    @post(
        "/{task_id:str}/split-series",
        status_code=200,
        before_request=strict_body(TaskUpdate, writes=("tasks",)),
    )
    async def split_series(
        self, request: Request, task_id: str, data: TaskUpdate
    ) -> Response[Task]:
        """Edit this occurrence and the following ones: the series is split here."""
        actor = _writer(request)

        async def run(conn: AsyncConnection) -> Response:
            return record_response(
                await recurrence.split_series(task_service, conn, actor, task_id, values_of(data))
            )

        return await write(request, actor, run)

    @get("/{task_id:str}/reminders")
    async def task_reminders(self, request: Request, task_id: str) -> Response[list[ReminderOut]]:
        """Reminders and overdue alerts: fired, scheduled, or skipped."""
        actor = _reader(request)
        return await read_json(actor, reminders.for_task, task_id)


class ReminderDefaultsController(Controller):
    path = "/api/v1/task-reminder-defaults"
    tags = ["tasks"]

    @get("/")
    async def get_defaults(self, request: Request) -> Response[ReminderDefaultsOut]:
        """The caller's default reminders (used when a task has no ``reminders`` override)."""
        actor = _reader(request)
        return await read_json(actor, reminders.defaults_of)

    @put("/", status_code=200, before_request=strict_body(ReminderDefaults))
    async def put_defaults(
        self, request: Request, data: ReminderDefaults
    ) -> Response[ReminderDefaultsOut]:
        actor = caller(request, "tasks:write")

        async def run(conn: AsyncConnection) -> Response:
            return json_response(
                await reminders.set_defaults(
                    conn, actor, list(data.reminder_offsets), data.overdue_alerts
                )
            )

        return await write(request, actor, run)


class CalendarFeedsController(Controller):
    path = "/api/v1/calendar-feeds"
    tags = ["tasks"]

    @post(
        "/",
        status_code=201,
        before_request=strict_body(CalendarFeedIn, optional=True, writes=()),
    )
    async def create_feed(
        self, request: Request, data: CalendarFeedIn | None = None
    ) -> Response[CalendarFeedOut]:
        """A new iCalendar feed of the caller's tasks; ``url`` is shown only here."""
        actor = caller(request, "tasks:read")
        name = data.name if data else None

        async def run(conn: AsyncConnection) -> Response:
            row = await calendar.create_feed(conn, actor, name, str(request.base_url))
            return json_response(row, 201)

        # The URL is a secret: never stored to be replayed for an Idempotency-Key.
        return await write(request, actor, run, idempotent=False)

    @get("/")
    async def list_feeds(self, request: Request) -> Response[list[CalendarFeedOut]]:
        actor = _reader(request)
        return await read_json(actor, calendar.list_feeds)

    @delete("/{feed_id:str}", status_code=204)
    async def revoke_feed(self, request: Request, feed_id: str) -> None:
        """Revoke a feed: its URL answers 404 from now on."""
        actor = caller(request, "tasks:read")

        async def run(conn: AsyncConnection) -> Response:
            await calendar.revoke_feed(conn, actor, feed_id)
            return Response(content=b"", status_code=204)

        await write(request, actor, run)

    @get(
        "/ics/{token:str}",
        opt={"exclude_from_auth": True},
        media_type="text/calendar",
        include_in_schema=True,
    )
    async def feed(self, request: Request, token: str) -> Response[bytes]:
        """The feed itself (no bearer token: the secret in the URL is the credential)."""
        async with api_engine().connect() as conn, conn.begin():
            found = await calendar.resolve(conn, token)
            if found is None:
                return problem_response(Problem(404, "No such calendar feed."), request)
            team_id, member_id = found
            await set_tenant(conn, team_id, member_id)
            body = await calendar.render(conn, Actor(team_id, member_id, "user"))
            if body is None:  # its member was deactivated: the feed died with them
                return problem_response(Problem(404, "No such calendar feed."), request)
        return Response(
            content=body,
            media_type="text/calendar; charset=utf-8",
            headers={"Cache-Control": "private, max-age=300"},
        )


routers = [
    TaskActionsController,
    TasksController,
    ReminderDefaultsController,
    CalendarFeedsController,
]
