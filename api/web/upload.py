"""Receive a multipart upload straight into a file (never the whole body in memory).

The file part (field ``file``) is written to disk as it arrives, with its size and SHA-256;
the other parts are short text fields. Above the limit the request is refused with 413 as soon
as the limit is crossed (or before reading anything, when Content-Length says so).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from litestar import Request

from leadly.problem import Problem

FIELD_LIMIT = 1 << 20
MULTIPART_OVERHEAD = 64 * 1024


@dataclass
class Upload:
    fields: dict[str, str] = field(default_factory=dict)
    path: Path | None = None
    file_name: str | None = None
    size: int = 0
    sha256: str = ""


def _too_large(limit: int) -> Problem:
    return Problem(
        413,
        f"The file is larger than the import limit of {limit:,} bytes (LEADLY_IMPORT_MAX_BYTES).",
        title="Content Too Large",
        max_bytes=limit,
    )


async def receive(request: Request, dest: Path, limit: int) -> Upload:
    """Parse the multipart body of ``request``; the part named ``file`` goes to ``dest``."""
    from multipart import MultipartSegment, ParserError, ParserLimitReached, PushMultipartParser

    content_type, options = request.content_type
    if content_type != "multipart/form-data" or not options.get("boundary"):
        raise Problem(
            415,
            "Send the file as multipart/form-data (field 'file', with 'object').",
            title="Unsupported Media Type",
        )
    length = request.content_length
    if length is not None and length > limit + MULTIPART_OVERHEAD:
        raise _too_large(limit)
    out = Upload()
    dest.parent.mkdir(parents=True, exist_ok=True)
    sink = None
    digest = hashlib.sha256()
    segment: MultipartSegment | None = None
    text = bytearray()
    try:
        with PushMultipartParser(options["boundary"].encode(), max_segment_count=32) as parser:
            async for chunk in request.stream():
                for part in parser.parse(chunk):
                    if isinstance(part, MultipartSegment):
                        segment = part
                        text.clear()
                        if part.name == "file" and part.filename is not None:
                            if sink is not None:
                                raise Problem(422, "Send exactly one file (field 'file').")
                            out.file_name = part.filename or "upload"
                            sink = dest.open("wb")
                    elif part:
                        if segment is None:
                            continue
                        if segment.name == "file" and sink is not None and out.path is None:
                            out.size += len(part)
                            if out.size > limit:
                                raise _too_large(limit)
                            digest.update(part)
                            sink.write(part)
                        else:
                            text.extend(part)
                            if len(text) > FIELD_LIMIT:
                                raise Problem(
                                    413,
                                    f"Form field {segment.name!r} is too large.",
                                    title="Content Too Large",
                                )
                    else:  # end of a part
                        if segment is not None:
                            if segment.name == "file" and sink is not None and out.path is None:
                                sink.close()
                                out.path = dest
                            elif segment.name != "file":
                                charset = segment.charset or "utf-8"
                                try:
                                    out.fields[segment.name] = text.decode(charset)
                                except (UnicodeDecodeError, LookupError):
                                    raise Problem(
                                        400, f"Form field {segment.name!r} is not {charset} text."
                                    ) from None
                        segment = None
                if parser.closed:
                    break
            if not parser.closed:
                raise Problem(400, "The multipart body ended early.")
    except (ParserError, ParserLimitReached) as e:
        raise Problem(400, f"The multipart body is malformed ({e}).") from None
    finally:
        if sink is not None and not sink.closed:
            sink.close()
    out.sha256 = digest.hexdigest()
    return out
