"""What one batch of a bulk load did: the result every set-based loader returns (leads and
call logs from ``api/<domain>/bulk.py``, deals from ingestion) and the import jobs add up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from leadly.actor import Actor


@dataclass(frozen=True, slots=True)
class BatchCounts:
    """What one batch did, counted in file rows (a folded in-file duplicate is a row too)."""

    imported: int  # rows that created a record
    updated: int  # rows applied onto a record that existed (or was created from an earlier row)
    skipped: int  # rows whose key belongs to a live record (policy skip, or a race)
    changed: int  # existing records whose values changed (one updated event each)


def batch_params(actor: Actor, import_id: str, batch_no: int) -> dict[str, Any]:
    """The bind parameters a loader's statement takes for batch ``batch_no`` of ``import_id``:
    the team, who writes (the events' actor and request id) and ``created_by`` (the member, none
    for the system)."""
    return {
        "team_id": actor.team_id,
        "import_id": import_id,
        "batch_no": batch_no,
        "actor_type": actor.actor_type,
        "actor_id": actor.member_id,
        "request_id": actor.request_id,
        "created_by": actor.member_id if actor.actor_type != "system" else None,
    }
