"""The shape of a job that runs one pass of a domain service (reminders, deliveries, digests):
one op, on an event loop and engines of its own, the worker woken by the events it appends."""

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import dagster as dg

T = TypeVar("T")


def run_waking(once: Callable[[], Awaitable[T]]) -> T:
    """``once()`` on a fresh event loop with its own engines (``warehouse.db.run``); what it
    appends wakes the dispatcher worker at once (``api.dispatcher.wake.publishing``). A plain
    function: callable from any synchronous code (a Dagster op, a test)."""
    from api.dispatcher import wake
    from warehouse.db import run

    async def body() -> T:
        async with wake.publishing():  # closes the broker after
            return await once()

    return run(body)


def service_job(
    name: str,
    *,
    op: str,
    run_once: Callable[[], Any],
    summary: Callable[[Any], str],
    description: str,
    op_description: str,
    max_runtime: int,
) -> dg.JobDefinition:
    """A job ``name`` of one op ``op`` that calls ``run_once()``, logs ``summary(result)`` and
    returns the result; stopped after ``max_runtime`` seconds."""

    @dg.op(name=op, description=op_description)
    def pass_once(context: dg.OpExecutionContext) -> Any:
        result = run_once()
        context.log.info(summary(result))
        return result

    @dg.job(name=name, description=description, tags={"dagster/max_runtime": str(max_runtime)})
    def job() -> None:
        pass_once()

    return job
