"""The dispatcher consumer that runs imports uploaded through the API.

``POST /api/v1/imports`` stores the file and creates the import (queued); its ``created``
event reaches this consumer in ``leadly worker``, which runs the import to its end. Delivery is
at least once and an import resumes where it stopped, so a redelivery (after a crash, a
restart or a retry) continues the import rather than repeating it. Imports started by the CLI
(``runner = cli``) are run by the CLI and skipped here.
"""

from __future__ import annotations

from api.dispatcher.registry import Consumer, DispatchedEvent

#: Longest an import may run inside one delivery before the worker counts it failed (it is then
#: retried, and resumes).
TIMEOUT_SECONDS = 6 * 3600.0


def queued_by_api(event: DispatchedEvent) -> bool:
    if event.object_type != "import" or event.action != "created":
        return False
    runner = event.changes.get("runner") or [None, None]
    return runner[1] != "cli"


async def run_queued_import(event: DispatchedEvent) -> None:
    """Run an uploaded import (parse, validate, COPY into raw, load in batches)."""
    from ingestion.runner import run_import

    try:
        await run_import(event.team_id, event.object_id)
    except LookupError:
        return  # the import is gone: nothing to do
    # ImportBusy and transient database errors propagate: the delivery is retried later.


imports_consumer = Consumer(
    "imports",
    run_queued_import,
    filter=queued_by_api,
    timeout=TIMEOUT_SECONDS,
    description="Run imports uploaded through the API",
)
