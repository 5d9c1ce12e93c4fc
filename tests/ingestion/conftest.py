"""Helpers for the import/export tests: upload a file, run its import in this process (as the
dispatcher worker would), read the import back, build messy real-world files."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import httpx
import msgspec
import pytest

from leadly.settings import get_settings
from tests.api.records.conftest import Sql, db, sql  # noqa: F401 - fixtures
from tests.conftest import Team


def csv_bytes(
    rows: Iterable[Sequence[Any]],
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
    bom: bool = False,
    newline: str = "\r\n",
) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator=newline)
    for row in rows:
        w.writerow(["" if v is None else v for v in row])
    data = buf.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" if bom else b"") + data


def xlsx_bytes(rows: Iterable[Sequence[Any]], sheet: str = "Leads") -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    for row in rows:
        ws.append(list(row))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


async def upload(
    team: Team,
    content: bytes,
    filename: str = "leads.csv",
    *,
    obj: str | None = "leads",
    mapping: Mapping[str, str | None] | None = None,
    policy: str | None = None,
    path: str = "/api/v1/imports",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    data: dict[str, str] = {}
    if obj is not None:
        data["object"] = obj
    if mapping is not None:
        data["mapping"] = msgspec.json.encode(mapping).decode()
    if policy is not None:
        data["duplicate_policy"] = policy
    return await team.post(
        path, data=data, files={"file": (filename, content)}, headers=headers or {}
    )


async def run_queued(team: Team, import_id: str) -> dict[str, Any]:
    """Run the import the way the dispatcher's ``imports`` consumer does, in this process."""
    from ingestion.runner import run_import

    await run_import(team.team_id, import_id)
    r = await team.get(f"/api/v1/imports/{import_id}")
    assert r.status_code == 200, r.text
    return r.json()


async def import_file(
    team: Team,
    content: bytes,
    filename: str = "leads.csv",
    **kw: Any,
) -> dict[str, Any]:
    """Upload and run an import; its final state (asserted completed)."""
    r = await upload(team, content, filename, **kw)
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "queued" and body["id"].startswith("imp_")
    done = await run_queued(team, body["id"])
    assert done["status"] == "completed", done
    assert done["total_rows"] == (
        done["imported"] + done["updated"] + done["skipped_duplicates"] + done["rejected"]
    ), done
    return done


async def rejects_of(team: Team, import_id: str) -> list[dict[str, str]]:
    r = await team.get(f"/api/v1/imports/{import_id}/rejects")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(r.text)))


async def leads_by_email(q: Sql, team_id: str) -> dict[str, dict[str, Any]]:
    rows = await q.all("SELECT * FROM app.leads WHERE team_id = %s AND deleted_at IS NULL", team_id)
    return {r["email_normalized"]: r for r in rows if r["email_normalized"]}


__all__ = [
    "Sql",
    "csv_bytes",
    "import_file",
    "leads_by_email",
    "rejects_of",
    "run_queued",
    "upload",
    "xlsx_bytes",
]


@pytest.fixture
def import_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, str], None]]:
    """Set a ``LEADLY_*`` variable for this test and reload the (cached) settings; the settings
    are reloaded again once the variable is restored."""

    def set_env(name: str, value: str) -> None:
        monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    yield set_env
    monkeypatch.undo()
    get_settings.cache_clear()
