"""The Dagster job that purges expired codes and tokens and request-log rows older than 30 days,
run through the definitions at injected times."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import dagster as dg

from leadly import clock
from orchestration.defs.oauth.definitions import defs
from tests.api.auth.conftest import api_key, sql
from tests.api.oauth.conftest import TOKEN_URL, approve, code_flow, register
from tests.conftest import Team


async def _run_at(offset: timedelta) -> dict[str, int]:
    job = defs.resolve_job_def("oauth_purge")
    with clock.frozen(clock.now() + offset):  # the thread sees the frozen clock (context copied)
        result = await asyncio.to_thread(job.execute_in_process)
    assert result.success
    return result.output_for_node("purge_oauth_tokens_and_request_log")


def test_schedule_runs_hourly() -> None:
    schedule = defs.resolve_schedule_def("oauth_purge_hourly")
    assert schedule.cron_schedule == "17 * * * *" and schedule.job_name == "oauth_purge"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING


def _count(table: str, team: Team) -> int:
    return sql(f"SELECT count(*) FROM app.{table} WHERE team_id = %s", team.team_id)[0][0]


async def test_purge_keeps_what_can_still_be_used(team: Team, oauth) -> None:  # type: ignore[no-untyped-def]
    client = oauth(await register(team, "leads:read"))
    first = await code_flow(team, client)
    await client.refresh_token(TOKEN_URL, refresh_token=first["refresh_token"])  # rotated
    await approve(team, client)  # a code never exchanged
    key = team.as_token((await api_key(team, "leads:read"))["key"])
    assert (await key.get("/api/v1/leads")).status_code == 200  # one request-log row
    assert (_count("oauth_tokens", team), _count("oauth_codes", team)) == (2, 1)

    await _run_at(timedelta(0))  # nothing has expired
    assert (_count("oauth_tokens", team), _count("oauth_codes", team)) == (2, 1)
    assert _count("api_requests", team) == 1

    # two hours on: the code and the access tokens have expired, but both refresh tokens
    # (the rotated one too: showing it again must still revoke its family) are kept
    await _run_at(timedelta(hours=2))
    assert (_count("oauth_tokens", team), _count("oauth_codes", team)) == (2, 0)

    # 31 days on: every token is past use, and the request log past 30 days
    counts = await _run_at(timedelta(days=31))
    assert counts["tokens"] >= 2 and counts["requests"] >= 1
    assert _count("oauth_tokens", team) == 0 and _count("api_requests", team) == 0
