"""Readers that stream a file's records as (line number, cells), whatever its format.

CSV: UTF-8 with or without a BOM (GB 18030, as saved by a Chinese Excel, is detected too); the line number is the
physical line the record starts on, the header being line 1. XLSX: the first worksheet, read in openpyxl's read-only
mode (rows stream, memory stays flat); the line number is the row number. JSON Lines: one object per line, keys as
CSV headers; the line number is the line's.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO


class Format(StrEnum):
    auto = "auto"
    csv = "csv"
    xlsx = "xlsx"
    jsonl = "jsonl"


class FileError(ValueError):
    """The file as a whole cannot be read (not the format it claims, no header, ...)."""


@dataclass(slots=True)
class Record:
    """One data record: its line, and its cells by header (CSV/XLSX) or its object (JSON Lines)."""

    line: int
    cells: dict[str, Any]
    problem: str | None = None  # set when the record itself is malformed (bad JSON, too many cells)


@dataclass(slots=True)
class RecordSource:
    """A stream of records plus what a progress bar needs."""

    headers: list[str]
    records: Iterator[Record]
    total: int | None  # progress units: bytes for CSV/JSON Lines, rows for XLSX
    done: list[int] = field(default_factory=lambda: [0])  # progress so far, in the same units
    close: Any = None

    @property
    def position(self) -> int:
        return self.done[0]


def detect_format(path: Path, requested: Format | str = Format.auto) -> Format:
    """The format asked for, or the one the file's extension (or first bytes) says."""
    requested = Format(requested)
    if requested is not Format.auto:
        return requested
    suffix = path.suffix.lower()
    if suffix in {".xlsx", ".xlsm"}:
        return Format.xlsx
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return Format.jsonl
    if suffix in {".csv", ".txt", ".tsv"}:
        return Format.csv
    with path.open("rb") as handle:
        head = handle.read(4)
    if head.startswith(b"PK\x03\x04"):
        return Format.xlsx
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return Format.jsonl
    return Format.csv


def open_records(path: Path, fmt: Format | str = Format.auto) -> RecordSource:
    """Open a file for reading its records."""
    fmt = detect_format(path, fmt)
    if fmt is Format.xlsx:
        return _xlsx(path)
    if fmt is Format.jsonl:
        return _jsonl(path)
    return _csv(path)


def _sniff_encoding(handle: BinaryIO) -> str:
    head = handle.read(1 << 20)
    handle.seek(0)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8-sig"


def _decoded_lines(handle: BinaryIO, encoding: str, done: list[int]) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder(encoding)()
    for raw in handle:
        done[0] += len(raw)
        yield decoder.decode(raw)
    tail = decoder.decode(b"", final=True)
    if tail:
        yield tail


def _csv(path: Path) -> RecordSource:
    handle = path.open("rb")
    done = [0]
    encoding = _sniff_encoding(handle)
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    reader = csv.reader(_decoded_lines(handle, encoding, done), delimiter=delimiter)
    try:
        headers = next(reader)
    except StopIteration:
        handle.close()
        raise FileError("the file is empty: the first line must name the columns") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        handle.close()
        raise FileError(f"line 1: cannot read the header: {exc}") from exc

    def records() -> Iterator[Record]:
        previous = reader.line_num
        try:
            while True:
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    yield Record(previous + 1, {}, f"malformed CSV: {exc}")
                    previous = reader.line_num
                    continue
                line, previous = previous + 1, reader.line_num
                if not any(c.strip() for c in cells):
                    continue
                if len(cells) > len(headers) and any(c.strip() for c in cells[len(headers) :]):
                    yield Record(line, {}, f"the record has {len(cells)} cells but the header names {len(headers)}")
                    continue
                yield Record(line, dict(zip(headers, cells, strict=False)))
        except UnicodeDecodeError as exc:
            raise FileError(f"line {previous + 1}: not valid {encoding} text: {exc}") from exc
        finally:
            handle.close()

    return RecordSource(headers, records(), path.stat().st_size, done, handle.close)


def _xlsx(path: Path) -> RecordSource:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises a zoo of errors for files that are not workbooks
        raise FileError(f"not a readable XLSX workbook: {exc}") from exc
    sheet = workbook.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    done = [0]
    headers: list[str] | None = None
    for row in rows:
        done[0] += 1
        if row and any(v is not None and str(v).strip() for v in row):
            headers = ["" if v is None else str(v) for v in row]
            break
    if headers is None:
        workbook.close()
        raise FileError("the first worksheet is empty: its first row must name the columns")
    width = len(headers)
    while width and not headers[width - 1].strip():
        width -= 1
    headers = headers[:width]
    total = sheet.max_row

    def records() -> Iterator[Record]:
        try:
            for row in rows:
                done[0] += 1
                line = done[0]
                if not row or all(v is None or (isinstance(v, str) and not v.strip()) for v in row):
                    continue
                if len(row) > width and any(v is not None and str(v).strip() for v in row[width:]):
                    yield Record(line, {}, f"the row has cells beyond the {width} named columns")
                    continue
                yield Record(line, dict(zip(headers, row, strict=False)))
        finally:
            workbook.close()

    return RecordSource(headers, records(), total, done, workbook.close)


def _jsonl(path: Path) -> RecordSource:
    handle = path.open("rb")
    done = [0]

    def records() -> Iterator[Record]:
        try:
            for number, raw in enumerate(handle, start=1):
                done[0] += len(raw)
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8", errors="strict").strip()
                if not text:
                    continue
                try:
                    obj = json.loads(text)
                except ValueError as exc:
                    yield Record(number, {}, f"not valid JSON: {exc}")
                    continue
                if not isinstance(obj, dict):
                    yield Record(number, {}, "each line must be a JSON object")
                    continue
                yield Record(number, obj)
        except UnicodeDecodeError as exc:
            raise FileError(f"not valid UTF-8 text: {exc}") from exc
        finally:
            handle.close()

    return RecordSource([], records(), path.stat().st_size, done, handle.close)
