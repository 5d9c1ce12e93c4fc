"""The webhooks job: disable the endpoints whose every delivery has failed for 5 days (see
:func:`api.webhooks.delivery.disable_failing`; each failed attempt checks this too)."""

from orchestration.service_job import run_waking, service_job


def disable_failing_now() -> int:
    """Disable every endpoint failing for 5 days and tell its team's admins; how many were. A
    plain function with its own event loop."""
    from api.webhooks.delivery import disable_failing

    return run_waking(disable_failing)


webhooks_disable_failing = service_job(
    "webhooks_disable_failing",
    op="disable_failing_webhooks",
    run_once=disable_failing_now,
    summary=lambda n: f"{n} webhook endpoint(s) disabled",
    description="Disable webhook endpoints whose every delivery has failed for 5 days.",
    op_description="Disable webhook endpoints failing for 5 days and tell the team's admins.",
    max_runtime=600,
)

jobs = [webhooks_disable_failing]
