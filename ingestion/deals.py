"""Deal imports: every accepted row is written through the deal service, the single gate.

Staging (once per import) reads the file with DuckDB (:meth:`ingestion.stage.Stager.deal_rows`)
and checks each row in Python: amounts become decimals (``$1,234.50``, ``1.234,50 €``),
probabilities integers (``40 %``), dates ISO dates, the pipeline (name or id; default: the
team's default pipeline) and the stage (key or name, case-insensitive, within that pipeline)
are resolved, the owner (email, name or id of a team member) too. A row that fails gets a
reason naming each bad field and goes to ``raw.import_rejects``; the others are written, with
their batch number and pre-assigned deal id, to ``deal_rows.jsonl`` in the import's data folder
(deals are far fewer than leads, so no raw table).

Loading a batch (one transaction) converts each row with the API's own ``DealCreate`` rules
and calls :meth:`api.deals.service.DealService.create_raw` inside a savepoint: a row the gate
refuses (a stage's required fields, a lost stage without ``loss_reason``, a won stage without
``win_reason``, an unknown owner...) is rolled back to its savepoint and rejected with the
gate's message, which names the missing fields; the batch goes on. Rows written get the
service's ``created`` event (and stage history), exactly as a ``POST /api/v1/deals``.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from api.common.batches import BatchCounts
from ingestion.mapping import DEALS
from ingestion.stage import StageResult
from leadly.actor import Actor
from leadly.problem import Problem

#: Fields of the deals import read from the file (``custom.<key>`` too): the mapping's targets.
FIELDS = tuple(DEALS.fields)
ROWS_FILE = "deal_rows.jsonl"
VALUE_TYPES = {
    **dict.fromkeys(("oneoff", "onetime", "once", "single", "onceoff"), "one_off"),
    **dict.fromkeys(("mrr", "monthly", "monthlyrecurring", "monthlyrecurringrevenue"), "mrr"),
    **dict.fromkeys(
        ("arr", "annual", "yearly", "annualrecurring", "annualrecurringrevenue"), "arr"
    ),
}
DATE_FORMATS = (
    "%Y-%m-%d",
    "%m/%d/%Y",
    "%m/%d/%y",
    "%d.%m.%Y",
    "%Y/%m/%d",
    "%b %d, %Y",
    "%d %b %Y",
    "%B %d, %Y",
    "%d %B %Y",
)


def _norm(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", s.lower())


def _quoted(v: str) -> str:
    return "'" + (v if len(v) <= 60 else v[:57] + "...") + "'"


def parse_money(raw: str) -> Decimal | None:
    """``$1,234.50`` / ``1.234,50 €`` / ``EUR 1 234`` → Decimal (None: not an amount)."""
    s = re.sub(r"[^\d.,\-]", "", raw.replace("\u00a0", ""))
    if not s or not re.search(r"\d", s):
        return None
    if "," in s and "." in s:
        if s.rfind(",") > s.rfind("."):
            s = s.replace(".", "").replace(",", ".")
        else:
            s = s.replace(",", "")
    elif "," in s:
        parts = s.split(",")
        decimal_comma = len(parts) == 2 and len(parts[1]) != 3  # "4,5" vs "1,234"
        s = s.replace(",", "." if decimal_comma else "")
    elif s.count(".") > 1:
        s = s.replace(".", "")
    try:
        out = Decimal(s)
    except InvalidOperation:
        return None
    return out if out.is_finite() else None


def parse_date(raw: str) -> date | None:
    s = raw.strip()
    if re.match(r"^\d{4}-\d{2}-\d{2}", s):
        try:
            return date.fromisoformat(s[:10])
        except ValueError:
            return None
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(s, fmt).date()
        except ValueError:
            continue
    return None


def _stage_of(pipeline: Mapping[str, Any], raw: str) -> dict[str, Any] | None:
    """The stage whose key or name is ``raw`` (case, spaces and punctuation ignored)."""
    want = _norm(raw)
    for s in pipeline["stages"]:
        if raw == s["key"]:
            return s
    for s in pipeline["stages"]:
        if want and want in (_norm(s["key"]), _norm(s["name"])):
            return s
    return None


class Pipelines:
    """The team's live pipelines, found by id or name (case-insensitive)."""

    def __init__(self, rows: Sequence[Mapping[str, Any]]) -> None:
        self.rows = list(rows)
        self.default = next((p for p in self.rows if p["is_default"]), None)

    def find(self, ref: str | None) -> dict[str, Any] | None:
        if ref is None:
            return dict(self.default) if self.default else None
        for p in self.rows:
            if p["id"] == ref:
                return dict(p)
        for p in self.rows:
            if _norm(p["name"]) == _norm(ref):
                return dict(p)
        return None


async def load_pipelines(conn: AsyncConnection, actor: Actor) -> Pipelines:
    from warehouse.models.deals import Pipeline

    t = Pipeline.__table__
    rows = await conn.execute(
        select(t.c.id, t.c.name, t.c.is_default, t.c.stages)
        .where(t.c.team_id == actor.team_id, t.c.deleted_at.is_(None))
        .order_by(t.c.created_at)
    )
    return Pipelines([dict(r._mapping) for r in rows])


def check_row(
    cells: Mapping[str, Any], extra: bool, pipelines: Pipelines, owners: Mapping[str, str]
) -> tuple[dict[str, Any], list[str]]:
    """A row's values for ``DealCreate`` (JSON-shaped: amounts and dates as strings) and the
    reasons it cannot be imported (empty: the row goes to the deal service)."""
    errors: list[str] = []
    out: dict[str, Any] = {}
    if extra:
        errors.append("the row has more values than the header has columns")
    if cells.get("name") is None:
        errors.append("name: a deal needs a name")
    else:
        out["name"] = cells["name"]
    if (raw := cells.get("value")) is not None:
        amount = parse_money(raw)
        if amount is None:
            errors.append(f"value: {_quoted(raw)} is not an amount")
        else:
            out["value"] = str(amount)
    if (raw := cells.get("currency")) is not None:
        out["currency"] = raw.strip().upper()
    if (raw := cells.get("value_type")) is not None:
        vt = VALUE_TYPES.get(_norm(raw))
        if vt is None:
            errors.append(f"value_type: {_quoted(raw)} is not one_off, mrr or arr")
        else:
            out["value_type"] = vt
    if (raw := cells.get("probability")) is not None:
        p = parse_money(raw.replace("%", ""))
        if p is None or not 0 <= p <= 100:
            errors.append(f"probability: {_quoted(raw)} is not a percentage from 0 to 100")
        else:
            out["probability"] = int(p.to_integral_value())
    pipeline = pipelines.find(cells.get("pipeline"))
    if pipeline is None:
        if cells.get("pipeline") is not None:
            errors.append(f"pipeline: no pipeline named {_quoted(cells['pipeline'])}")
        else:
            errors.append("pipeline: your team has no default pipeline")
    else:
        out["pipeline_id"] = pipeline["id"]
        if (raw := cells.get("stage")) is not None:
            stage = _stage_of(pipeline, raw)
            if stage is None:
                keys = ", ".join(s["key"] for s in pipeline["stages"])
                errors.append(
                    f"stage: {_quoted(raw)} is not a stage of pipeline "
                    f"{pipeline['name']!r} (stages: {keys})"
                )
            else:
                out["stage"] = stage["key"]
    for f in ("expected_close_date", "actual_close_date"):
        if (raw := cells.get(f)) is not None:
            d = parse_date(raw)
            if d is None:
                errors.append(f"{f}: {_quoted(raw)} is not a date")
            else:
                out[f] = d.isoformat()
    if (raw := cells.get("owner")) is not None:
        if raw in owners:
            out["owner_id"] = owners[raw]
        else:
            errors.append(f"owner: no team member with email, name or id {_quoted(raw)}")
    for f in ("win_reason", "loss_reason", "competitor", "next_step", "source"):
        if cells.get(f) is not None:
            out[f] = cells[f]
    if cells.get("custom"):
        out["custom"] = json.loads(cells["custom"])
    return out, errors


async def stage(
    tx: Any, actor: Actor, stager: Any, import_id: str, batch_size: int, folder: Path
) -> StageResult:
    """Check the rows and write the COPY file of rejects and ``deal_rows.jsonl``."""
    import asyncio

    from api.call_logs.bulk import resolve_refs

    rows = await asyncio.to_thread(stager.deal_rows, list(FIELDS))
    refs = sorted({c["owner"] for _, c, _, _ in rows if c.get("owner") is not None})
    async with tx() as conn:
        pipelines = await load_pipelines(conn, actor)
        owners = dict(await resolve_refs(conn, actor, "member", refs)) if refs else {}
    staged, rejected, rejects_path = await asyncio.to_thread(
        _write, rows, pipelines, owners, import_id, batch_size, stager.workdir, folder
    )
    return StageResult(
        total_rows=len(rows),
        rejected=rejected,
        skipped_duplicates=0,
        staged_rows=staged,
        folded_rows=0,
        batches=-(-staged // batch_size),
        rows_paths=[],
        rejects_path=rejects_path,
        copy_columns=[],
    )


def _write(
    rows: Sequence[tuple[int, dict[str, Any], bool, str]],
    pipelines: Pipelines,
    owners: Mapping[str, str],
    import_id: str,
    batch_size: int,
    workdir: Path,
    folder: Path,
) -> tuple[int, int, Path]:
    from leadly.ids import new_id

    folder.mkdir(parents=True, exist_ok=True)
    rejects_path = workdir / "rejects.copy.csv"
    rows_path = folder / ROWS_FILE
    staged = rejected = 0
    with (
        rejects_path.open("w", encoding="utf-8", newline="") as rf,
        rows_path.open("w", encoding="utf-8") as gf,
    ):
        w = csv.writer(rf, lineterminator="\n")
        for row_no, cells, extra, original in rows:
            values, errors = check_row(cells, extra, pipelines, owners)
            if errors:
                rejected += 1
                w.writerow([import_id, row_no, "; ".join(errors), original])
                continue
            item = {
                "row_no": row_no,
                "batch_no": staged // batch_size,
                "id": new_id("deal"),
                "values": values,
                "original": original,
            }
            gf.write(json.dumps(item) + "\n")
            staged += 1
    return staged, rejected, rejects_path


def read_batch(folder: Path, batch_no: int) -> list[dict[str, Any]]:
    out = []
    with (folder / ROWS_FILE).open(encoding="utf-8") as f:
        for line in f:
            item = json.loads(line)
            if item["batch_no"] == batch_no:
                out.append(item)
            elif item["batch_no"] > batch_no:
                break
    return out


def _reason(e: Problem) -> str:
    if not e.errors:
        return e.detail
    fields = [str(x.get("field")) for x in e.errors]
    if e.detail.startswith("Stage ") and all(f in e.detail for f in fields):
        return e.detail  # the gate's "Stage 'X' (x) needs: a, b."
    return "; ".join(f"{x.get('field')}: {x.get('message')}" for x in e.errors)


async def load_batch(
    conn: AsyncConnection, actor: Actor, import_id: str, items: Sequence[Mapping[str, Any]]
) -> tuple[BatchCounts, int]:
    """Write a batch's rows through the deal service, one savepoint each; returns the counts
    and the number of rows the gate rejected (recorded in ``raw.import_rejects``)."""
    from api.common.validate import decode_item
    from api.deals.schemas import DealCreate
    from api.deals.service import deal_service

    imported = 0
    rejects: list[dict[str, Any]] = []
    for item in items:
        try:
            async with conn.begin_nested():
                # Only what the row gave (DealCreate's None defaults would read as "given").
                values = {
                    k: v
                    for k, v in decode_item(DealCreate, item["values"]).items()
                    if k in item["values"] or v not in (None, [], {})
                }
                await deal_service.create_raw(
                    conn, actor, {**values, "id": item["id"]}, data={"import_id": import_id}
                )
            imported += 1
        except Problem as e:
            rejects.append({"row": item["row_no"], "reason": _reason(e), "v": item["original"]})
        except DBAPIError as e:
            code = getattr(getattr(e, "orig", None), "sqlstate", None) or ""
            if not code.startswith(("22", "23")):
                raise
            rejects.append(
                {"row": item["row_no"], "reason": f"The database refused the row: {e.orig}"[:2000],
                 "v": item["original"]}
            )  # fmt: skip
    if rejects:
        await conn.execute(
            text(
                'INSERT INTO raw.import_rejects (import_id, row_no, reason, "values") '
                "VALUES (:id, :row, :reason, CAST(:v AS jsonb))"
            ),
            [{"id": import_id, **r} for r in rejects],
        )
    return BatchCounts(imported, 0, 0, 0), len(rejects)
