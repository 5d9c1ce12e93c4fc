"""The webhooks job: disable the endpoints whose every delivery has failed for 5 days (see
:func:`api.webhooks.delivery.disable_failing`; each failed attempt checks this too)."""

import dagster as dg


def disable_failing_now() -> int:
    """Disable every endpoint failing for 5 days; how many were. A plain function with its own
    event loop."""
    from api.webhooks.delivery import disable_failing
    from warehouse.db import run

    return run(disable_failing)


@dg.op(description="Disable webhook endpoints failing for 5 days and tell the team's admins.")
def disable_failing_webhooks(context: dg.OpExecutionContext) -> int:
    n = disable_failing_now()
    context.log.info(f"webhooks disabled: {n}")
    return n


@dg.job(
    description="Disable webhook endpoints whose every delivery has failed for 5 days.",
    tags={"dagster/max_runtime": "600"},
)
def webhooks_disable_failing() -> None:
    disable_failing_webhooks()


jobs = [webhooks_disable_failing]
