"""POST /imports/{kind}: a spreadsheet (CSV, XLSX or JSON Lines) uploaded by an administrator, with its row report."""

from __future__ import annotations

import shutil
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Query, Request, UploadFile
from pydantic import BaseModel, Field

from service.auth import AdminPrincipal
from service.errors import DomainError, InvalidInput
from service.transfer.importer import import_source
from service.transfer.readers import FileError, Format, open_records

router = APIRouter()  # mounted at /imports

MAX_UPLOAD_BYTES = 100 * 1024 * 1024


class ImportKind(StrEnum):
    experts = "experts"
    enterprises = "enterprises"
    demands = "demands"


class PayloadTooLarge(DomainError):
    status, code, title = 413, "upload-too-large", "Payload too large"


class RowErrorPublic(BaseModel):
    line: int = Field(description="line of the file (the header is line 1)")
    field: str | None
    message: str


class ImportReportPublic(BaseModel):
    """What the import did; with `atomic` and any bad row, nothing was written (`committed` false)."""

    kind: ImportKind
    atomic: bool
    rows: int
    created: int
    updated: int
    unchanged: int
    without_key: int = Field(description="rows without external_id: always created, so re-importing duplicates them")
    errors: list[RowErrorPublic]
    ignored_columns: list[str]
    committed: bool


@router.post("/{kind}", response_model=ImportReportPublic)
def import_records(
    request: Request,
    _: AdminPrincipal,
    kind: ImportKind,
    file: Annotated[UploadFile, File(description="CSV, XLSX or JSON Lines; Chinese or English column headers")],
    atomic: Annotated[bool, Query(description="write nothing when any row is bad")] = False,
    format: Annotated[Format, Query(description="auto: from the file name's extension, else its first bytes")] = (
        Format.auto
    ),
) -> ImportReportPublic:
    """Import enterprises, specialists or demands by external_id (idempotent), reporting each bad row."""
    suffix = Path(file.filename or "").suffix.lower()[:8]
    with tempfile.TemporaryDirectory(prefix="expertmatch-import-") as folder:
        path = Path(folder) / f"upload{suffix}"
        with path.open("wb") as out:
            shutil.copyfileobj(file.file, out)
        if path.stat().st_size > MAX_UPLOAD_BYTES:
            raise PayloadTooLarge(f"the file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
        try:
            source = open_records(path, format)
            report = import_source(request.app.state.engine, kind.value, source, atomic=atomic)
        except FileError as exc:
            raise InvalidInput.field("file", str(exc), code="unreadable-file") from exc
    return ImportReportPublic(
        kind=kind,
        atomic=report.atomic,
        rows=report.rows,
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
        without_key=report.without_key,
        errors=[RowErrorPublic(line=e.line, field=e.field, message=e.message) for e in report.errors],
        ignored_columns=report.ignored_columns,
        committed=report.committed,
    )
