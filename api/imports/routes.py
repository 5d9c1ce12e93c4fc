"""Import routes: upload (202, run by the dispatcher worker), preview, status, list, rejects.

    POST /api/v1/imports            multipart: file, object, [mapping], [duplicate_policy]
    POST /api/v1/imports/preview    multipart: file, object → columns, suggested mapping, sample
    GET  /api/v1/imports            the team's imports (cursor pagination, filters, sort)
    GET  /api/v1/imports/{id}       status and counts
    GET  /api/v1/imports/{id}/rejects   the rejected rows as CSV (row, original values, reason)

The upload is streamed to ``LEADLY_DATA_DIR/imports/<id>/`` (never held in memory) and checked
(format, encoding, header, mapping) before the import is queued, so a bad file is a 422 now
rather than a failed import later.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import secrets
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.response import Stream

from api.common.listing import check_known_params, parse_params
from api.common.scope import REQUEST_CONN, tenant_scope
from api.imports.schemas import Import, ImportPage, Preview
from api.imports.service import import_service
from api.web import idempotency
from api.web.crud import check_writable
from api.web.handlers import caller, read_json, writer
from api.web.http import json_response
from leadly.ids import new_id
from leadly.problem import Problem, validation
from warehouse.models.imports import DUPLICATE_POLICIES

POLICIES = DUPLICATE_POLICIES
FORM_FIELDS = frozenset({"file", "object", "mapping", "duplicate_policy"})


async def release_request_tx() -> None:
    """End the auth transaction before a long upload or download, so no transaction stays
    open (and holds back the dispatcher) while bytes move; later work opens its own."""
    conn = REQUEST_CONN.get()
    if conn is not None and conn.in_transaction():
        await conn.commit()


def _field_problem(field: str, message: str) -> Problem:
    """422 naming the bad form field."""
    return validation([{"field": field, "message": message}], message)


def _object_spec(raw: str | None) -> Any:
    from ingestion.mapping import OBJECTS, spec_for

    if not raw:
        raise _field_problem("object", "Say what the file holds: object=leads, call_logs or deals.")
    spec = spec_for(raw)
    if spec is None:
        raise _field_problem("object", f"Unknown object {raw!r}: use one of {', '.join(OBJECTS)}.")
    return spec


def _mapping(raw: str | None) -> dict[str, str | None] | None:
    if raw is None or not raw.strip():
        return None
    try:
        value = msgspec.json.decode(raw.encode())
    except msgspec.DecodeError:
        raise _field_problem("mapping", "mapping must be a JSON object {column: field}.") from None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in value.items()
    ):
        raise _field_problem(
            "mapping", "mapping must be a JSON object of column header → field name (or null)."
        )
    return value


def _file_problem(e: Exception) -> Problem:
    return _field_problem("file", str(e))


async def _receive(request: Request, dest: Path) -> tuple[Any, Any]:
    from api.web.upload import receive
    from ingestion.runner import max_bytes

    upload = await receive(request, dest, max_bytes())
    unknown = sorted(set(upload.fields) - FORM_FIELDS)
    if unknown:
        raise validation(
            [{"field": k, "message": "Unknown form field."} for k in unknown],
            f"Unknown form field(s): {', '.join(unknown)}.",
        )
    if upload.path is None:
        raise _field_problem("file", "Attach the file in the multipart field 'file'.")
    spec = _object_spec(upload.fields.get("object"))
    return upload, spec


def _suffix(file_name: str, fmt: str) -> str:
    ext = Path(file_name).suffix.lower()
    if fmt == "xlsx":
        return ".xlsx"
    return ext if ext in (".csv", ".tsv", ".txt") else ".csv"


class ImportsController(Controller):
    path = "/api/v1/imports"
    tags = ["imports"]

    @post("/", status_code=202, request_max_body_size=None, operation_id="create_import")
    async def create_import(self, request: Request) -> Response[Import]:
        """Upload a CSV or XLSX file to import (multipart/form-data: ``file``, ``object`` =
        leads | call_logs | deals, optional ``mapping`` JSON {column: field}, optional
        ``duplicate_policy`` = skip | update | merge). Answers 202 with the queued import."""
        from ingestion import probe
        from ingestion.files import FileProblem
        from ingestion.mapping import MappingError
        from ingestion.runner import batch_size, import_dir

        actor = writer(request, "imports")
        await release_request_tx()
        import_id = new_id("imp")
        folder = import_dir(import_id)
        try:
            upload, spec = await _receive(request, folder / "upload.part")
            check_writable(actor, spec.name)
            override = _mapping(upload.fields.get("mapping"))
            policy = (upload.fields.get("duplicate_policy") or "skip").strip().lower()
            if policy not in POLICIES:
                raise _field_problem(
                    "duplicate_policy", f"duplicate_policy must be one of {', '.join(POLICIES)}."
                )
            try:
                p = await asyncio.to_thread(probe.probe, upload.path, folder / "probe")
                used = probe.mapping_for(spec, p, override)
            except FileProblem as e:
                raise _file_problem(e) from None
            except MappingError as e:
                raise validation(e.errors, str(e)) from None
            shutil.rmtree(folder / "probe", ignore_errors=True)
            stored = folder / f"source{_suffix(upload.file_name or '', p.file_format)}"
            upload.path.replace(stored)
            values = {
                "id": import_id,
                "object": spec.name,
                "status": "queued",
                "file_name": (upload.file_name or "upload")[:255],
                "file_format": p.file_format,
                "file_size": upload.size,
                "file_sha256": upload.sha256,
                "stored_path": str(stored.relative_to(folder.parent.parent)),
                "encoding": p.encoding,
                "delimiter": p.delimiter,
                "columns": p.columns,
                "mapping": used,
                "duplicate_policy": policy if spec.name == "leads" else "skip",
                "runner": "worker",
                "batch_size": batch_size(),
                "request_id": actor.request_id,
            }
            key = request.headers.get("idempotency-key")
            if key is not None and len(key) > 255:
                raise Problem(400, "Idempotency-Key is longer than 255 characters.")
            async with tenant_scope(actor) as conn:
                if key:
                    fields = msgspec.json.encode(
                        {k: v for k, v in upload.fields.items()}, order="sorted"
                    )
                    digest = hashlib.sha256(
                        b"POST /api/v1/imports\n" + upload.sha256.encode() + b"\n" + fields
                    ).digest()
                    replay = await idempotency.claim(
                        conn, actor, key, "POST", request.url.path, digest
                    )
                    if replay is not None:
                        shutil.rmtree(folder, ignore_errors=True)
                        return replay
                row = await import_service.create(conn, actor, values)
                response = json_response(row, 202, {"Location": f"/api/v1/imports/{row['id']}"})
                if key:
                    await idempotency.store(conn, actor, key, response)
            return response
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    @post("/preview", status_code=200, request_max_body_size=None, operation_id="preview_import")
    async def preview(self, request: Request) -> Response[Preview]:
        """Look at an upload before importing it (multipart: ``file``, ``object``): columns,
        suggested mapping, unmapped columns, sample rows, delimiter, encoding, row estimate.
        Nothing is stored."""
        from ingestion import probe
        from ingestion.files import FileProblem
        from ingestion.runner import imports_root

        caller(request, "imports:read")  # 403 without the scope
        await release_request_tx()
        folder = imports_root() / f".preview-{secrets.token_hex(8)}"
        try:
            upload, spec = await _receive(request, folder / "upload")
            try:
                p = await asyncio.to_thread(probe.probe, upload.path, folder / "probe")
            except FileProblem as e:
                raise _file_problem(e) from None
            return json_response(probe.describe(p, spec, upload.file_name or "upload"))
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    @get("/", operation_id="list_imports")
    async def list_imports(self, request: Request) -> Response[ImportPage]:
        """The team's imports, newest first (``filter[status]=``, ``sort=``, cursors)."""
        actor = caller(request, "imports:read")
        check_known_params(request.query_params)
        params = parse_params(request.query_params)

        return await read_json(actor, import_service.list, params)

    @get("/{import_id:str}", operation_id="get_import")
    async def get_import(self, request: Request, import_id: str) -> Response[Import]:
        """Status and counts of an import (updated after every committed batch)."""
        actor = caller(request, "imports:read")
        return await read_json(actor, import_service.get, import_id)

    @get("/{import_id:str}/rejects", operation_id="get_import_rejects")
    async def rejects(self, request: Request, import_id: str) -> Stream:
        """The rejected rows as CSV: ``row`` (the header is row 1), the file's columns with
        their original values, and ``reason``."""
        actor = caller(request, "imports:read")

        async with tenant_scope(actor) as conn:
            found = await import_service.get(conn, actor, import_id)
        columns: list[str] = list(found.get("columns") or [])
        stem = Path(found.get("file_name") or "import").stem or "import"

        from ingestion.export import neutralize

        async def body() -> AsyncIterator[bytes]:
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\r\n")
            w.writerow(["row", *columns, "reason"])
            yield buf.getvalue().encode()
            async with tenant_scope(actor) as conn:
                async for chunk in import_service.rejects(conn, import_id):
                    buf.seek(0)
                    buf.truncate()
                    for row_no, reason, values in chunk:
                        cells = ["" if v is None else neutralize(str(v)) for v in (values or [])]
                        cells += [""] * (len(columns) - len(cells))
                        w.writerow([row_no, *cells, reason])
                    yield buf.getvalue().encode()

        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:100]
        return Stream(
            body(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{safe}-rejects.csv"'},
        )


routers = [ImportsController]
