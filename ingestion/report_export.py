"""A report's rows as a file, every row, streamed: CSV, XLSX, Parquet or PDF.

- CSV: PostgreSQL writes it (``COPY (<report query>) TO STDOUT``, streamed as it comes), so
  an export runs at the database's speed; text cells that start like a formula get a leading
  ``'`` in the query itself (the compiler's ``neutralize``).
- XLSX: xlsxwriter in constant-memory mode (a row is written and forgotten); past 1,048,575
  rows the rows go on to the next sheet, and the first sheet says so beside its header.
- Parquet: pyarrow, one row group per chunk (:func:`ingestion.export.parquet_stream`).
- PDF: HTML rendered by WeasyPrint: the team's name, the report, its chart (Vega-Lite to SVG
  with vl-convert), the rows, when the data was built, page numbers on every page.

The rows are read as the dashboard role in a transaction scoped to the caller's team (row-level
security), through a server-side cursor: memory stays flat however many rows there are.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import tempfile
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Date, Numeric, Text

from api.reports.compiler import Column as ReportColumn
from api.reports.compiler import Compiled, compile_query
from api.reports.service import definition_of, report_rows_tx
from ingestion.export import parquet_stream

FORMATS = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "parquet": ("application/vnd.apache.parquet", "parquet"),
    "pdf": ("application/pdf", "pdf"),
}
XLSX_MAX_ROWS = 1_048_575  # + the header row = Excel's limit
CHUNK = 5000
PDF_MAX_ROWS = 2000
"""A PDF is for reading: it lists the first rows (and says how many there are in all)."""


async def _copy_csv(actor: Any, compiled: Compiled) -> AsyncIterator[bytes]:
    async with report_rows_tx(actor, compiled) as conn:
        if conn is None:  # not built yet: the header only
            yield (",".join(c.name for c in compiled.columns) + "\r\n").encode()
            return
        raw = (await conn.get_raw_connection()).driver_connection
        sql = f"COPY ({compiled.sql}) TO STDOUT WITH (FORMAT csv, HEADER true)"
        async with raw.cursor() as cur, cur.copy(sql, compiled.params) as copy:
            async for data in copy:
                yield bytes(data)


async def rows(actor: Any, compiled: Compiled, chunk: int = CHUNK) -> AsyncIterator[list[tuple]]:
    """Every row, ``chunk`` at a time, through a server-side cursor."""
    async with report_rows_tx(actor, compiled) as conn:
        if conn is None:
            return
        raw = (await conn.get_raw_connection()).driver_connection
        async with raw.cursor(name="report_export") as cur:
            await cur.execute(compiled.sql, compiled.params)
            while part := await cur.fetchmany(chunk):
                yield part


async def count(actor: Any, compiled: Compiled) -> int:
    async with report_rows_tx(actor, compiled) as conn:
        if conn is None:
            return 0
        result = await conn.exec_driver_sql(
            f"SELECT count(*) FROM ({compiled.sql}) AS r", compiled.params
        )
        return int(result.scalar_one())


def _cell(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
    return value


async def _xlsx(actor: Any, compiled: Compiled, name: str) -> AsyncIterator[bytes]:
    import xlsxwriter

    total = await count(actor, compiled)
    header = [c.name for c in compiled.columns]
    with tempfile.NamedTemporaryFile(suffix=".xlsx") as f:
        wb = xlsxwriter.Workbook(f.name, {"constant_memory": True, "strings_to_formulas": False})
        day = wb.add_format({"num_format": "yyyy-mm-dd"})
        moment = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        state: dict[str, Any] = {"ws": None, "row": 0, "sheets": 0}
        sheets = max(1, -(-total // XLSX_MAX_ROWS))

        def new_sheet() -> None:
            state["sheets"] += 1
            n = state["sheets"]
            title = name[:25] if n == 1 else f"{name[:22]} ({n})"
            ws = wb.add_worksheet(
                "".join(ch for ch in title if ch not in "[]:*?/\\") or f"Sheet{n}"
            )
            ws.write_row(0, 0, header)
            if n == 1 and sheets > 1:
                ws.write_string(
                    0,
                    len(header) + 1,
                    f"{total:,} rows: more than a sheet holds ({XLSX_MAX_ROWS:,}), so they "
                    f"continue on sheets 2 to {sheets}.",
                )
            state["ws"], state["row"] = ws, 0

        def write(chunk: Sequence[Sequence[Any]]) -> None:
            for values in chunk:
                if state["ws"] is None or state["row"] >= XLSX_MAX_ROWS:
                    new_sheet()
                state["row"] += 1
                ws, r = state["ws"], state["row"]
                for c, v in enumerate(values):
                    if v is None:
                        continue
                    if isinstance(v, str):
                        ws.write_string(r, c, v)
                    elif isinstance(v, dt.datetime):
                        ws.write_datetime(r, c, _cell(v), moment)
                    elif isinstance(v, dt.date):
                        ws.write_datetime(r, c, dt.datetime(v.year, v.month, v.day), day)
                    elif isinstance(v, bool):
                        ws.write_boolean(r, c, v)
                    else:
                        ws.write_number(r, c, _cell(v))

        async for chunk in rows(actor, compiled):
            await asyncio.to_thread(write, chunk)
        if state["ws"] is None:
            new_sheet()
        await asyncio.to_thread(wb.close)
        f.seek(0)
        while data := await asyncio.to_thread(f.read, 1 << 20):
            yield data


def _sa_column(c: ReportColumn) -> Column[Any]:
    kind = {"number": Numeric(), "money": Numeric(), "percent": Numeric(), "time": Date()}
    return Column(c.name, kind.get(c.type, Text()))


async def _parquet(actor: Any, compiled: Compiled) -> AsyncIterator[bytes]:
    columns = [_sa_column(c) for c in compiled.columns]
    dates = [c.type == "time" for c in compiled.columns]

    async def typed() -> AsyncIterator[list[tuple]]:
        async for chunk in rows(actor, compiled):
            yield [
                tuple(
                    v.isoformat() if d and v is not None else v
                    for v, d in zip(row, dates, strict=True)
                )
                for row in chunk
            ]

    async for data in parquet_stream([c.name for c in columns], columns, typed()):
        yield data


def stream(
    fmt: str, actor: Any, report: dict[str, Any], compiled: Compiled
) -> AsyncIterator[bytes]:
    """The export of a saved ``report`` (``compiled``: its query) in ``fmt``."""
    if fmt == "csv":
        return _copy_csv(actor, compile_query(definition_of(report), neutralize=True))
    if fmt == "xlsx":
        return _xlsx(actor, compiled, report.get("name") or "report")
    if fmt == "parquet":
        return _parquet(actor, compiled)
    from ingestion.report_pdf import report_pdf

    return report_pdf(actor, [report])
