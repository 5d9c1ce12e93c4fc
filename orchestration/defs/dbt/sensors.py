"""Build sooner when many events arrive: after a bulk import or a busy hour the 15-minute
schedule would leave the marts behind.

The sensor's cursor is a position in the event log, ``(txid, id)`` (the order of the index
``ix_events_txid_id``, so counting is an index range scan however long the log). When at least
``LEADLY_DBT_EVENTS_THRESHOLD`` (default 5,000) committed events lie past the cursor, the sensor
requests an incremental build and moves the cursor to the newest committed event. A first
evaluation (no cursor) counts from the start of the log.

The count is a trigger, not a ledger: the builds read the event log themselves. An event of a
transaction that commits after the cursor moved past its ``txid`` is not counted (it is built by
the next build all the same), and the sensor never waits for transactions still running.
"""

import json
from dataclasses import dataclass

import dagster as dg
import psycopg

from orchestration.defs.dbt.jobs import dbt_incremental_build, dbt_run_pending
from orchestration.env import events_threshold
from orchestration.resources import PostgresResource

EVENTS_SENSOR_TAG = "leadly/new_events"


@dataclass(frozen=True)
class EventCursor:
    txid: int = 0
    id: int = 0

    @classmethod
    def parse(cls, raw: str | None) -> "EventCursor":
        if not raw:
            return cls()
        data = json.loads(raw)
        return cls(int(data["txid"]), int(data["id"]))

    def dump(self) -> str:
        return json.dumps({"txid": str(self.txid), "id": self.id})


# One statement, one snapshot: the count past the cursor (stopping at `limit`, so a huge
# backlog costs no more than the threshold) and the newest committed event.
_NEW_EVENTS = """
SELECT
  (SELECT count(*) FROM (
     SELECT 1 FROM app.events
     WHERE (txid, id) > (CAST(%(txid)s AS xid8), %(id)s)
     LIMIT %(limit)s) AS s) AS new_events,
  (SELECT e.txid::text FROM app.events AS e ORDER BY e.txid DESC, e.id DESC LIMIT 1) AS head_txid,
  (SELECT id FROM app.events ORDER BY txid DESC, id DESC LIMIT 1) AS head_id
"""


def count_new_events(
    conn: psycopg.Connection, cursor: EventCursor, limit: int
) -> tuple[int, EventCursor]:
    """Events past ``cursor`` (at most ``limit``) and the cursor of the newest event."""
    row = conn.execute(
        _NEW_EVENTS, {"txid": str(cursor.txid), "id": cursor.id, "limit": limit}
    ).fetchone()
    assert row is not None
    new_events, head_txid, head_id = row
    head = EventCursor(int(head_txid), int(head_id)) if head_txid is not None else cursor
    return int(new_events), head


def _pending(context: dg.SensorEvaluationContext) -> bool:
    try:
        instance = context.instance
    except dg.DagsterInvariantViolationError:  # evaluated without an instance (unit tests)
        return False
    return dbt_run_pending(instance)


@dg.sensor(
    name="dbt_on_new_events",
    job=dbt_incremental_build,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests an incremental dbt build once LEADLY_DBT_EVENTS_THRESHOLD events "
    "(default 5,000) arrived since its last request.",
)
def dbt_on_new_events(context: dg.SensorEvaluationContext, postgres: PostgresResource):
    threshold = events_threshold()
    cursor = EventCursor.parse(context.cursor)
    with postgres.connect() as conn:
        new_events, head = count_new_events(conn, cursor, threshold)
    if new_events < threshold:
        return dg.SkipReason(
            f"{new_events} new events since the last request; a build starts at {threshold}"
        )
    if _pending(context):
        return dg.SkipReason(
            f"{new_events}+ new events, but a dbt build is already queued and will include them"
        )
    context.update_cursor(head.dump())
    return dg.RunRequest(
        run_key=f"events-{head.txid}-{head.id}",
        tags={EVENTS_SENSOR_TAG: f"{new_events}+"},
    )
