from datetime import datetime
from typing import Literal

from msgspec import Struct

from api.common.structs import page_of
from warehouse.models.imports import DUPLICATE_POLICIES, IMPORT_RUNNERS, IMPORT_STATUSES

ImportStatus = Literal[IMPORT_STATUSES]
DuplicatePolicy = Literal[DUPLICATE_POLICIES]


class Import(Struct, kw_only=True):
    """A file import and where it stands. Counts are file rows: ``total_rows = imported +
    updated + skipped_duplicates + rejected`` once it is completed."""

    id: str
    object: str
    status: ImportStatus
    file_name: str
    file_format: str
    file_size: int
    encoding: str | None
    delimiter: str | None
    columns: list[str]
    mapping: dict[str, str | None]
    """The mapping used: every column of the file → the field it fills (null: ignored)."""
    duplicate_policy: DuplicatePolicy
    runner: Literal[IMPORT_RUNNERS]
    batch_size: int
    batches_total: int | None
    batches_done: int
    total_rows: int | None
    """Data rows in the file (null until the file was parsed)."""
    imported: int
    updated: int
    skipped_duplicates: int
    rejected: int
    error: str | None
    created_by: str | None
    staged_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int


ImportPage = page_of(Import)


class Preview(Struct, kw_only=True):
    """What an upload looks like before it is imported (nothing is stored)."""

    object: str
    file_name: str
    file_format: str
    columns: list[str]
    suggested_mapping: dict[str, str | None]
    """Every column → the field it would fill (null: not recognised, ignored)."""
    unmapped: list[str]
    fields: list[str]
    """Fields a column may map to (also ``custom.<key>``)."""
    sample_rows: list[dict[str, str | None]]
    delimiter: str | None
    encoding: str
    total_rows_estimate: int
