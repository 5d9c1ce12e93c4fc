"""Stream records out as CSV, XLSX or Parquet, chunk by chunk, with no row cap.

The rows come from a server-side cursor (``AsyncConnection.stream``) in chunks; each format
writes a chunk at a time, so memory stays flat however many rows match:

- CSV: UTF-8, a header row of field names, RFC 4180 quoting; JSON fields as JSON text.
- XLSX: openpyxl's write-only workbook (rows are spooled to a temporary file, the zip is
  streamed at the end); a sheet holds at most 1,048,575 rows, further rows go to the next sheet.
- Parquet: pyarrow, one row group per chunk, typed columns (timestamps in UTC, JSON as text).

pyarrow and openpyxl are imported inside the functions (not on the API's import path).
"""

from __future__ import annotations

import asyncio
import csv
import io
import tempfile
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import JSON, Boolean, Column, DateTime, Integer, Numeric
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

FORMATS = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "parquet": ("application/vnd.apache.parquet", "parquet"),
}
XLSX_MAX_ROWS = 1_048_575  # + the header row = Excel's limit
CHUNK = 5000

Rows = AsyncIterator[Sequence[Sequence[Any]]]
_json = msgspec.json.Encoder(decimal_format="number")


def _is_json(col: Column[Any]) -> bool:
    return isinstance(col.type, JSONB | JSON | ARRAY)


#: A cell starting with one of these is a formula to Excel, LibreOffice and Sheets
#: (``=cmd|' /C calc'!A0``, ``+``, ``-``, ``@``, or a tab or carriage return before one).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralize(text: str) -> str:
    """A text cell as a spreadsheet shows it, never run: OWASP's advice, a leading ``'`` when it
    starts like a formula (docs/imports.md). Numbers are written as numbers, untouched."""
    return "'" + text if text.startswith(FORMULA_START) else text


def _text(value: Any, json_col: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, str) and not json_col:
        return neutralize(value)
    if json_col:
        return _json.encode(value).decode()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    return str(value)


async def csv_stream(
    fields: Sequence[str], columns: Sequence[Column[Any]], rows: Rows
) -> AsyncIterator[bytes]:
    json_cols = [_is_json(c) for c in columns]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(fields)
    yield buf.getvalue().encode()
    async for chunk in rows:
        buf.seek(0)
        buf.truncate()
        w.writerows([_text(v, j) for v, j in zip(row, json_cols, strict=True)] for row in chunk)
        yield buf.getvalue().encode()


def _xlsx_value(value: Any, json_col: bool) -> Any:
    if value is None:
        return None
    if json_col:
        return _json.encode(value).decode()
    if isinstance(value, datetime):
        # Excel has no time zones: UTC wall-clock time.
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str):
        # openpyxl refuses control characters; a formula-looking text stays text.
        return "".join(ch for ch in value if ch >= " " or ch in "\t\n\r")
    return value


async def xlsx_stream(
    fields: Sequence[str], columns: Sequence[Column[Any]], rows: Rows, sheet: str = "export"
) -> AsyncIterator[bytes]:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    json_cols = [_is_json(c) for c in columns]
    wb = Workbook(write_only=True)
    state = {"ws": None, "n": 0, "sheets": 0}

    def new_sheet() -> None:
        state["sheets"] += 1
        name = sheet if state["sheets"] == 1 else f"{sheet} {state['sheets']}"
        ws = wb.create_sheet(name[:31])
        ws.append(list(fields))
        state["ws"], state["n"] = ws, 0

    def write(chunk: Sequence[Sequence[Any]]) -> None:
        for row in chunk:
            if state["ws"] is None or state["n"] >= XLSX_MAX_ROWS:
                new_sheet()
            values = []
            for v, j in zip(row, json_cols, strict=True):
                x = _xlsx_value(v, j)
                if isinstance(x, str) and x.startswith("="):
                    cell = WriteOnlyCell(state["ws"], value=x)
                    cell.data_type = "s"
                    values.append(cell)
                else:
                    values.append(x)
            state["ws"].append(values)
            state["n"] += 1

    async for chunk in rows:
        await asyncio.to_thread(write, chunk)
    if state["ws"] is None:
        new_sheet()
    with tempfile.TemporaryFile() as f:
        await asyncio.to_thread(wb.save, f)
        f.seek(0)
        while data := await asyncio.to_thread(f.read, 1 << 20):
            yield data


def _arrow_type(col: Column[Any]) -> Any:
    import pyarrow as pa

    t = col.type
    if _is_json(col):
        return pa.string()
    if isinstance(t, Boolean):
        return pa.bool_()
    if isinstance(t, Integer):
        return pa.int64()
    if isinstance(t, Numeric):
        return pa.float64()
    if isinstance(t, DateTime):
        return pa.timestamp("us", tz="UTC")
    return pa.string()


class _Sink(io.RawIOBase):
    """A write-only file that keeps what was written until it is drained."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.pos = 0

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        data = bytes(b)
        self.parts.append(data)
        self.pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self.pos

    def drain(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


async def parquet_stream(
    fields: Sequence[str], columns: Sequence[Column[Any]], rows: Rows
) -> AsyncIterator[bytes]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([pa.field(f, _arrow_type(c)) for f, c in zip(fields, columns, strict=True)])
    json_cols = [_is_json(c) for c in columns]
    float_cols = [isinstance(c.type, Numeric) and not isinstance(c.type, Integer) for c in columns]
    sink = _Sink()
    writer = pq.ParquetWriter(sink, schema, compression="zstd")

    def write(chunk: Sequence[Sequence[Any]]) -> None:
        cols = list(zip(*chunk, strict=True)) if chunk else [() for _ in fields]
        arrays = []
        for values, j, fl, f in zip(cols, json_cols, float_cols, schema, strict=True):
            if j:
                values = [None if v is None else _json.encode(v).decode() for v in values]
            elif fl:
                values = [None if v is None else float(v) for v in values]
            arrays.append(pa.array(values, type=f.type))
        writer.write_table(pa.Table.from_arrays(arrays, schema=schema))

    async for chunk in rows:
        if chunk:
            await asyncio.to_thread(write, chunk)
            data = sink.drain()
            if data:
                yield data
    await asyncio.to_thread(writer.close)
    yield sink.drain()


def query(service: Any, actor: Any, params: Any) -> tuple[Any, list[str], list[Column[Any]]]:
    """The list endpoint's query without its page: same scope, filters and sort (keyset order
    with the id tie-breaker), every matching row; and the fields it returns."""
    from sqlalchemy import select

    lister = service.lister
    keys = lister.sort_keys(params.sort)
    where = lister.where(params.filters)
    fields = lister.fields(params.fields) or list(service.public_columns)
    columns = [service.public_columns[f] for f in fields]
    t = service.table
    stmt = select(*columns).where(t.c.team_id == actor.team_id, *where)
    if service.soft_delete:
        stmt = stmt.where(t.c.deleted_at.is_(None))
    return stmt.order_by(*lister.order_by(keys)), fields, columns


async def rows_of(conn: Any, stmt: Any, chunk: int | None = None) -> Rows:
    """The rows of ``stmt`` through a server-side cursor, ``chunk`` at a time."""
    chunk = chunk or CHUNK
    result = await conn.stream(stmt.execution_options(yield_per=chunk))
    async for part in result.partitions(chunk):
        yield [tuple(r) for r in part]


def export_format(query: Any, formats: Sequence[str], *, only_format: bool = True) -> str:
    """The ``format`` query parameter of an export (default csv), lower-cased; a 400 naming
    ``limit``/``cursor`` (an export has every row), any other parameter with ``only_format``
    (callers that take filters check those themselves), or a format not in ``formats``."""
    from leadly.problem import Problem, bad_param

    stray = sorted(k for k in query if k in ("limit", "cursor") or (only_format and k != "format"))
    if stray:
        raise Problem(
            400,
            f"An export has every matching row: {', '.join(stray)} does not apply.",
            errors=[{"field": k, "message": "Not an export parameter."} for k in stray],
        )
    fmt = (query.get("format") or "csv").lower()
    if fmt not in formats:
        raise bad_param(
            "format", f"format must be one of {', '.join(formats)}.", "Unknown export format."
        )
    return fmt


def stream(
    fmt: str, fields: Sequence[str], columns: Sequence[Column[Any]], rows: Rows, sheet: str
) -> AsyncIterator[bytes]:
    if fmt == "csv":
        return csv_stream(fields, columns, rows)
    if fmt == "xlsx":
        return xlsx_stream(fields, columns, rows, sheet)
    return parquet_stream(fields, columns, rows)
