"""Import specialists, enterprises and demands from a file, through the same validation as the API.

Each record is validated by the kind's `*Create` schema and built by the domain service's `build` (or, when it
matches an existing record, validated by the `*Update` schema like a PATCH of the fields it has). A record matches by
`external_id` (enterprises also by `credit_code`), so importing the same file twice updates instead of duplicating.

Records go in by chunks: one transaction per chunk, or one for the whole file with `atomic`. A bad record is reported
as `line N: field: reason` and skipped; with `atomic`, any bad record means nothing is written. A chunk that the
database refuses as a whole (a unique value taken meanwhile) is replayed record by record, each in a savepoint, so
exactly the offending records are reported.
"""

from __future__ import annotations

import functools
import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from pydantic import ValidationError
from sqlalchemy import JSON, Table, insert, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, IntegrityError
from sqlmodel import Session, SQLModel, col, select

from service.auth import Principal
from service.common import RecordChange, tracked_changes, utcnow
from service.demands import service as demands_service
from service.demands.models import Demand, DemandCreate, DemandStatus, DemandUpdate
from service.enterprises.models import Enterprise, EnterpriseCreate, EnterpriseUpdate
from service.errors import DomainError
from service.experts import service as experts_service
from service.experts.models import Expert, ExpertCreate, ExpertUpdate
from service.keys.models import Role
from service.transfer.columns import (
    TEMPLATES,
    CellError,
    Column,
    Kind,
    Template,
    cell_value,
    is_empty,
    normalise_header,
)
from service.transfer.readers import FileError, Format, Record, RecordSource, open_records

log = logging.getLogger("expertmatch.transfer")

ADMIN = Principal(role=Role.admin, key_id=None)
DEFAULT_CHUNK_SIZE = 500
CONTACT_PARTS = ("name", "phone", "email")
# Columns an export of another tool (or the API's JSON) may carry that an import leaves alone on purpose.
BOOKKEEPING = frozenset({"id", "created_at", "updated_at", "version", "published_at"})


@dataclass(frozen=True, slots=True)
class RowError:
    """One bad record: where, which field, why."""

    line: int
    field: str | None
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}" if self.field else f"line {self.line}: {self.message}"


@dataclass(slots=True)
class ImportReport:
    """What an import did (or, atomic and refused, would have done)."""

    kind: Kind
    atomic: bool = False
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    without_key: int = 0
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    committed: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors


class RowProblem(Exception):
    """A record that cannot go in, with (field key, message) pairs."""

    def __init__(self, problems: list[tuple[str | None, str]]) -> None:
        super().__init__("; ".join(m for _, m in problems))
        self.problems = problems


@dataclass(slots=True)
class Row:
    """A record's cells read as field values, keyed by field; `shown` keeps the file's header for messages."""

    line: int
    values: dict[str, Any]
    shown: dict[str, str]
    problems: list[tuple[str | None, str]]
    headers: dict[str, str] = field(default_factory=dict)  # field -> the file's header for it (shared by rows)


class RowMapper:
    """Reads records' cells into field values, by the kind's template."""

    def __init__(self, template: Template, headers: list[str]) -> None:
        self.template = template
        self._columns: dict[str, Column | None] = {}
        self.ignored: dict[str, None] = {}
        self.headers: dict[str, str] = {}
        if headers:
            self._check_headers(headers)

    def _check_headers(self, headers: list[str]) -> None:
        seen: dict[str, str] = {}
        for header in headers:
            column = self.column(header)
            if column is None:
                continue
            if column.key in seen:
                raise FileError(f"columns '{seen[column.key]}' and '{header}' both mean {column.key}")
            seen[column.key] = header
            self.headers[column.key] = str(header).strip()
        if not seen:
            names = ", ".join(f"{c.key}/{c.zh}" for c in self.template.columns[:4])
            raise FileError(f"no known column in the header (expected e.g. {names})")

    def column(self, header: str) -> Column | None:
        if header not in self._columns:
            found = self.template.column(header)
            self._columns[header] = found
            if found is None and header.strip() and normalise_header(header) not in BOOKKEEPING | {"contact"}:
                self.ignored.setdefault(header.strip())
        return self._columns[header]

    def row(self, record: Record) -> Row:
        row = Row(record.line, {}, {}, [], self.headers)
        if record.problem:
            row.problems.append((None, record.problem))
            return row
        for header, raw in record.cells.items():
            column = self.column(header)
            if column is None:
                if normalise_header(header) == "contact" and isinstance(raw, dict):
                    # JSON Lines (and the API's shape) carry contact as one object.
                    for part in CONTACT_PARTS:
                        if not is_empty(raw.get(part)):
                            row.values.setdefault(f"contact_{part}", str(raw[part]).strip())
                            row.shown.setdefault(f"contact_{part}", f"contact.{part}")
                continue
            if is_empty(raw):
                continue
            row.shown[column.key] = str(header).strip()
            try:
                row.values[column.key] = cell_value(column, raw)
            except CellError as exc:
                row.problems.append((column.key, str(exc)))
        return row


def _label(row: Row, key: str | None) -> str | None:
    if key is None:
        return None
    header = row.shown.get(key) or row.headers.get(key)
    if header is None or normalise_header(header) == key:
        return key
    return f"{key} ({header})"


def _message(error: dict[str, Any]) -> str:
    if error.get("type") == "missing":
        return "required"
    message = str(error.get("msg", "invalid"))
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def validate(schema: type[SQLModel], values: dict[str, Any]) -> Any:
    """The schema's model of these values, or RowProblem naming each bad field."""
    try:
        return schema.model_validate(values)
    except ValidationError as exc:
        problems: list[tuple[str | None, str]] = []
        for error in exc.errors():
            loc = [str(part) for part in error.get("loc", ())]
            key = loc[0] if loc else None
            if key == "contact" and len(loc) > 1:
                key = f"contact_{loc[1]}"
            problems.append((key, _message(error)))
        raise RowProblem(problems) from None


def _take_contact(values: dict[str, Any]) -> None:
    parts = {part: values.pop(f"contact_{part}") for part in CONTACT_PARTS if f"contact_{part}" in values}
    if parts:
        values["contact"] = {part: parts.get(part) for part in CONTACT_PARTS}


def _domain_problem(exc: DomainError) -> RowProblem:
    if exc.errors:
        return RowProblem([(str(e.get("field", "")).removeprefix("body.") or None, e["message"]) for e in exc.errors])
    return RowProblem([(None, exc.detail)])


def _changed(record: SQLModel, changes: dict[str, Any]) -> bool:
    """Apply a PATCH-like change set, touching only what differs (so an identical re-import bumps no version)."""
    changed = False
    for name, value in changes.items():
        if getattr(record, name) != value:
            setattr(record, name, value)
            changed = True
    return changed


@functools.cache
def _column_defaults(model: type[SQLModel]) -> list[tuple[str, Callable[[], Any] | None, Any]]:
    """(column, default factory, default) for each column of a table model, looked up once."""
    out = []
    for column in model.__table__.columns:  # type: ignore[attr-defined]
        field_info = model.model_fields[column.key]
        out.append((column.key, field_info.default_factory, None if field_info.default_factory else field_info.default))
    return out


class NewRecord(SimpleNamespace):
    """A new record's column values as attributes, ready to insert."""


def new_record(model: type[SQLModel], validated: SQLModel) -> Any:
    """The values `Model.model_validate(validated.model_dump(mode="json"))` would hold, without building the model.

    Building a SQLModel table model runs validation again and sets each attribute through SQLAlchemy's
    instrumentation: half the cost of an imported row, for nothing the `*Create` schema has not already checked.
    tests/transfer/test_equivalence.py proves the values equal what the domain's `build` makes.
    """
    given = validated.model_dump(mode="json")
    values = {}
    for key, factory, default in _column_defaults(model):
        if key in given:
            values[key] = given[key]
        else:
            values[key] = factory() if factory is not None else default
    return NewRecord(**values)


class EnterpriseRefs:
    """Resolves an enterprise reference (external id, credit code or name) to its id."""

    def __init__(self, db_session: Session) -> None:
        self.by_external: dict[str, int] = {}
        self.by_code: dict[str, int] = {}
        self.by_name: dict[str, int | None] = {}  # None: several enterprises share the name
        for rid, external_id, code, name in db_session.exec(
            select(Enterprise.id, Enterprise.external_id, Enterprise.credit_code, Enterprise.name)
        ).all():
            if external_id:
                self.by_external[external_id] = rid
            if code:
                self.by_code[code] = rid
            self.by_name[name] = None if name in self.by_name else rid

    def resolve(self, ref: str, key: str) -> int:
        """The enterprise's id, or RowProblem."""
        ref = ref.strip()
        if ref in self.by_external:
            return self.by_external[ref]
        if ref.upper() in self.by_code:
            return self.by_code[ref.upper()]
        if ref in self.by_name:
            rid = self.by_name[ref]
            if rid is None:
                raise RowProblem([(key, f"several enterprises are named '{ref}': use its external id or credit code")])
            return rid
        raise RowProblem([(key, f"no enterprise has the external id, credit code or name '{ref}'")])


Inserter = Callable[[Session, list[list[Any]]], list[int]]


def json_text(value: Any) -> str:
    """JSON as the engine writes it (Chinese kept readable, so `q` searches over JSON columns match)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def bulk_inserter(db_session: Session, table: Table, columns: list[str]) -> Inserter:
    """A function inserting rows (values in `columns` order) and returning their new ids, in order.

    PostgreSQL: ids drawn from the table's sequence, then one COPY (a multi-row INSERT of a few thousand
    parameters costs more to parse, on both ends, than the rows cost to store). Elsewhere: one executemany
    INSERT ... RETURNING.
    """
    if db_session.get_bind().dialect.name == "postgresql":
        next_ids = text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)")

        def copy_rows(db: Session, rows: list[list[Any]]) -> list[int]:
            conn = db.connection()
            ids = list(conn.execute(next_ids, {"table": table.name, "n": len(rows)}).scalars().all())
            _copy(db, table, ["id", *columns], [[rid, *row] for rid, row in zip(ids, rows, strict=True)])
            return ids

        return copy_rows
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)

    def insert_rows(db: Session, rows: list[list[Any]]) -> list[int]:
        params = [dict(zip(columns, row, strict=True)) for row in rows]
        return list(db.execute(statement, params).scalars().all())

    return insert_rows


def bulk_append(db: Session, table: Table, columns: list[str], rows: list[list[Any]]) -> None:
    """Insert rows whose ids the caller does not need (the change log): COPY on PostgreSQL, else executemany."""
    if not rows:
        return
    if db.get_bind().dialect.name == "postgresql":
        _copy(db, table, columns, rows)
    else:
        db.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])


def _copy(db: Session, table: Table, columns: list[str], rows: list[list[Any]]) -> None:
    """COPY rows into a table on the session's connection (inside its transaction or savepoint)."""
    import psycopg

    json_at = [i for i, key in enumerate(columns) if isinstance(table.c[key].type, JSON)]
    names = ", ".join(f'"{name}"' for name in columns)
    statement = f'COPY "{table.name}" ({names}) FROM STDIN'
    driver = db.connection().connection.driver_connection
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                for i in json_at:
                    row[i] = None if row[i] is None else json_text(row[i])
                copy.write_row(row)
    except (psycopg.errors.IntegrityError, psycopg.errors.DataError) as exc:
        # Raised by the driver itself (COPY bypasses SQLAlchemy's execution): hand the caller SQLAlchemy's error.
        raise IntegrityError(statement, None, exc) from exc


class _KindImporter(ABC):
    """Shared chunking, matching by key, savepoint replay and error collection; subclasses say how one row goes in."""

    template: Template
    model: type[SQLModel]

    def __init__(self, db_session: Session, report: ImportReport) -> None:
        self.db = db_session
        self.report = report
        self.ids: dict[str, int] = dict(
            db_session.exec(
                select(self.model.external_id, self.model.id).where(col(self.model.external_id).is_not(None))
            ).all()
        )
        self.pending: dict[str, Any] = {}  # this chunk's records by key, until their ids are known
        self.new: list[Any] = []  # this chunk's new records, built but not yet inserted
        table = self.model.__table__  # type: ignore[attr-defined]
        self._insert_columns = [c.key for c in table.columns if c.key != "id"]
        self._inserter = bulk_inserter(db_session, table, self._insert_columns)
        self._track = tracked_changes(self.model)
        self.loaded: dict[int, Any] = {}  # this chunk's existing records by id

    # -- per kind ---------------------------------------------------------------------------------------------

    @abstractmethod
    def stage(self, row: Row) -> str:
        """Add or change one record in the session: 'created', 'updated' or 'unchanged'; RowProblem when bad."""

    def chunk_ids(self, rows: list[Row]) -> set[int]:
        """Ids of existing records this chunk's rows match, to load in one query."""
        return {self.ids[r.values["external_id"]] for r in rows if r.values.get("external_id") in self.ids}

    def after_flush(self) -> None:
        """Remember the keys of the records this chunk created."""
        for key, record in self.pending.items():
            self.ids[key] = record.id

    def reset_pending(self) -> None:
        """Forget what the chunk staged (after it is flushed, or rolled back)."""
        self.pending.clear()
        self.new.clear()

    def write(self) -> None:
        """Insert the chunk's new records in bulk, log them as changes, and flush the updates.

        New records skip the ORM's unit of work (several times the cost of the INSERT itself), so the change-log
        entries its flush hook would write are written here, by the extractor the domain registered. Updates of
        existing records go through the ORM's flush and its hooks (version, updated_at, change log) as in the API.
        """
        if self.new:
            rows = [[getattr(record, key) for key in self._insert_columns] for record in self.new]
            ids = self._inserter(self.db, rows)
            for record, rid in zip(self.new, ids, strict=True):
                record.id = rid
            if self._track is not None:
                now = utcnow()
                changes = [
                    [kind, rid, "upsert", now]
                    for record in self.new
                    for kind, rid in self._track(record)
                    if rid is not None
                ]
                bulk_append(self.db, RecordChange.__table__, ["kind", "record_id", "op", "at"], changes)
        self.db.flush()

    # -- shared -----------------------------------------------------------------------------------------------

    def find(self, external_id: str | None) -> Any:
        if external_id is None:
            return None
        if external_id in self.pending:
            return self.pending[external_id]
        rid = self.ids.get(external_id)
        return self.loaded.get(rid) if rid is not None else None

    def load(self, rows: list[Row]) -> None:
        ids = self.chunk_ids(rows)
        self.loaded = {}
        if ids:
            records = self.db.exec(select(self.model).where(col(self.model.id).in_(ids))).all()
            self.loaded = {r.id: r for r in records}

    def process(self, rows: list[Row]) -> None:
        """Stage a chunk and flush it in a savepoint; if the database refuses it, replay it record by record."""
        savepoint = self.db.begin_nested()
        try:
            outcome = self._stage_all(rows)
            self.write()
            savepoint.commit()
        except (IntegrityError, DataError):
            savepoint.rollback()
            outcome = _Outcome()
            for row in rows:
                single = self.db.begin_nested()
                try:
                    one = self._stage_all([row])
                    self.write()
                    single.commit()
                except (IntegrityError, DataError) as exc:
                    single.rollback()
                    self.reset_pending()
                    one = _Outcome(errors=[RowError(row.line, None, _database_message(exc))])
                else:
                    self.after_flush()
                outcome.merge(one)
        else:
            self.after_flush()
        self.reset_pending()
        self.loaded = {}
        outcome.apply(self.report)

    def _stage_all(self, rows: list[Row]) -> _Outcome:
        outcome = _Outcome()
        self.reset_pending()
        self.load(rows)
        for row in rows:
            if row.problems:
                outcome.errors.extend(RowError(row.line, _label(row, k), m) for k, m in row.problems)
                continue
            try:
                result = self.stage(row)
            except RowProblem as problem:
                outcome.errors.extend(RowError(row.line, _label(row, k), m) for k, m in problem.problems)
                continue
            except DomainError as exc:
                outcome.errors.extend(RowError(row.line, _label(row, k), m) for k, m in _domain_problem(exc).problems)
                continue
            outcome.count(result, keyless=not row.values.get("external_id"))
        return outcome


def _database_message(exc: Exception) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip().splitlines()[0]
    return f"refused by the database: {text}"


@dataclass(slots=True)
class _Outcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    without_key: int = 0
    errors: list[RowError] = field(default_factory=list)

    def count(self, result: str, *, keyless: bool) -> None:
        setattr(self, result, getattr(self, result) + 1)
        if keyless and result == "created":
            self.without_key += 1

    def merge(self, other: _Outcome) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.without_key += other.without_key
        self.errors.extend(other.errors)

    def apply(self, report: ImportReport) -> None:
        report.created += self.created
        report.updated += self.updated
        report.unchanged += self.unchanged
        report.without_key += self.without_key
        report.errors.extend(self.errors)


class ExpertImporter(_KindImporter):
    template = TEMPLATES[Kind.experts]
    model = Expert

    def __init__(self, db_session: Session, report: ImportReport) -> None:
        super().__init__(db_session, report)
        self.refs = EnterpriseRefs(db_session)

    def stage(self, row: Row) -> str:
        values = dict(row.values)
        _take_contact(values)
        if "conflicts" in values:
            values["conflicts"] = [self.refs.resolve(ref, "conflicts") for ref in values["conflicts"]]
        external_id = values.get("external_id")
        existing = self.find(external_id)
        if existing is None:
            expert_in = validate(ExpertCreate, values)
            # What `experts_service.build` does, without constructing the table model (see `new_record`).
            experts_service.check_conflicts_exist(db_session=self.db, conflicts=expert_in.conflicts)
            expert = new_record(Expert, expert_in)
            self.new.append(expert)
            if external_id:
                self.pending[external_id] = expert
            return "created"
        changes = validate(ExpertUpdate, values).model_dump(mode="json", exclude_unset=True)
        if external_id:
            self.pending[external_id] = existing
        return "updated" if _changed(existing, changes) else "unchanged"


class EnterpriseImporter(_KindImporter):
    template = TEMPLATES[Kind.enterprises]
    model = Enterprise

    def __init__(self, db_session: Session, report: ImportReport) -> None:
        super().__init__(db_session, report)
        self.codes: dict[str, int] = dict(
            db_session.exec(
                select(Enterprise.credit_code, Enterprise.id).where(col(Enterprise.credit_code).is_not(None))
            ).all()
        )
        self.pending_codes: dict[str, Enterprise] = {}
        self.dropped_codes: list[tuple[str, int]] = []

    @staticmethod
    def _code(values: dict[str, Any]) -> str | None:
        code = values.get("credit_code")
        return code.strip().upper() if isinstance(code, str) and code.strip() else None

    def chunk_ids(self, rows: list[Row]) -> set[int]:
        ids = super().chunk_ids(rows)
        for row in rows:
            code = self._code(row.values)
            if code in self.codes:
                ids.add(self.codes[code])
        return ids

    def _by_code(self, code: str | None) -> Enterprise | None:
        if code is None:
            return None
        if code in self.pending_codes:
            return self.pending_codes[code]
        rid = self.codes.get(code)
        return self.loaded.get(rid) if rid is not None else None

    def stage(self, row: Row) -> str:
        values = dict(row.values)
        _take_contact(values)
        external_id = values.get("external_id")
        code = self._code(values)
        existing = self.find(external_id)
        holder = self._by_code(code)
        if existing is None and holder is not None:
            if external_id and holder.external_id and holder.external_id != external_id:
                raise RowProblem(
                    [("external_id", f"the enterprise with this credit code has external id '{holder.external_id}'")]
                )
            existing = holder
        elif existing is not None and holder is not None and holder is not existing:
            raise RowProblem([("credit_code", f"already the code of another enterprise ('{holder.name}')")])
        elif existing is None and code is not None and code in self.codes:
            raise RowProblem([("credit_code", "already the code of another enterprise")])
        if existing is None:
            enterprise_in = validate(EnterpriseCreate, values)
            enterprise = new_record(Enterprise, enterprise_in)
            self.new.append(enterprise)
            self._remember(enterprise)
            return "created"
        changes = validate(EnterpriseUpdate, values).model_dump(mode="json", exclude_unset=True)
        old_code = existing.credit_code
        changed = _changed(existing, changes)
        if old_code and old_code != existing.credit_code:
            self.dropped_codes.append((old_code, existing.id))
        self._remember(existing)
        return "updated" if changed else "unchanged"

    def _remember(self, enterprise: Enterprise) -> None:
        if enterprise.external_id:
            self.pending[enterprise.external_id] = enterprise
        if enterprise.credit_code:
            self.pending_codes[enterprise.credit_code] = enterprise

    def after_flush(self) -> None:
        super().after_flush()
        for code, rid in self.dropped_codes:
            if self.codes.get(code) == rid:
                del self.codes[code]
        for code, enterprise in self.pending_codes.items():
            self.codes[code] = enterprise.id

    def reset_pending(self) -> None:
        super().reset_pending()
        self.pending_codes.clear()
        self.dropped_codes.clear()


class DemandImporter(_KindImporter):
    template = TEMPLATES[Kind.demands]
    model = Demand

    def __init__(self, db_session: Session, report: ImportReport) -> None:
        super().__init__(db_session, report)
        self.refs = EnterpriseRefs(db_session)
        # Strong references keep the enterprises in the session's identity map, so `build` finds them without a query.
        self.enterprises: dict[int, Enterprise] = {}

    def _enterprise_id(self, values: dict[str, Any]) -> int | None:
        ref = values.pop("enterprise", None)
        if ref is not None:
            values.pop("enterprise_id", None)
            return self.refs.resolve(ref, "enterprise")
        return values.pop("enterprise_id", None)

    def load(self, rows: list[Row]) -> None:
        super().load(rows)
        wanted: set[int] = set()
        for row in rows:
            ref = row.values.get("enterprise")
            try:
                rid = self.refs.resolve(ref, "enterprise") if ref else row.values.get("enterprise_id")
            except RowProblem:
                continue
            if isinstance(rid, int) and rid not in self.enterprises:
                wanted.add(rid)
        if wanted:
            for enterprise in self.db.exec(select(Enterprise).where(col(Enterprise.id).in_(wanted))).all():
                self.enterprises[enterprise.id] = enterprise

    def stage(self, row: Row) -> str:
        values = dict(row.values)
        enterprise_id = self._enterprise_id(values)
        external_id = values.get("external_id")
        existing = self.find(external_id)
        if existing is None:
            if enterprise_id is None:
                raise RowProblem([("enterprise", "required: the enterprise's external id, credit code or name")])
            demand_in = validate(DemandCreate, {**values, "enterprise_id": enterprise_id})
            demand = demands_service.build(db_session=self.db, demand_in=demand_in, principal=ADMIN)
            self.new.append(demand)
            if external_id:
                self.pending[external_id] = demand
            return "created"
        if enterprise_id is not None and enterprise_id != existing.enterprise_id:
            raise RowProblem([("enterprise", "a demand cannot move to another enterprise")])
        demand_in = validate(DemandUpdate, values)
        changes = demand_in.model_dump(mode="json", exclude_unset=True)
        status = changes.get("status")
        if status is not None and status != existing.status:
            try:
                demands_service.check_transition(existing.status, status)
            except DomainError as exc:
                raise RowProblem([("status", exc.detail)]) from None
            if status == DemandStatus.open and existing.published_at is None:
                existing.published_at = utcnow()
        if "deadline" in changes:
            changes["deadline"] = demand_in.deadline
        if external_id:
            self.pending[external_id] = existing
        return "updated" if _changed(existing, changes) else "unchanged"


IMPORTERS: dict[Kind, type[_KindImporter]] = {
    Kind.experts: ExpertImporter,
    Kind.enterprises: EnterpriseImporter,
    Kind.demands: DemandImporter,
}

ProgressCallback = Callable[[RecordSource, ImportReport], None]


def _chunks(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    chunk: list[Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def import_source(
    engine: Engine,
    kind: Kind | str,
    source: RecordSource,
    *,
    atomic: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import the records of an open source; see the module's docstring for the rules."""
    kind = Kind(kind)
    if kind not in IMPORTERS:
        raise ValueError(f"{kind} cannot be imported")
    report = ImportReport(kind=kind, atomic=atomic)
    mapper = RowMapper(TEMPLATES[kind], source.headers)
    rows = (mapper.row(record) for record in source.records)
    with Session(engine, expire_on_commit=False) as db_session:
        importer = IMPORTERS[kind](db_session, report)
        try:
            for chunk in _chunks(rows, chunk_size):
                report.rows += len(chunk)
                importer.process(chunk)
                if not atomic:
                    db_session.commit()
                    report.committed = True
                if progress is not None:
                    progress(source, report)
            report.ignored_columns = list(mapper.ignored)
            if atomic:
                if report.errors:
                    db_session.rollback()
                else:
                    db_session.commit()
                    report.committed = True
            else:
                db_session.commit()
                report.committed = True
        except BaseException:
            db_session.rollback()
            raise
        finally:
            if source.close is not None:
                source.close()
    report.errors.sort(key=lambda e: e.line)
    log.info(
        "imported %s: %d rows, %d created, %d updated, %d unchanged, %d bad%s",
        kind,
        report.rows,
        report.created,
        report.updated,
        report.unchanged,
        len(report.errors),
        "" if report.committed or not atomic else " (atomic: nothing written)",
    )
    return report


def import_file(
    engine: Engine,
    kind: Kind | str,
    path: Path,
    *,
    fmt: Format | str = Format.auto,
    atomic: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import a CSV, XLSX or JSON Lines file of `kind` records."""
    source = open_records(Path(path), fmt)
    return import_source(engine, kind, source, atomic=atomic, chunk_size=chunk_size, progress=progress)
