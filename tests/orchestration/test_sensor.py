"""The events sensor: quiet below the threshold, one build request past it, cursor moved to the
newest event so the same events never count twice."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dagster as dg
import psycopg
import pytest

from orchestration.resources import PostgresResource
from tests.conftest import Team

if TYPE_CHECKING:
    # Imported in the tests: importing the sensors loads the dbt assets, which run `dbt parse`
    # when the manifest is stale, and that resolves the database (at collection time, before
    # the test database exists: it started the embedded server in the user's data folder).
    from orchestration.defs.dbt.sensors import EventCursor

# One worker runs every Dagster test (`--dist loadgroup`): definitions and builds load once.
pytestmark = pytest.mark.xdist_group("orchestration")


def insert_events(conn: psycopg.Connection, team_id: str, n: int) -> None:
    conn.execute(
        """
        INSERT INTO app.events (team_id, actor_type, object_type, object_id, action, changes)
        SELECT %s, 'system', 'lead', 'lead_sensor_' || g, 'updated', '{}'::jsonb
        FROM generate_series(1, %s) AS g
        """,
        (team_id, n),
    )


def evaluate(defs: dg.Definitions, cursor: str | None, instance: Any = None) -> Any:
    sensor = defs.resolve_sensor_def("dbt_on_new_events")
    context = dg.build_sensor_context(
        cursor=cursor, resources={"postgres": PostgresResource()}, instance=instance
    )
    return sensor.evaluate_tick(context)


def head(postgres: PostgresResource) -> EventCursor:
    from orchestration.defs.dbt.sensors import EventCursor, count_new_events

    with postgres.connect() as conn:
        return count_new_events(conn, EventCursor(), 1)[1]


async def test_sensor_requests_a_build_past_the_threshold(
    definitions: Any, team: Team, superuser: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestration.defs.dbt.sensors import EventCursor

    defs = definitions.defs
    monkeypatch.setenv("LEADLY_DBT_EVENTS_THRESHOLD", "25")
    postgres = PostgresResource()
    start = head(postgres)

    insert_events(superuser, team.team_id, 24)
    quiet = evaluate(defs, start.dump())
    assert not quiet.run_requests
    assert "24 new events" in (quiet.skip_message or "")
    assert quiet.cursor in (None, start.dump())  # not advanced

    insert_events(superuser, team.team_id, 1)
    fired = evaluate(defs, start.dump())
    assert len(fired.run_requests) == 1
    request = fired.run_requests[0]
    moved = EventCursor.parse(fired.cursor)
    assert moved == head(postgres)
    assert (moved.txid, moved.id) > (start.txid, start.id)
    assert request.run_key == f"events-{moved.txid}-{moved.id}"
    assert request.job_name in (None, "dbt_incremental_build")

    # From the new cursor nothing is new: the same events never trigger twice.
    after = evaluate(defs, fired.cursor)
    assert not after.run_requests
    assert "0 new events" in (after.skip_message or "")

    # A first evaluation (no cursor) counts the whole log: well past 25 events here.
    first = evaluate(defs, None)
    assert len(first.run_requests) == 1


async def test_sensor_waits_for_a_queued_build(
    definitions: Any, team: Team, superuser: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestration.env import DBT_RUN_TAG

    defs = definitions.defs
    monkeypatch.setenv("LEADLY_DBT_EVENTS_THRESHOLD", "5")
    postgres = PostgresResource()
    start = head(postgres)
    insert_events(superuser, team.team_id, 10)
    with dg.instance_for_test() as instance:
        instance.add_run(
            dg.DagsterRun(
                job_name="dbt_incremental_build",
                status=dg.DagsterRunStatus.NOT_STARTED,
                tags={DBT_RUN_TAG: "incremental"},
            )
        )
        waiting = evaluate(defs, start.dump(), instance)
        assert not waiting.run_requests
        assert "already queued" in (waiting.skip_message or "")
        assert waiting.cursor in (None, start.dump())
