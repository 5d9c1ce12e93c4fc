"""Crash safety with real processes: ``leadly import`` and ``leadly worker`` killed with SIGKILL
after some batches committed, then run again: the import resumes, no row is written twice and
the totals are right."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.api.records.conftest import uniq
from tests.cli.conftest import leadly_cmd
from tests.conftest import Team
from tests.ingestion.conftest import Sql, csv_bytes, upload
from tests.plugin import eventually

ROOT = Path(__file__).resolve().parents[2]
ROWS = 12_000
BATCH = 300

pytestmark = pytest.mark.slow


def _big_file(tag: str) -> tuple[bytes, int, int, int]:
    """A lead file with in-file duplicates and bad rows: (content, rows, unique good, rejected)."""
    rows: list[list[Any]] = [["First Name", "Last Name", "Email", "Company", "Rating", "Status"]]
    rejected = duplicates = 0
    for i in range(ROWS):
        email = f"p{i}-{tag}@resume.example"
        rating = "4.5"
        if i % 1000 == 999:
            email = f"p{i - 1}-{tag}@RESUME.example"  # same as the row before
            duplicates += 1
        elif i % 1000 == 500:
            rating = "9"
            rejected += 1
        rows.append([f"F{i}", f"L{i}", email, f"Co {i % 50}", rating, "Working"])
    return csv_bytes(rows), ROWS, ROWS - rejected - duplicates, rejected


def _spawn(cmd: list[str], env: dict[str, str], out: Path) -> subprocess.Popen[bytes]:
    with out.open("ab") as f:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT)


async def _import_row(sql: Sql, team_id: str, where: str, *args: Any) -> dict[str, Any] | None:
    return await sql.one(
        f"SELECT * FROM app.imports WHERE team_id = %s AND {where} ORDER BY created_at DESC",
        team_id,
        *args,
    )


async def _assert_loaded_once(sql: Sql, team: Team, imp: dict[str, Any], good: int) -> None:
    tag_like = "%@resume.example"
    dupes = await sql.all(
        "SELECT email_normalized, count(*) FROM app.leads WHERE team_id = %s "
        "AND email_normalized LIKE %s GROUP BY 1 HAVING count(*) > 1",
        team.team_id,
        tag_like,
    )
    assert dupes == []
    n = await sql.one(
        "SELECT count(*) AS n FROM app.leads WHERE team_id = %s AND email_normalized LIKE %s",
        team.team_id,
        tag_like,
    )
    assert n is not None and n["n"] == good == imp["imported"]
    evts = await sql.one(
        "SELECT count(*) AS n, count(DISTINCT object_id) AS leads FROM app.events "
        "WHERE team_id = %s AND action = 'created' AND object_type = 'lead' "
        "AND data->>'import_id' = %s",
        team.team_id,
        imp["id"],
    )
    assert evts is not None and evts["n"] == evts["leads"] == good  # one event per lead


async def test_cli_killed_midway_then_rerun(team: Team, sql: Sql, tmp_path: Path) -> None:
    tag = uniq("c")
    content, total, good, rejected = _big_file(tag)
    path = tmp_path / "big leads.csv"
    path.write_bytes(content)
    cmd = leadly_cmd(
        "import", "leads", str(path), "--team", team.team_id, "--batch-size", str(BATCH)
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "120"}
    out = tmp_path / "first.out"
    proc = _spawn(cmd, env, out)
    try:

        async def some_batches_committed() -> dict[str, Any] | None:
            assert proc.poll() is None, out.read_text()
            imp = await _import_row(sql, team.team_id, "file_name = %s", path.name)
            return imp if imp and imp["batches_done"] >= 3 else None

        imp = await eventually(
            some_batches_committed, within=180, interval=0.05, what="three committed batches"
        )
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(20) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    at_kill = await _import_row(sql, team.team_id, "id = %s", imp["id"])
    assert at_kill is not None and at_kill["status"] == "running"
    assert 3 <= at_kill["batches_done"] < at_kill["batches_total"]
    loaded = await sql.one(
        "SELECT count(*) AS n FROM app.leads WHERE team_id = %s AND email_normalized LIKE %s",
        team.team_id,
        "%@resume.example",
    )
    # Exactly what the committed batches say: nothing from the batch that was running.
    assert loaded is not None and loaded["n"] == at_kill["imported"] > 0

    again = await asyncio.to_thread(
        subprocess.run, cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"Resuming import {imp['id']}" in again.stdout
    done = await _import_row(sql, team.team_id, "id = %s", imp["id"])
    assert done is not None and done["status"] == "completed"
    assert (done["total_rows"], done["rejected"], done["imported"]) == (total, rejected, good)
    assert done["skipped_duplicates"] == total - rejected - good and done["updated"] == 0
    assert done["runner"] == "cli" and done["created_by"] is None
    count = await sql.one("SELECT count(*) AS n FROM app.imports WHERE team_id = %s", team.team_id)
    assert count is not None and count["n"] == 1  # resumed, not started again
    await _assert_loaded_once(sql, team, done, good)
    assert "completed" in again.stdout


async def test_worker_killed_midway_then_restarted(
    team: Team, sql: Sql, tmp_path: Path, import_env: Callable[[str, str], None]
) -> None:
    tag = uniq("w")
    content, total, good, rejected = _big_file(tag)
    import_env("LEADLY_IMPORT_BATCH_SIZE", str(BATCH))
    r = await upload(team, content, "worker-leads.csv")
    assert r.status_code == 202, r.text
    imp_id = r.json()["id"]
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "LEADLY_WORKER_POLL_INTERVAL": "0.05",
        "LEADLY_WORKER_BATCH_SIZE": "2000",  # read the session's earlier events quickly
    }
    log = tmp_path / "worker.out"

    def start() -> subprocess.Popen[bytes]:
        return _spawn([sys.executable, "-m", "api.dispatcher.worker"], env, log)

    proc = start()
    try:

        async def some_batches_committed() -> bool:
            assert proc.poll() is None, log.read_text()[-3000:]
            imp = await _import_row(sql, team.team_id, "id = %s", imp_id)
            return bool(imp and imp["batches_done"] >= 3)

        await eventually(
            some_batches_committed, within=180, interval=0.05, what="three committed batches"
        )
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(20) == -signal.SIGKILL
        at_kill = await _import_row(sql, team.team_id, "id = %s", imp_id)
        assert at_kill is not None and at_kill["batches_done"] < at_kill["batches_total"]

        proc = start()

        async def finished() -> dict[str, Any] | None:
            assert proc.poll() is None, log.read_text()[-3000:]
            r = await team.get(f"/api/v1/imports/{imp_id}")
            body = r.json()
            return body if body["status"] in ("completed", "failed") else None

        done = await eventually(finished, within=180, interval=0.05, what="import to finish")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert done["status"] == "completed", done
    assert (done["total_rows"], done["rejected"], done["imported"]) == (total, rejected, good)
    assert done["batches_done"] == done["batches_total"]
    row = await _import_row(sql, team.team_id, "id = %s", imp_id)
    assert row is not None
    await _assert_loaded_once(sql, team, row, good)
    # Written as the member who uploaded the file.
    who = await sql.one(
        "SELECT DISTINCT actor_type, actor_id FROM app.events WHERE team_id = %s "
        "AND data->>'import_id' = %s",
        team.team_id,
        imp_id,
    )
    assert who == {"actor_type": "member", "actor_id": team.member_id}
