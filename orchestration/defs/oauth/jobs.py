"""The purge job: expired OAuth codes, tokens past every use, request-log rows older than 30
days (see :func:`api.oauth.service.purge`)."""

from orchestration.service_job import run_waking, service_job


def purge_now() -> dict[str, int]:
    """One purge on an event loop of its own; the counts of rows deleted."""
    from api.oauth.service import purge

    return run_waking(purge)


oauth_purge = service_job(
    "oauth_purge",
    op="purge_oauth_tokens_and_request_log",
    run_once=purge_now,
    summary=lambda n: (
        f"{n['codes']} code(s), {n['tokens']} token(s), {n['requests']} request-log row(s) purged"
    ),
    description="Purge expired OAuth codes and tokens, and request-log rows older than 30 days.",
    op_description="Delete expired OAuth codes and tokens and request-log rows past 30 days.",
    max_runtime=900,
)

jobs = [oauth_purge]
