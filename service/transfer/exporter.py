"""Export specialists, enterprises, demands and engagements as CSV, XLSX or JSON Lines.

Exports carry the import template's columns (English field names by default), so a file exported here imports
again unchanged: links to enterprises are written as the enterprise's external id (else its credit code, else its
name), never as database ids, which differ between databases. Records come out in id order, streamed.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from service.demands.models import Demand
from service.enterprises.models import Enterprise
from service.experts.models import Expert
from service.transfer.columns import TEMPLATES, Column, Kind, join_list
from service.transfer.readers import Format

STREAM_BATCH = 2000


def _table(model: Any) -> Any:
    return model.__table__


def _rows(conn: Connection, model: Any) -> Iterator[Any]:
    table = _table(model)
    result = conn.execution_options(stream_results=True, yield_per=STREAM_BATCH).execute(
        select(table).order_by(table.c.id)
    )
    yield from result.mappings()


def _enterprise_refs(conn: Connection) -> dict[int, str]:
    table = _table(Enterprise)
    refs: dict[int, str] = {}
    for rid, external_id, code, name in conn.execute(
        select(table.c.id, table.c.external_id, table.c.credit_code, table.c.name)
    ):
        refs[rid] = external_id or code or name
    return refs


def _refs(conn: Connection, model: Any) -> dict[int, str | None]:
    table = _table(model)
    return dict(conn.execute(select(table.c.id, table.c.external_id)).all())


def _contact(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def experts(conn: Connection) -> Iterator[dict[str, Any]]:
    """Specialists as export records."""
    enterprises = _enterprise_refs(conn)
    for r in _rows(conn, Expert):
        yield {
            "external_id": r["external_id"],
            "name": r["name"],
            "institution": r["institution"],
            "institution_type": r["institution_type"],
            "origin": r["origin"],
            "region": r["region"],
            "title": r["title"],
            "degree": r["degree"],
            "fields": list(r["fields"] or []),
            "keywords": list(r["keywords"] or []),
            "bio": r["bio"],
            "achievements": r["achievements"],
            "languages": list(r["languages"] or []),
            "capacity": r["capacity"],
            "travels": r["travels"],
            "conflicts": [enterprises[c] for c in r["conflicts"] or [] if c in enterprises],
            "active": r["active"],
            "contact": _contact(r["contact"]),
        }


def enterprises(conn: Connection) -> Iterator[dict[str, Any]]:
    """Enterprises as export records."""
    for r in _rows(conn, Enterprise):
        yield {
            "external_id": r["external_id"],
            "name": r["name"],
            "credit_code": r["credit_code"],
            "region": r["region"],
            "industry": r["industry"],
            "size": r["size"],
            "contact": _contact(r["contact"]),
        }


def demands(conn: Connection) -> Iterator[dict[str, Any]]:
    """Demands as export records, each naming its enterprise so that it imports elsewhere."""
    refs = _enterprise_refs(conn)
    for r in _rows(conn, Demand):
        yield {
            "external_id": r["external_id"],
            "enterprise": refs.get(r["enterprise_id"]),
            "title": r["title"],
            "description": r["description"],
            "category": r["category"],
            "industry": r["industry"],
            "keywords": list(r["keywords"] or []),
            "region": r["region"],
            "on_site": r["on_site"],
            "headcount": r["headcount"],
            "accepted_origins": list(r["accepted_origins"] or []),
            "budget_cny": r["budget_cny"],
            "term_months": r["term_months"],
            "deadline": r["deadline"],
            "status": r["status"],
        }


def engagements(conn: Connection) -> Iterator[dict[str, Any]]:
    """Engagements as export records (read-only: engagements come from the workflows, not from imports)."""
    try:
        from service.engagements.models import Engagement
    except ImportError:  # a deployment without the engagements domain has nothing to export
        return
    demand_refs = _refs(conn, Demand)
    expert_refs = _refs(conn, Expert)
    enterprise_refs = _enterprise_refs(conn)
    for r in _rows(conn, Engagement):
        yield {
            "id": r["id"],
            "external_id": r.get("external_id"),
            "demand": demand_refs.get(r["demand_id"]),
            "expert": expert_refs.get(r["expert_id"]),
            "enterprise": enterprise_refs.get(r.get("enterprise_id")),
            "demand_id": r["demand_id"],
            "expert_id": r["expert_id"],
            "enterprise_id": r.get("enterprise_id"),
            "mode": r.get("mode"),
            "status": r.get("status"),
            "score": r.get("score"),
            "started_at": r.get("started_at"),
            "ended_at": r.get("ended_at"),
            "rating": r.get("rating"),
            "rating_comment": r.get("rating_comment"),
        }


RECORDS = {
    Kind.experts: experts,
    Kind.enterprises: enterprises,
    Kind.demands: demands,
    Kind.engagements: engagements,
}


def _flat(record: dict[str, Any], columns: list[Column]) -> list[Any]:
    """A record as one spreadsheet row of native values (contact spread over its three columns)."""
    contact = record.get("contact") or {}
    out: list[Any] = []
    for column in columns:
        if column.key.startswith("contact_"):
            out.append(contact.get(column.key.removeprefix("contact_")))
        else:
            out.append(record.get(column.key))
    return out


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive timestamps; every timestamp is written in UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return join_list(value)
    if isinstance(value, datetime):
        return _utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return _utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _header(column: Column, headers: str) -> str:
    return column.zh if headers == "zh" else column.key


def write_csv(records: Iterator[dict[str, Any]], columns: list[Column], out: BinaryIO, headers: str = "en") -> int:
    """CSV, UTF-8 with a BOM (so that Excel shows Chinese), lists joined by '; '."""
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=True)
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow([_header(c, headers) for c in columns])
    count = 0
    for record in records:
        writer.writerow([_csv_cell(v) for v in _flat(record, columns)])
        count += 1
    text.flush()
    text.detach()
    return count


def write_jsonl(records: Iterator[dict[str, Any]], columns: list[Column], out: BinaryIO, headers: str = "en") -> int:
    """One JSON object per line, lists as arrays and contact as an object."""
    keys = [c.key for c in columns if not c.key.startswith("contact_")]
    has_contact = any(c.key.startswith("contact_") for c in columns)
    count = 0
    for record in records:
        obj = {k: _json_value(record.get(k)) for k in keys}
        if has_contact:
            obj["contact"] = record.get("contact")
        out.write(json.dumps(obj, ensure_ascii=False).encode("utf-8") + b"\n")
        count += 1
    return count


def write_xlsx(records: Iterator[dict[str, Any]], columns: list[Column], out: BinaryIO, headers: str = "en") -> int:
    """An XLSX workbook with one sheet, streamed (openpyxl's write-only mode); text cells always stay text."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.freeze_panes = "A2"
    sheet.append([_header(c, headers) for c in columns])
    count = 0
    for record in records:
        row: list[Any] = []
        for value in _flat(record, columns):
            if isinstance(value, list):
                value = join_list(value)
            if isinstance(value, str):
                value = ILLEGAL_CHARACTERS_RE.sub("", value)
                if value.startswith("="):
                    # openpyxl would store it as a formula; keep it the text it is.
                    cell = WriteOnlyCell(sheet, value)
                    cell.data_type = "s"
                    value = cell
            elif isinstance(value, datetime):
                value = _utc(value).isoformat()
            row.append(value)
        sheet.append(row)
        count += 1
    workbook.save(out)
    return count


WRITERS = {Format.csv: write_csv, Format.xlsx: write_xlsx, Format.jsonl: write_jsonl}


def export(engine: Engine, kind: Kind | str, fmt: Format | str, out: BinaryIO, *, headers: str = "en") -> int:
    """Write every record of `kind` to `out` in `fmt`; the number of records written."""
    kind, fmt = Kind(kind), Format(fmt)
    if fmt is Format.auto:
        fmt = Format.csv
    columns = TEMPLATES[kind].exported
    with engine.connect() as conn:
        return WRITERS[fmt](RECORDS[kind](conn), columns, out, headers)
