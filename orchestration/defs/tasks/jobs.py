"""The reminder job: one op that fires what fell due (see :mod:`api.tasks.reminders`)."""

from orchestration.service_job import run_waking, service_job


def fire_reminders_now() -> int:
    """Fire every due task reminder and overdue alert once; returns how many fired. A plain
    function (no CLI, no Dagster context): it runs its own event loop and engine, so it can be
    called from any synchronous code."""
    from api.tasks.reminders import fire_due_reminders

    async def once() -> int:
        return len(await fire_due_reminders())

    return run_waking(once)


task_reminders = service_job(
    "task_reminders",
    op="fire_task_reminders",
    run_once=fire_reminders_now,
    summary=lambda fired: f"{fired} task reminder(s) fired",
    description="Task reminders and overdue alerts: appends one reminder_fired event per "
    "reminder that fell due (each fires once).",
    op_description="Fire due task reminders and overdue alerts (reminder_fired events).",
    max_runtime=300,
)

jobs = [task_reminders]
