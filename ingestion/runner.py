"""Run an import: stage the file into ``raw`` once, then load it batch by batch.

Both the dispatcher's ``imports`` consumer (uploads through the API) and ``leadly import`` (the
CLI, synchronously) call :func:`run_import`. It is safe to call again at any time:

- one runner per import at a time (a PostgreSQL advisory lock; a second one gets
  :class:`ImportBusy`);
- staging (parse + validate with DuckDB, COPY the accepted rows into ``raw`` on several
  connections at once, then the rejects and the counts in one transaction) is done again from
  the start (clearing what landed) until that last transaction commits;
- every batch (``batch_size`` staged rows, default 10,000) is one transaction that writes the
  records and their events, records the batch in ``raw.import_batches`` and moves the counters;
  batches are written on ``import_load_connections`` connections at once (default 2); a crashed
  run resumes with the batches not committed, and a batch's rows carry their own record ids so
  nothing is written twice.

The loading runs as the API role in tenant transactions (``app.team_id``), like any API write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from api.imports.service import import_service
from ingestion import mapping as mapping_mod
from ingestion.files import FileProblem
from leadly.actor import Actor, system_actor
from leadly.settings import get_settings
from warehouse.db import api_engine, tenant_tx

log = logging.getLogger("leadly.imports")

# SQLSTATE classes worth retrying: connection, transaction rollback (serialization, deadlock),
# insufficient resources, operator intervention (shutdown).
TRANSIENT = ("08", "40", "53", "57")

Progress = Callable[[Mapping[str, Any]], None]


class ImportBusy(RuntimeError):
    """Another runner holds the import (it continues it; try again later)."""


def batch_size() -> int:
    return max(1, get_settings().import_batch_size)


def max_bytes() -> int:
    return max(1, get_settings().import_max_bytes)


def load_connections() -> int:
    return max(1, get_settings().import_load_connections)


def imports_root() -> Path:
    return get_settings().data_path / "imports"


def import_dir(import_id: str) -> Path:
    return imports_root() / import_id


def actor_of(row: Mapping[str, Any]) -> Actor:
    """Who the import's records are written by: its creator, or the system (CLI)."""
    if row.get("created_by"):
        return Actor(
            team_id=row["team_id"],
            member_id=row["created_by"],
            role="user",
            actor_type="member",
            request_id=row.get("request_id"),
        )
    return system_actor(row["team_id"], row.get("request_id"))


def _transient(e: DBAPIError) -> bool:
    code = getattr(getattr(e, "orig", None), "sqlstate", None) or ""
    return e.connection_invalidated or not code or code.startswith(TRANSIENT)


async def run_import(
    team_id: str,
    import_id: str,
    *,
    progress: Progress | None = None,
    engine: AsyncEngine | None = None,
    timings: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Run (or resume) the import to its end; returns its final row. Raises ImportBusy when
    another runner has it, and re-raises transient database errors (the import stays running
    and resumes on the next call)."""
    engine = engine or api_engine()
    key = f"leadly.import:{import_id}"
    async with engine.connect() as lock:
        got = await lock.scalar(
            text("SELECT pg_try_advisory_lock(hashtextextended(:k, 0))"), {"k": key}
        )
        await lock.commit()
        if not got:
            raise ImportBusy(f"Import {import_id} is being run by another process.")
        try:
            return await _Run(engine, team_id, import_id, progress, timings).run()
        finally:
            try:
                await lock.execute(
                    text("SELECT pg_advisory_unlock(hashtextextended(:k, 0))"), {"k": key}
                )
                await lock.commit()
            except Exception:
                await lock.invalidate()


class _Run:
    def __init__(
        self,
        engine: AsyncEngine,
        team_id: str,
        import_id: str,
        progress: Progress | None,
        timings: dict[str, float] | None,
    ) -> None:
        self.engine = engine
        self.team_id = team_id
        self.id = import_id
        self.progress = progress
        self.timings = timings if timings is not None else {}

    def _tx(self) -> Any:
        return tenant_tx(self.engine, self.team_id)

    async def _row(self, conn: AsyncConnection, *, for_update: bool = False) -> dict[str, Any]:
        row = await import_service.internal(conn, self.team_id, self.id, for_update=for_update)
        if row is None:
            raise LookupError(f"No import {self.id} in team {self.team_id}.")
        return row

    def _report(self, row: Mapping[str, Any]) -> None:
        if self.progress is not None:
            self.progress(row)

    def _time(self, phase: str, started: float) -> None:
        self.timings[phase] = self.timings.get(phase, 0.0) + time.perf_counter() - started

    async def run(self) -> dict[str, Any]:
        async with self._tx() as conn:
            row = await self._row(conn, for_update=True)
            if row["status"] in ("completed", "failed"):
                return row
            if row["status"] == "queued":
                await import_service.set_status(conn, self.team_id, row, "running")
                row = await self._row(conn)
        self._report(row)
        log.info("import %s (%s, %s): running", self.id, row["object"], row["file_name"])
        actor = actor_of(row)
        try:
            if row["staged_at"] is None:
                row = await self._stage(actor, row)
                self._report(row)
            row = await self._load(actor, row)
        except (FileProblem, mapping_mod.MappingError) as e:
            return await self._fail(str(e))
        except DBAPIError as e:
            if _transient(e):
                raise
            log.exception("import %s failed", self.id)
            return await self._fail(f"The database refused the import: {e.orig}")
        except (ImportBusy, LookupError):
            raise
        except Exception as e:
            log.exception("import %s failed", self.id)
            return await self._fail(
                f"The import stopped on an unexpected error ({type(e).__name__})."
            )
        async with self._tx() as conn:
            row = await self._row(conn, for_update=True)
            await import_service.set_status(conn, self.team_id, row, "completed")
            row = await self._row(conn)
        self._report(row)
        log.info(
            "import %s completed: %s rows, %s imported, %s updated, %s skipped, %s rejected",
            self.id, row["total_rows"], row["imported"], row["updated"],
            row["skipped_duplicates"], row["rejected"],
        )  # fmt: skip
        return row

    async def _fail(self, error: str) -> dict[str, Any]:
        async with self._tx() as conn:
            row = await self._row(conn, for_update=True)
            await import_service.set_status(conn, self.team_id, row, "failed", error=error[:2000])
            row = await self._row(conn)
        self._report(row)
        return row

    # ------------------------------------------------------------------ staging

    async def _stage(self, actor: Actor, row: dict[str, Any]) -> dict[str, Any]:
        from ingestion import files
        from ingestion.stage import Stager

        spec = mapping_mod.spec_for(row["object"])
        if spec is None:
            raise FileProblem(f"Unknown object {row['object']!r}.")
        src = get_settings().data_path / row["stored_path"]
        if not src.exists():
            raise FileProblem("The uploaded file is gone from the data folder.")
        work = import_dir(self.id) / "work"
        shutil.rmtree(work, ignore_errors=True)
        started = time.perf_counter()
        prepared = await asyncio.to_thread(files.prepare, src, work)
        saved = {k: v for k, v in (row["mapping"] or {}).items() if k in prepared.columns}
        stager = await asyncio.to_thread(Stager, prepared, spec, {}, work)
        try:
            await asyncio.to_thread(stager.load)
            if any(saved.values()):
                used = {c: saved.get(c) for c in prepared.columns}
            else:
                head = await asyncio.to_thread(stager.sample, 200)
                samples = {c: [r.get(c) for r in head] for c in prepared.columns}
                used = mapping_mod.resolve(spec, prepared.columns, None, samples)
            if not any(used.values()):
                raise FileProblem("No column of the file is mapped to a field.")
            stager.mapping = used
            policy, size = row["duplicate_policy"], row["batch_size"]
            table = ""
            if spec.name == "deals":
                from ingestion import deals

                result = await deals.stage(
                    self._tx, actor, stager, self.id, size, import_dir(self.id)
                )
            elif spec.name == "leads":
                await asyncio.to_thread(stager.lead_checks)
                result = await asyncio.to_thread(
                    stager.finish_leads, self.id, policy, size, load_connections()
                )
                table = "raw.lead_import_rows"
            else:
                await asyncio.to_thread(stager.call_log_checks)
                refs = await asyncio.to_thread(stager.call_log_refs)
                from api.call_logs.bulk import resolve_refs

                async with self._tx() as conn:
                    for kind, values in refs.items():
                        pairs = await resolve_refs(conn, actor, kind, values)
                        await asyncio.to_thread(stager.add_lookup, kind, pairs)
                await asyncio.to_thread(stager.call_log_finish_checks, True)
                result = await asyncio.to_thread(
                    stager.finish_call_logs, self.id, size, load_connections()
                )
                table = "raw.call_log_import_rows"
        finally:
            await asyncio.to_thread(stager.close)
        self._time("parse", started)
        started = time.perf_counter()
        # Landed on several connections at once, then counted in one transaction: until that
        # one commits the import is not staged, and staging again starts by clearing the rows.
        async with self._tx() as conn:
            await import_service.clear_staging(conn, self.id)

        async def land(path: Path) -> None:
            async with self._tx() as conn:
                await _copy(conn, table, result.copy_columns, path)

        await _together(land(path) for path in result.rows_paths)
        async with self._tx() as conn:
            current = await self._row(conn, for_update=True)
            if current["staged_at"] is not None:  # staged meanwhile (cannot happen under the lock)
                return current
            await _copy(
                conn,
                "raw.import_rejects",
                ["import_id", "row_no", "reason", "values"],
                result.rejects_path,
            )
            await import_service.record_staging(
                conn,
                self.team_id,
                self.id,
                total_rows=result.total_rows,
                rejected=result.rejected,
                skipped_duplicates=result.skipped_duplicates,
                batches_total=result.batches,
                encoding=prepared.encoding,
                delimiter=prepared.delimiter if prepared.file_format == "csv" else None,
                columns=prepared.columns,
                mapping=used,
            )
            row = await self._row(conn)
        self._time("copy", started)
        shutil.rmtree(work, ignore_errors=True)
        log.info(
            "import %s staged: %s rows, %s rejected, %s to load in %s batches "
            "(parse %.1fs, copy %.1fs)",
            self.id, result.total_rows, result.rejected, result.staged_rows, result.batches,
            self.timings.get("parse", 0.0), self.timings.get("copy", 0.0),
        )  # fmt: skip
        return row

    # ------------------------------------------------------------------ loading

    async def _load(self, actor: Actor, row: dict[str, Any]) -> dict[str, Any]:
        """Write the batches not committed yet, on up to ``load_connections()`` connections at
        once (each takes the next batch when its last one committed). A failing batch stops
        the others (their transactions roll back) and the error goes up."""
        async with self._tx() as conn:
            done = await import_service.committed_batches(conn, self.id)
        if not done and row["batches_done"]:
            # Begun before the ledger existed, when batches committed in order.
            done = set(range(row["batches_done"]))
        todo = iter([b for b in range(row["batches_total"] or 0) if b not in done])
        started = time.perf_counter()
        latest = [row]

        async def writer() -> None:
            for batch_no in todo:  # shared: each batch goes to one writer
                latest[0] = await self._batch(actor, row, batch_no)
                self._report(latest[0])

        await _together(
            writer() for _ in range(min(load_connections(), row["batches_total"] or 0) or 1)
        )
        self._time("load", started)
        return latest[0]

    async def _batch(self, actor: Actor, row: dict[str, Any], batch_no: int) -> dict[str, Any]:
        from api.call_logs import bulk as call_log_bulk
        from api.leads import bulk as lead_bulk

        async with self._tx() as conn:
            await conn.execute(text("SET LOCAL synchronous_commit = off"))
            rejected = 0
            if row["object"] == "deals":
                from ingestion import deals

                items = await asyncio.to_thread(deals.read_batch, import_dir(self.id), batch_no)
                counts, rejected = await deals.load_batch(conn, actor, self.id, items)
            elif row["object"] == "leads":
                counts = await lead_bulk.load_batch(
                    conn, actor, self.id, batch_no, row["duplicate_policy"]
                )
            else:
                counts = await call_log_bulk.load_batch(conn, actor, self.id, batch_no)
            await import_service.record_batch(
                conn, self.team_id, self.id, batch_no, counts, rejected=rejected
            )
            return await self._row(conn)


async def _together(coros: Iterable[Coroutine[Any, Any, None]]) -> None:
    """Run ``coros`` at once; the first to fail cancels the others (their transactions roll
    back) and its exception is raised as is (so transient database errors stay recognisable)."""
    try:
        async with asyncio.TaskGroup() as group:
            for coro in coros:
                group.create_task(coro)
    except BaseExceptionGroup as group_error:
        raise group_error.exceptions[0] from None


async def _copy(conn: AsyncConnection, table: str, columns: list[str], path: Path) -> None:
    """COPY a CSV file into ``table`` on the transaction's own connection."""
    raw = await conn.get_raw_connection()
    pg: Any = raw.driver_connection
    cols = ", ".join(f'"{c}"' for c in columns)
    sql = f"COPY {table} ({cols}) FROM STDIN WITH (FORMAT csv)"
    async with pg.cursor() as cur, cur.copy(sql) as copy:
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                await copy.write(chunk)


def remove_files(import_id: str) -> None:
    with contextlib.suppress(OSError):
        shutil.rmtree(import_dir(import_id))
