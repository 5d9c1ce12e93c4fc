"""The reminder job: one op that fires what fell due (see :mod:`api.tasks.reminders`)."""

import dagster as dg


def fire_reminders_now() -> int:
    """Fire every due task reminder and overdue alert once; returns how many fired. A plain
    function (no CLI, no Dagster context): it runs its own event loop and engine, so it can be
    called from any synchronous code."""
    from api.dispatcher import wake
    from api.tasks.reminders import fire_due_reminders
    from warehouse.db import run

    async def once() -> int:
        async with wake.publishing():  # the worker hears of the reminders at once
            return len(await fire_due_reminders())

    return run(once)


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
