"""Helpers for import/export tests: write small files in each format, read records back."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from service.demands.models import Demand
from service.enterprises.models import Enterprise
from service.experts.models import Expert
from service.transfer import ImportReport, import_file

Rows = list[list[Any]]


def write_csv(path: Path, headers: list[str], rows: Rows, *, encoding: str = "utf-8-sig") -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(headers)
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, headers: list[str], rows: Rows) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def write_jsonl(path: Path, objects: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objects), encoding="utf-8")
    return path


def records(engine: Engine, model: type) -> list[Any]:
    """Every record of a model, in id order, detached."""
    with Session(engine, expire_on_commit=False) as session:
        found = list(session.scalars(select(model).order_by(model.id)).all())
        session.expunge_all()
        return found


@pytest.fixture
def run_import(engine: Engine, tmp_path: Path) -> Callable[..., ImportReport]:
    """Import a file into the test database."""

    def run(kind: str, path: Path, **options: Any) -> ImportReport:
        return import_file(engine, kind, path, **options)

    return run


@pytest.fixture
def db_records(engine: Engine) -> Callable[[type], list[Any]]:
    return lambda model: records(engine, model)


__all__ = ["Demand", "Enterprise", "Expert", "write_csv", "write_jsonl", "write_xlsx"]
