"""The reminder job: one op that fires what fell due (see :mod:`api.tasks.reminders`)."""

import asyncio

import dagster as dg


def fire_reminders_now() -> int:
    """Fire every due task reminder and overdue alert once; returns how many fired. A plain
    function (no CLI, no Dagster context): it runs its own event loop and engine, so it can be
    called from any synchronous code."""
    from api.dispatcher import wake
    from api.tasks.reminders import fire_due_reminders
    from leadly.settings import get_settings
    from warehouse.db import database_url, make_async_engine

    async def run() -> int:
        s = get_settings()
        engine = make_async_engine(database_url(s), s.api_db_role, pool_size=2)
        try:
            async with wake.publishing():  # the worker hears of the reminders at once
                return len(await fire_due_reminders(engine=engine))
        finally:
            await engine.dispose()

    return asyncio.run(run())


@dg.op(description="Fire due task reminders and overdue alerts (reminder_fired events).")
def fire_task_reminders(context: dg.OpExecutionContext) -> int:
    fired = fire_reminders_now()
    context.log.info(f"{fired} task reminder(s) fired")
    return fired


@dg.job(
    description="Task reminders and overdue alerts: appends one reminder_fired event per "
    "reminder that fell due (each fires once).",
    tags={"dagster/max_runtime": "300"},
)
def task_reminders() -> None:
    fire_task_reminders()


jobs = [task_reminders]
