"""``leadly import``: create (or resume) an import of a local file and run it here, with a
progress bar. The command itself lives in :mod:`leadly.launcher.cli`; this is its body."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

T = TypeVar("T")


def _sha256(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _same_size(path: Path, size: int) -> bool:
    return path.exists() and path.stat().st_size == size


async def prepare(
    *,
    team_id: str,
    object_name: str,
    path: Path,
    override: Mapping[str, str | None] | None,
    policy: str,
    batch_size: int | None,
    resume: bool,
) -> tuple[dict[str, Any], bool]:
    """The import to run: an unfinished one of the same file (resumed), else a new one."""
    from api.imports.service import import_service
    from ingestion import files, probe, runner
    from ingestion.mapping import spec_for
    from leadly.actor import system_actor
    from leadly.ids import new_id
    from warehouse.db import api_engine, tenant_tx

    spec = spec_for(object_name)
    assert spec is not None
    actor = system_actor(team_id)
    sha, size = await asyncio.to_thread(_sha256, path)
    if resume:
        async with tenant_tx(api_engine(), team_id) as conn:
            found = await import_service.find_resumable(conn, actor, sha, spec.name)
        if found is not None:
            stored = runner.imports_root().parent / found["stored_path"]
            if not await asyncio.to_thread(_same_size, stored, size):
                await asyncio.to_thread(files.copy_into, path, stored)
            return found, True
    import_id = new_id("imp")
    folder = runner.import_dir(import_id)
    try:
        p = await asyncio.to_thread(probe.probe, path, folder / "probe")
        used = probe.mapping_for(spec, p, override)
        ext = ".xlsx" if p.file_format == "xlsx" else (path.suffix.lower() or ".csv")
        stored = folder / f"source{ext if ext in ('.csv', '.tsv', '.txt', '.xlsx') else '.csv'}"
        await asyncio.to_thread(files.copy_into, path, stored)
        values = {
            "id": import_id,
            "object": spec.name,
            "status": "queued",
            "file_name": path.name[:255],
            "file_format": p.file_format,
            "file_size": size,
            "file_sha256": sha,
            "stored_path": str(stored.relative_to(runner.imports_root().parent)),
            "encoding": p.encoding,
            "delimiter": p.delimiter,
            "columns": p.columns,
            "mapping": used,
            "duplicate_policy": policy if spec.name == "leads" else "skip",
            "runner": "cli",
            "batch_size": batch_size or runner.batch_size(),
        }
        async with tenant_tx(api_engine(), team_id) as conn:
            row = await import_service.create(conn, actor, values)
            full = await import_service.internal(conn, team_id, row["id"])
        assert full is not None
        return full, False
    except BaseException:
        runner.remove_files(import_id)
        raise
    finally:
        import shutil

        shutil.rmtree(folder / "probe", ignore_errors=True)


def run(
    console: Console,
    run_async: Callable[[Callable[[], Awaitable[T]]], T],
    **kw: Any,
) -> dict[str, Any]:
    """Create or resume the import, run it with a progress bar, print the outcome."""
    from ingestion.files import FileProblem
    from ingestion.mapping import MappingError
    from ingestion.runner import run_import

    bars = Progress(
        TextColumn("  {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[counts]}"),
        TimeElapsedColumn(),
        console=console,
    )
    task = bars.add_task("parsing", total=None, counts="")

    def report(row: Mapping[str, Any]) -> None:
        counts = (
            f"imported {row['imported']:,} · updated {row['updated']:,} · "
            f"skipped {row['skipped_duplicates']:,} · rejected {row['rejected']:,}"
        )
        if row.get("staged_at") is None:
            bars.update(task, description="parsing", counts="")
            return
        bars.update(
            task,
            description="batches",
            total=row.get("batches_total") or 0,
            completed=row.get("batches_done") or 0,
            counts=counts,
        )

    async def go() -> dict[str, Any]:
        try:
            row, resumed = await prepare(**kw)
        except FileProblem as e:
            raise _usage(str(e)) from None
        except MappingError as e:
            detail = "; ".join(f"{x['field']}: {x['message']}" for x in e.errors)
            raise _usage(f"{e} {detail}") from None
        if resumed:
            console.print(
                f"Resuming import {row['id']} of {row['file_name']} "
                f"({row['batches_done']} of {row['batches_total'] or '?'} batches done)."
            )
        else:
            console.print(f"Import {row['id']}: {row['file_name']} → {row['object']}.")
        mapped = {c: f for c, f in (row.get("mapping") or {}).items() if f}
        if mapped:
            console.print(
                "  mapping: " + ", ".join(f"{c} → {f}" for c, f in mapped.items()), soft_wrap=True
            )
        with bars:
            return await run_import(row["team_id"], row["id"], progress=report)

    final = run_async(go)
    if final["status"] == "completed":
        console.print(
            f"Import {final['id']} completed: {final['total_rows']:,} rows — "
            f"{final['imported']:,} imported, {final['updated']:,} updated, "
            f"{final['skipped_duplicates']:,} skipped as duplicates, "
            f"{final['rejected']:,} rejected."
        )
        if final["rejected"]:
            console.print(
                f"  Rejected rows and their reasons: GET /api/v1/imports/{final['id']}/rejects"
            )
    return final


def _usage(message: str) -> Exception:
    import click

    return click.ClickException(message)
