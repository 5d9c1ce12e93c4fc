"""A quick look at an upload (its first rows only): format, encoding, delimiter, header,
sample rows and the suggested mapping. Used by ``POST /api/v1/imports/preview`` and to refuse a
bad upload before it is queued (so the user gets a 422 instead of a failed import)."""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingestion import files, mapping
from ingestion.files import FileProblem, Prepared

PROBE_BYTES = 1 << 20
SAMPLE_ROWS = 20
TYPE_SAMPLE = 200  # rows looked at to decide whether a numeric column holds numbers


@dataclass(frozen=True)
class Probe:
    file_format: str
    encoding: str
    delimiter: str | None
    columns: list[str]
    sample_rows: list[dict[str, str | None]]
    type_sample: dict[str, list[str | None]]
    total_rows_estimate: int


def _head_text(src: Path) -> tuple[str, str, bool]:
    """(encoding, text of the first ~1 MB cut at a line end, whole file read)."""
    with src.open("rb") as f:
        head = f.read(PROBE_BYTES)
        whole = not f.read(1)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        try:
            codecs.getincrementaldecoder("utf-8")().decode(head, final=whole)
            encoding = "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
        except UnicodeDecodeError:
            encoding = "cp1252"
    errors = "leadly_cp1252" if encoding == "cp1252" else "replace"
    text = codecs.getincrementaldecoder(encoding)(errors=errors).decode(head, final=whole)
    text = text.replace("\x00", "")
    if not whole and "\n" in text:
        text = text[: text.rfind("\n") + 1]
    return encoding, text, whole


def probe(src: Path, workdir: Path) -> Probe:
    """Look at the first rows of ``src`` (FileProblem when it cannot be imported)."""
    from ingestion.stage import Stager

    workdir.mkdir(parents=True, exist_ok=True)
    if not src.exists() or src.stat().st_size == 0:
        raise FileProblem("The file is empty.")
    fmt = files.detect_format(src)
    head = workdir / "probe.csv"
    whole = True
    if fmt == "xlsx":
        estimate = files.xlsx_to_csv(src, head, TYPE_SAMPLE)
        encoding, delimiter, quote = "xlsx", ",", '"'
    else:
        encoding, text, whole = _head_text(src)
        if encoding != "utf-16" and files._looks_binary(src):
            raise FileProblem("The file is not text: upload a CSV or an XLSX file.")
        head.write_text(text, encoding="utf-8")
        delimiter, quote = files.sniff(head)
        estimate = 0
    columns = files.read_header(head, delimiter, quote)
    prepared = Prepared(head, fmt, encoding, delimiter, quote, columns)
    stager = Stager(prepared, mapping.LEADS, {}, workdir / "probe")
    try:
        stager.load()
        sample = stager.sample(TYPE_SAMPLE)
        counted = stager.row_count()
    finally:
        stager.close()
    if not sample:
        raise FileProblem("The file has a header row but no data rows.")
    if fmt != "xlsx" and not whole:
        head_bytes = max(1, head.stat().st_size)
        estimate = round(counted * src.stat().st_size / head_bytes)
    type_sample = {c: [r.get(c) for r in sample] for c in columns}
    return Probe(
        file_format=fmt,
        encoding=encoding,
        delimiter=delimiter if fmt != "xlsx" else None,
        columns=columns,
        sample_rows=sample[:SAMPLE_ROWS],
        type_sample=type_sample,
        total_rows_estimate=max(estimate, counted),
    )


def mapping_for(
    spec: mapping.ObjectSpec, p: Probe, override: Mapping[str, str | None] | None
) -> dict[str, str | None]:
    """The mapping an import of ``p`` would use; FileProblem when it fills no field at all."""
    resolved = mapping.resolve(spec, p.columns, override, p.type_sample)
    if not any(resolved.values()):
        raise FileProblem(
            f"None of the columns ({', '.join(p.columns[:10])}"
            f"{', ...' if len(p.columns) > 10 else ''}) could be matched to a field of "
            f"{spec.name} ({', '.join(spec.fields)}): send a mapping."
        )
    return resolved


def describe(p: Probe, spec: mapping.ObjectSpec, file_name: str) -> dict[str, Any]:
    suggested = mapping.suggest(spec, p.columns, p.type_sample)
    return {
        "object": spec.name,
        "file_name": file_name,
        "file_format": p.file_format,
        "columns": p.columns,
        "suggested_mapping": suggested,
        "unmapped": mapping.unmapped(suggested, p.columns),
        "fields": spec.fields,
        "sample_rows": p.sample_rows,
        "delimiter": p.delimiter,
        "encoding": p.encoding,
        "total_rows_estimate": p.total_rows_estimate,
    }
