"""Saved reports (the only writer of ``app.reports``) and running a definition.

A report is personal (its creator sees it) or team (every member sees it); only its creator or
an admin changes or deletes it. Running reads the built reporting models (``rpt_sem_*``, see
:mod:`api.reports.semantic`) as the dashboard role in a transaction scoped to the caller's
team, so row-level security keeps every other team's rows out whatever the query says.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import sys
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import or_, text
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.records import RecordService
from api.reports import templates
from api.reports.compiler import Compiled, Definition, check, compile_query, compile_records
from api.reports.semantic import SCHEMA
from leadly.actor import Actor
from leadly.problem import Problem
from leadly.settings import get_settings
from warehouse.db import engine, tenant_tx
from warehouse.dbt import LOG_PATH_ENV, TARGET_PATH_ENV
from warehouse.models import Report

MAX_PAGE = 10_000
DEFAULT_PAGE = 1000
DEFINITION_FIELDS = ("metrics", "dimensions", "filters", "time_grain", "compare_to", "sort")


def definition_of(values: Mapping[str, Any]) -> Definition:
    return Definition.of(msgspec.to_builtins({k: values.get(k) for k in DEFINITION_FIELDS}))


class SharedRecordService(RecordService):
    """Records that are personal (their creator sees them) or team (every member does); only
    their creator or an admin changes or deletes them (reports, dashboards)."""

    def _scoped(self, actor: Actor, *, include_deleted: bool = False) -> Any:
        t = self.table
        q = super()._scoped(actor, include_deleted=include_deleted)
        return q.where(or_(t.c.visibility == "team", t.c.created_by == actor.member_id))

    def _may_change(self, actor: Actor, row: Mapping[str, Any]) -> None:
        if row["created_by"] != actor.member_id and not actor.at_least("admin"):
            raise Problem(
                403,
                f"Only the {self.object_type}'s creator or an admin can change it.",
                title="Forbidden",
            )

    async def update(
        self, conn: AsyncConnection, actor: Actor, id: str, values: dict[str, Any], **kw: Any
    ) -> dict[str, Any]:
        self._may_change(actor, await self.get(conn, actor, id))
        return await super().update(conn, actor, id, values, **kw)

    async def delete(
        self, conn: AsyncConnection, actor: Actor, id: str, *, if_match: int | None = None
    ) -> None:
        self._may_change(actor, await self.get(conn, actor, id))
        await super().delete(conn, actor, id, if_match=if_match)


class ReportService(SharedRecordService):
    table = Report.__table__
    object_type = "report"
    plural = "reports"
    prefix = "rpt"

    def rules(
        self, actor: Actor, values: dict[str, Any], current: Mapping[str, Any] | None
    ) -> None:
        if "filters" in values:  # Structs from the body, stored as JSON
            values["filters"] = msgspec.to_builtins(values["filters"])
        if "name" in values and not (values["name"] or "").strip():
            raise Problem(422, "A report needs a name.", errors=[{"field": "name"}])
        if any(k in values for k in DEFINITION_FIELDS):
            check(definition_of({**(current or {}), **values}))


report_service = ReportService()


async def from_template(
    conn: AsyncConnection, actor: Actor, key: str, overrides: Mapping[str, Any]
) -> dict[str, Any]:
    """Save template ``key`` as the actor's report (``overrides``: name, visibility)."""
    values = templates.report_values(key)
    if values is None:
        raise Problem(404, f"No report template {key!r} (GET /api/v1/report-templates).")
    return await report_service.create(conn, actor, {**values, **overrides})


# --------------------------------------------------------------------------- running


def _fingerprint(c: Compiled) -> str:
    raw = c.sql + json.dumps(c.params, default=str, sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def encode_cursor(offset: int, c: Compiled) -> str:
    raw = json.dumps({"o": offset, "h": _fingerprint(c)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, c: Compiled) -> int:
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        offset, fingerprint = int(data["o"]), str(data["h"])
    except (ValueError, KeyError, TypeError):
        raise Problem(400, "Not a cursor of this report.", errors=[{"field": "cursor"}]) from None
    if fingerprint != _fingerprint(c) or offset < 0:
        raise Problem(
            400,
            "This cursor belongs to another definition (the report changed): start again "
            "without a cursor.",
            errors=[{"field": "cursor"}],
        )
    return offset


async def _prepare(conn: AsyncConnection, models: list[str]) -> tuple[bool, bool]:
    """Read-only, UTC days (see api.reports.compiler._bucket), in one round trip with: whether
    every model exists (dbt has built it once: no query before that) and whether the build log
    does."""
    row = (
        await conn.execute(
            text(
                "SELECT set_config('transaction_read_only', 'on', true), "
                "set_config('TimeZone', 'UTC', true), "
                "(SELECT count(to_regclass(m)) FROM unnest(CAST(:names AS text[])) AS m), "
                f"to_regclass('{SCHEMA}.model_builds') IS NOT NULL"
            ),
            {"names": [f"{SCHEMA}.{m}" for m in models]},
        )
    ).one()
    return row[2] == len(models), bool(row[3])


async def _built(conn: AsyncConnection, models: list[str]) -> bool:
    built, _ = await _prepare(conn, models)
    return built


async def data_as_of(conn: AsyncConnection, models: list[str]) -> datetime | None:
    """When the last successful build of the oldest of ``models`` finished (null when one of
    them has never been built): dbt's on-run-end hook keeps ``model_builds``."""
    row = (
        await conn.execute(
            text(
                f"SELECT min(finished_at), count(*) FROM {SCHEMA}.model_builds "
                "WHERE model = ANY(CAST(:models AS text[]))"
            ),
            {"models": models},
        )
    ).one()
    return row[0] if row[1] == len(models) else None


async def _rows(conn: AsyncConnection, c: Compiled, suffix: str = "", **params: Any) -> list[dict]:
    result = await conn.exec_driver_sql(c.sql + suffix, {**c.params, **params})
    keys = list(result.keys())
    return [dict(zip(keys, r, strict=True)) for r in result.fetchall()]


async def _page(
    conn: AsyncConnection,
    compiled: Compiled,
    out: dict[str, Any],
    cursor: str | None,
    limit: int | None,
) -> None:
    """One page of ``compiled``'s rows into ``out`` (data, has_more, next_cursor)."""
    offset = decode_cursor(cursor, compiled)
    size = min(max(limit or DEFAULT_PAGE, 1), MAX_PAGE)
    rows = await _rows(
        conn, compiled, " LIMIT %(_limit)s OFFSET %(_offset)s", _limit=size + 1, _offset=offset
    )
    out["has_more"] = len(rows) > size
    out["data"] = rows[:size]
    out["next_cursor"] = encode_cursor(offset + size, compiled) if out["has_more"] else None


async def run(
    actor: Actor, values: Mapping[str, Any], *, cursor: str | None = None, limit: int | None = None
) -> dict[str, Any]:
    """One page of a definition's rows, with its totals (and, with two or more dimensions,
    the subtotals of the first) and when its data was built."""
    defn = definition_of(values)
    compiled = compile_query(defn)
    decode_cursor(cursor, compiled)  # a wrong cursor is a 400 even before the first build
    out: dict[str, Any] = {
        "columns": [c.out() for c in compiled.columns],
        "data": [],
        "next_cursor": None,
        "has_more": False,
        "totals": None,
        "subtotals": None,
        "data_as_of": None,
    }
    async with tenant_tx(engine("dashboard"), actor.team_id, actor.member_id) as conn:
        built, logged = await _prepare(conn, compiled.models)
        if not built:
            return out
        if logged:
            out["data_as_of"] = await data_as_of(conn, compiled.models)
        await _page(conn, compiled, out, cursor, limit)
        totals = await _rows(conn, compile_query(defn, totals=True))
        out["totals"] = totals[0] if totals else None
        if len(defn.dimensions) >= 2:
            out["subtotals"] = await _rows(conn, compile_query(defn, by=defn.dimensions[:1]))
    return out


async def records(
    actor: Actor,
    values: Mapping[str, Any],
    metric: str,
    row: dict[str, Any],
    *,
    cursor: str | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """The records behind one number of a run (drill-down), paged like a run."""
    compiled, record_type = compile_records(definition_of(values), metric, row)
    decode_cursor(cursor, compiled)
    out: dict[str, Any] = {
        "record_type": record_type,
        "data": [],
        "next_cursor": None,
        "has_more": False,
    }
    async with tenant_tx(engine("dashboard"), actor.team_id, actor.member_id) as conn:
        if not await _built(conn, compiled.models):
            return out
        await _page(conn, compiled, out, cursor, limit)
    return out


@contextlib.asynccontextmanager
async def report_rows_tx(actor: Actor, compiled: Compiled) -> AsyncIterator[AsyncConnection | None]:
    """A read-only transaction as the dashboard role scoped to the actor's team, ready to run
    ``compiled`` (exports stream from it); None when its models have not been built yet."""
    async with tenant_tx(engine("dashboard"), actor.team_id, actor.member_id) as conn:
        yield conn if await _built(conn, compiled.models) else None


# --------------------------------------------------------------------------- refresh

_REFRESH_SCRIPT = (
    "import sys\n"
    "from warehouse.dbt import run_dbt\n"
    "run_dbt(['build', '--select', *('+' + m for m in sys.argv[1:])])\n"
)
refreshing: dict[tuple[str, ...], asyncio.Task[int]] = {}
"""The builds started by "refresh now", by the models they build (one at a time per set)."""


async def _build(models: tuple[str, ...]) -> int:
    env = dict(os.environ)
    data = get_settings().data_path / "dbt"
    env.setdefault(TARGET_PATH_ENV, str(data / "refresh-target"))
    env.setdefault(LOG_PATH_ENV, str(data / "refresh-logs"))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _REFRESH_SCRIPT,
        *models,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await proc.wait()


def refresh(models: list[str]) -> dict[str, Any]:
    """Start ``dbt build`` of ``models`` and what they are built from (incremental models add
    only what changed), in a child process of its own; a build of the same models already
    running is not started twice. ``data_as_of`` moves when it finishes."""
    key = tuple(sorted(models))
    task = refreshing.get(key)
    if task is None or task.done():
        task = refreshing[key] = asyncio.get_running_loop().create_task(_build(key))
    return {"status": "started", "models": list(key)}
