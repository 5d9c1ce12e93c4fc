"""Set-based call-log writes for imports (the call-log counterpart of :mod:`api.leads.bulk`).

Call logs have no natural key, so an import never matches existing ones: every accepted row is
a new call log. Each row carries its pre-assigned id and rows whose id exists are not inserted
again (a re-run batch writes nothing twice). One ``created`` event per call log.

The lead, contact and member of a row are resolved before the rows land (:func:`resolve_refs`):
by id, or by email (leads and contacts: live records; members: email or name).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.batches import BatchCounts, batch_params
from leadly.actor import Actor

CREATED_FIELDS = (
    "id",
    "lead_id",
    "contact_id",
    "member_id",
    "direction",
    "phone_number",
    "started_at",
    "duration",
    "outcome",
    "notes",
    "transcript",
    "recording_url",
    "created_by",
    "created_at",
    "custom",
)

_PAIRS = ", ".join(
    f"'{f}', CASE WHEN i.{f} IS NOT NULL THEN jsonb_build_array(NULL, i.{f}) END"
    for f in CREATED_FIELDS
)

_INSERT = text(
    f"""
    WITH b AS (
      SELECT r.* FROM raw.team_call_log_import_rows r
      WHERE r.import_id = :import_id AND r.batch_no = :batch_no
    ),
    todo AS (
      SELECT b.* FROM b
      WHERE NOT EXISTS (
        SELECT 1 FROM app.call_logs c WHERE c.team_id = :team_id AND c.id = b.call_id)
    ),
    ins AS (
      INSERT INTO app.call_logs (team_id, id, lead_id, contact_id, member_id, direction,
                                 phone_number, started_at, duration, outcome, notes, transcript,
                                 recording_url, custom, created_by)
      SELECT :team_id, t.call_id, t.lead_id, t.contact_id, coalesce(t.member_id, :member_id),
             coalesce(t.direction, 'outbound'), t.phone_number, coalesce(t.started_at, now()),
             coalesce(t.duration, 0), t.outcome, t.notes, t.transcript, t.recording_url,
             coalesce(jsonb_strip_nulls(t.custom), '{{}}'::jsonb), :created_by
      FROM todo t ORDER BY t.row_no
      RETURNING {", ".join(CREATED_FIELDS)}
    ),
    ev AS (
      INSERT INTO app.events (team_id, actor_type, actor_id, object_type, object_id, action,
                              changes, data, request_id)
      SELECT :team_id, :actor_type, :actor_id, 'call_log', i.id, 'created',
             jsonb_strip_nulls(jsonb_build_object({_PAIRS})),
             jsonb_build_object('import_id', CAST(:import_id AS text), 'row', t.row_no),
             :request_id
      FROM ins i JOIN todo t ON t.call_id = i.id
      ORDER BY t.row_no
    )
    SELECT (SELECT count(*) FROM b) AS rows, (SELECT count(*) FROM ins) AS inserted
    """
)


async def load_batch(
    conn: AsyncConnection, actor: Actor, import_id: str, batch_no: int
) -> BatchCounts:
    params = batch_params(actor, import_id, batch_no)
    r = (await conn.execute(_INSERT, {**params, "member_id": params["created_by"]})).one()
    return BatchCounts(int(r.inserted), 0, int(r.rows) - int(r.inserted), 0)


def _by_id_or_email(table: str) -> str:
    """Each ref's live record of ``app.<table>``: the one with that id, else the oldest with
    that email."""
    return f"""
        SELECT r.ref, (
          SELECT x.id FROM app.{table} x
          WHERE x.team_id = :team_id AND x.deleted_at IS NULL
            AND (x.id = r.ref OR x.email_normalized = lower(r.ref))
          ORDER BY (x.id = r.ref) DESC, x.created_at LIMIT 1) AS id
        FROM unnest(CAST(:refs AS text[])) AS r(ref)
        """


_RESOLVE = {
    "lead": text(_by_id_or_email("leads")),
    "contact": text(_by_id_or_email("contacts")),
    "member": text(
        """
        SELECT r.ref, (
          SELECT m.id FROM app.team_members m
          WHERE m.team_id = :team_id
            AND (m.id = r.ref OR lower(m.email) = lower(r.ref) OR lower(m.name) = lower(r.ref))
          ORDER BY (m.id = r.ref) DESC, m.is_active DESC, m.created_at LIMIT 1) AS id
        FROM unnest(CAST(:refs AS text[])) AS r(ref)
        """
    ),
}


async def resolve_refs(
    conn: AsyncConnection, actor: Actor, kind: str, refs: Sequence[str], chunk: int = 5000
) -> list[tuple[str, str]]:
    """``(reference, id)`` for each reference of ``kind`` that names a record of the team."""
    out: list[tuple[str, str]] = []
    stmt: Any = _RESOLVE[kind]
    for i in range(0, len(refs), chunk):
        rows = await conn.execute(
            stmt, {"team_id": actor.team_id, "refs": list(refs[i : i + chunk])}
        )
        out.extend((r.ref, r.id) for r in rows if r.id is not None)
    return out
