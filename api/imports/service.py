"""Imports: the only code that writes ``app.imports``.

An import is created queued (its ``created`` event is what the dispatcher's ``imports`` consumer
runs it from, unless the CLI runs it itself), moves to running, and ends completed or failed;
each of those status changes appends an ``updated`` event (by the system). The counters move
once per committed batch, in that batch's transaction, without an event; ``raw.import_batches``
records which batches committed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.batches import BatchCounts
from api.common.records import RecordService, plausible_id
from leadly.actor import Actor, system_actor
from warehouse.models import Import


class ImportService(RecordService):
    table = Import.__table__
    object_type = "import"
    plural = "imports"
    prefix = "imp"
    soft_delete = False
    extra_hidden = frozenset({"stored_path", "file_sha256", "request_id"})

    async def internal(
        self, conn: AsyncConnection, team_id: str, id: str, *, for_update: bool = False
    ) -> dict[str, Any] | None:
        """Every column (stored path, checksum, request id included), or None."""
        if not plausible_id(id):
            return None
        t = self.table
        q = select(t).where(t.c.team_id == team_id, t.c.id == id)
        if for_update:
            q = q.with_for_update()
        row = (await conn.execute(q)).first()
        return dict(row._mapping) if row else None

    async def find_resumable(
        self, conn: AsyncConnection, actor: Actor, sha256: str, obj: str
    ) -> dict[str, Any] | None:
        """The latest unfinished CLI import of the same file (same checksum) and object."""
        t = self.table
        row = (
            await conn.execute(
                select(t)
                .where(
                    t.c.team_id == actor.team_id,
                    t.c.file_sha256 == sha256,
                    t.c.object == obj,
                    t.c.runner == "cli",
                    t.c.status.in_(("queued", "running")),
                )
                .order_by(t.c.created_at.desc())
                .limit(1)
            )
        ).first()
        return dict(row._mapping) if row else None

    async def set_status(
        self,
        conn: AsyncConnection,
        team_id: str,
        current: Mapping[str, Any],
        status: str,
        **values: Any,
    ) -> dict[str, Any]:
        """Move to ``status`` (running: started_at; completed/failed: finished_at) with an
        ``updated`` event by the system carrying what changed."""
        changes: dict[str, Any] = {"status": status, **values}
        if status == "running" and current.get("started_at") is None:
            changes["started_at"] = func.now()
        if status in ("completed", "failed"):
            changes["finished_at"] = func.now()
        actor = system_actor(team_id, current.get("request_id"))
        public = {k: current[k] for k in self.public_columns if k in current}
        return await self.apply(conn, actor, public, changes, "updated")

    async def record_staging(
        self, conn: AsyncConnection, team_id: str, id: str, **values: Any
    ) -> None:
        t = self.table
        await conn.execute(
            update(t)
            .where(t.c.team_id == team_id, t.c.id == id)
            .values(**values, staged_at=func.now(), updated_at=func.now())
        )

    async def record_batch(
        self,
        conn: AsyncConnection,
        team_id: str,
        id: str,
        batch_no: int,
        counts: BatchCounts,
        *,
        rejected: int = 0,
    ) -> None:
        """Count a batch, in its own transaction: its entry in the ledger of committed batches
        (a second attempt at the same batch fails on the ledger's key) and the counters. The
        counters' row is locked only from here to the commit, so batches written by several
        connections at once hardly wait on each other."""
        await conn.execute(
            text("INSERT INTO raw.import_batches (import_id, batch_no) VALUES (:id, :b)"),
            {"id": id, "b": batch_no},
        )
        t = self.table
        await conn.execute(
            update(t)
            .where(t.c.team_id == team_id, t.c.id == id)
            .values(
                batches_done=t.c.batches_done + 1,
                imported=t.c.imported + counts.imported,
                updated=t.c.updated + counts.updated,
                skipped_duplicates=t.c.skipped_duplicates + counts.skipped,
                rejected=t.c.rejected + rejected,  # rows a deal import's gate refused
                updated_at=func.now(),
            )
        )

    async def committed_batches(self, conn: AsyncConnection, import_id: str) -> set[int]:
        rows = await conn.execute(
            text("SELECT batch_no FROM raw.team_import_batches WHERE import_id = :id"),
            {"id": import_id},
        )
        return {r.batch_no for r in rows}

    async def rejects(
        self, conn: AsyncConnection, import_id: str, chunk: int = 2000
    ) -> AsyncIterator[list[tuple[int, str, list[Any]]]]:
        """The import's rejects in row order, ``chunk`` at a time (server-side cursor)."""
        result = await conn.stream(
            text(
                'SELECT row_no, reason, "values" FROM raw.team_import_rejects '
                "WHERE import_id = :id ORDER BY row_no"
            ).execution_options(yield_per=chunk),
            {"id": import_id},
        )
        async for part in result.partitions(chunk):
            yield [(r.row_no, r.reason, r[2]) for r in part]

    async def clear_staging(self, conn: AsyncConnection, import_id: str) -> None:
        """Forget the landed rows and rejects of an import (before staging it again)."""
        for view in (
            "team_lead_import_rows",
            "team_call_log_import_rows",
            "team_import_rejects",
            "team_import_batches",
        ):
            await conn.execute(
                text(f"DELETE FROM raw.{view} WHERE import_id = :id"), {"id": import_id}
            )


import_service = ImportService()
