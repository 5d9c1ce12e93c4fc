"""Turn an uploaded file into a UTF-8 CSV DuckDB reads, and find its shape.

- XLSX (a zip with ``xl/workbook.xml``): the first sheet is streamed to CSV with openpyxl.
- CSV/TSV/text: the encoding is found by decoding (UTF-8 with or without BOM, UTF-16 with BOM,
  otherwise Windows-1252, the superset of Latin-1 that Excel writes) and anything but UTF-8 is
  transcoded first; DuckDB's sniffer finds the delimiter and quoting (with a fallback that counts
  candidate delimiters in the header when the sniffer sees a single column).

Heavy modules (duckdb, openpyxl) are imported inside the functions.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

CANDIDATE_DELIMITERS = (",", ";", "\t", "|")
CHUNK = 1 << 20


class FileProblem(ValueError):
    """The file cannot be imported; the message says why (shown to the user as a 422)."""


@dataclass(frozen=True)
class Prepared:
    csv_path: Path  # UTF-8 CSV (may be the original file)
    file_format: str  # csv | xlsx
    encoding: str  # of the original: utf-8, utf-8-sig, utf-16, cp1252, xlsx
    delimiter: str
    quote: str
    columns: list[str]  # header cells, made unique ("Phone", "Phone (2)")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def detect_format(path: Path) -> str:
    with path.open("rb") as f:
        head = f.read(8)
    if not head:
        raise FileProblem("The file is empty.")
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as z:
                names = set(z.namelist())
        except zipfile.BadZipFile:
            raise FileProblem("The file looks like a zip archive but cannot be read.") from None
        if "xl/workbook.xml" in names:
            return "xlsx"
        raise FileProblem("Zip archives are not supported: upload a CSV or an XLSX file.")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileProblem("Legacy .xls workbooks are not supported: save the sheet as XLSX or CSV.")
    return "csv"


# --------------------------------------------------------------------------- encodings


def detect_encoding(path: Path) -> str:
    """``utf-8``, ``utf-8-sig``, ``utf-16`` (BOM) or ``cp1252`` (anything not valid UTF-8)."""
    with path.open("rb") as f:
        head = f.read(4)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        f.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := f.read(CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"


def _cp1252_or_latin1(err: UnicodeError) -> tuple[str, int]:
    # The five bytes Windows-1252 leaves undefined are read as Latin-1 (control characters).
    assert isinstance(err, UnicodeDecodeError)
    return err.object[err.start : err.end].decode("latin-1"), err.end


codecs.register_error("leadly_cp1252", _cp1252_or_latin1)


def transcode(src: Path, dst: Path, encoding: str) -> None:
    errors = "leadly_cp1252" if encoding == "cp1252" else "strict"
    decoder = codecs.getincrementaldecoder(encoding)(errors=errors)
    try:
        with src.open("rb") as fin, dst.open("w", encoding="utf-8", newline="") as fout:
            while chunk := fin.read(CHUNK):
                fout.write(decoder.decode(chunk).replace("\x00", ""))
            fout.write(decoder.decode(b"", final=True))
    except UnicodeDecodeError as e:
        raise FileProblem(f"The file is not valid {encoding} text ({e.reason}).") from None


def _looks_binary(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(8192)
    return b"\x00" in head


# --------------------------------------------------------------------------- xlsx


def _cell_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return repr(v)
    if isinstance(v, datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, date | time):
        return v.isoformat()
    if isinstance(v, Decimal):
        return format(v, "f")
    return str(v)


def xlsx_to_csv(src: Path, dst: Path, rows: int | None = None) -> int:
    """The first worksheet as a UTF-8 CSV (values, not formulas; empty trailing cells and NUL
    characters dropped): all of it, or its header and first ``rows`` rows (a probe). Returns the
    sheet's data rows as the workbook states them (an estimate: trailing empty rows count)."""
    import openpyxl

    fh = src.open("rb")  # a file object: openpyxl refuses paths without an .xlsx extension
    try:
        wb = openpyxl.load_workbook(fh, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises many types for broken workbooks
        fh.close()
        raise FileProblem(f"The XLSX workbook cannot be read ({type(e).__name__}).") from None
    try:
        ws = wb.worksheets[0] if wb.worksheets else None
        if ws is None:
            raise FileProblem("The workbook has no worksheet.")
        estimate = max(0, (ws.max_row or 0) - 1)
        with dst.open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            for i, row in enumerate(ws.iter_rows(values_only=True)):
                if rows is not None and i > rows:
                    break
                cells = [_cell_text(v).replace("\x00", "") for v in row]
                while cells and cells[-1] == "":
                    cells.pop()
                w.writerow(cells)
        return estimate
    finally:
        wb.close()
        fh.close()


# --------------------------------------------------------------------------- sniffing


def _first_lines(path: Path, n: int = 20) -> list[str]:
    out: list[str] = []
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as f:
        for line in f:
            if line.strip():
                out.append(line.rstrip("\r\n"))
            if len(out) >= n:
                break
    return out


def _count_outside_quotes(line: str, delim: str, quote: str = '"') -> int:
    n, inside = 0, False
    for ch in line:
        if ch == quote:
            inside = not inside
        elif ch == delim and not inside:
            n += 1
    return n


def _fallback_delimiter(lines: list[str]) -> str:
    """The candidate that splits the header, preferring one that splits every line alike."""
    best, best_score = ",", (-1, -1)
    for d in CANDIDATE_DELIMITERS:
        counts = [_count_outside_quotes(line, d) for line in lines]
        if not counts or counts[0] == 0:
            continue
        consistent = sum(1 for c in counts if c == counts[0])
        score = (consistent, counts[0])
        if score > best_score:
            best, best_score = d, score
    return best


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def sniff(path: Path) -> tuple[str, str]:
    """(delimiter, quote) of a UTF-8 CSV, by DuckDB's sniffer."""
    import duckdb

    lines = _first_lines(path)
    if not lines:
        raise FileProblem("The file has no rows (not even a header).")
    delim, quote = "", '"'
    try:
        with duckdb.connect() as db:
            row = db.execute(
                f"SELECT Delimiter, Quote, Columns FROM sniff_csv({_sql_str(str(path))}, "
                "sample_size = 20000, "
                "all_varchar = true, header = true, null_padding = true, strict_mode = false)"
            ).fetchone()
        if row is not None:
            delim = row[0] or ""
            quote = row[1] if row[1] and row[1] != "(empty)" else '"'
            if len(row[2] or []) <= 1:
                delim = ""
    except duckdb.Error:
        delim = ""
    if delim not in CANDIDATE_DELIMITERS or _count_outside_quotes(lines[0], delim, quote) == 0:
        delim = _fallback_delimiter(lines)
    return delim, quote


def unique_headers(cells: list[str | None]) -> list[str]:
    out: list[str] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(cells):
        name = (raw or "").strip() or f"Column {i + 1}"
        base, n = name, seen.get(name.lower(), 0)
        while name.lower() in seen:
            n += 1
            name = f"{base} ({n + 1})"
        seen[base.lower()] = n
        seen[name.lower()] = 0
        out.append(name)
    return out


def read_header(path: Path, delimiter: str, quote: str) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter, quotechar=quote)
        for row in reader:
            if any(c.strip() for c in row):
                while row and not row[-1].strip():
                    row.pop()
                return unique_headers(list(row))
    raise FileProblem("The file has no rows (not even a header).")


# --------------------------------------------------------------------------- entry point


def prepare(src: Path, workdir: Path) -> Prepared:
    """The UTF-8 CSV for ``src`` (written into ``workdir`` when a conversion is needed)."""
    workdir.mkdir(parents=True, exist_ok=True)
    if not src.exists() or src.stat().st_size == 0:
        raise FileProblem("The file is empty.")
    fmt = detect_format(src)
    if fmt == "xlsx":
        out = workdir / "source.utf8.csv"
        xlsx_to_csv(src, out)
        encoding = "xlsx"
        delimiter, quote = ",", '"'
    else:
        encoding = detect_encoding(src)
        if encoding != "utf-16" and _looks_binary(src):
            raise FileProblem("The file is not text: upload a CSV or an XLSX file.")
        if encoding in ("utf-8", "utf-8-sig"):
            out = src
        else:
            out = workdir / "source.utf8.csv"
            transcode(src, out, encoding)
        delimiter, quote = sniff(out)
    columns = read_header(out, delimiter, quote)
    if not columns:
        raise FileProblem("The file's first row (the header) is empty.")
    return Prepared(out, fmt, encoding, delimiter, quote, columns)


def copy_into(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(dst.suffix + ".part")
    shutil.copyfile(src, tmp)
    tmp.replace(dst)


def iter_chunks(path: Path, size: int = CHUNK) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(size):
            yield chunk
