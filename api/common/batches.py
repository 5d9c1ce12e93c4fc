"""What one batch of a bulk load did: the result every set-based loader returns (leads and
call logs from ``api/<domain>/bulk.py``, deals from ingestion) and the import jobs add up."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BatchCounts:
    """What one batch did, counted in file rows (a folded in-file duplicate is a row too)."""

    imported: int  # rows that created a record
    updated: int  # rows applied onto a record that existed (or was created from an earlier row)
    skipped: int  # rows whose key belongs to a live record (policy skip, or a race)
    changed: int  # existing records whose values changed (one updated event each)
