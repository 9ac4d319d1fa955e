"""Shared vocabulary: constrained types, the record mixin, timestamps/version bookkeeping, the change log."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, StringConstraints, WithJsonSchema
from pydantic import Field as PydanticField
from pydantic_core import PydanticCustomError
from sqlalchemy import BigInteger, Column, DateTime, Integer, String, event, insert
from sqlmodel import Field, Session, SQLModel

MAX_ID = 2**31 - 1

# Named constraints so migrations can alter them on SQLite (batch mode) and names match across databases.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Timezone-aware now, in UTC."""
    return datetime.now(UTC)


_SURROGATE = re.compile("[\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored as text (a NUL character or a lone UTF-16 surrogate), or None when it can."""
    if "\x00" in value:
        return "must not contain NUL characters"
    if _SURROGATE.search(value):
        # A JSON escape such as "\ud800" without its pair decodes to a code point UTF-8 cannot encode.
        return "must be valid Unicode (a lone UTF-16 surrogate such as \\ud800 is not)"
    return None


def _no_nul(value: str) -> str:
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


# White space as JSON Schema patterns (ECMA-262 `\s`) know it, so that what the schema calls blank is what is stripped
# (Python's own str.strip() also strips the control characters U+001C-U+001F, which `\s` does not match).
WHITE_SPACE = (
    " \t\n\v\f\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_WS_CLASS = "".join(f"\\u{ord(c):04x}" for c in WHITE_SPACE)


def _strip(value: Any) -> Any:
    return value.strip(WHITE_SPACE) if isinstance(value, str) else value


NO_NUL_PATTERN = "^[^\\x00]*$"
# Required text is stripped first, so it needs one character that is not white space.
NOT_BLANK_PATTERN = f"^[{_WS_CLASS}]*[^{_WS_CLASS}\\x00][^\\x00]*$"


def _strip_within(max_length: int) -> Callable[[Any], Any]:
    def strip(value: Any) -> Any:
        # The documented maxLength holds for the text as sent, white space included, not only after stripping.
        if isinstance(value, str) and len(value) > max_length:
            raise PydanticCustomError(
                "string_too_long", "String should have at most {max_length} characters", {"max_length": max_length}
            )
        return _strip(value)

    return strip


def _text(max_length: int, min_length: int = 0) -> Any:
    pattern = NOT_BLANK_PATTERN if min_length else NO_NUL_PATTERN
    return Annotated[
        str,
        BeforeValidator(_strip_within(max_length)),
        StringConstraints(min_length=min_length, max_length=max_length),
        AfterValidator(_no_nul),
        WithJsonSchema({"type": "string", "minLength": min_length, "maxLength": max_length, "pattern": pattern}),
    ]


def _as_utc(value: datetime) -> datetime:
    # SQLite hands back naive timestamps; every timestamp is written in UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


UtcDateTime = Annotated[datetime, AfterValidator(_as_utc)]


Name = _text(200, 1)
ShortText = _text(200)
Term = _text(100, 1)
LongText = _text(20_000)
RequiredLongText = _text(20_000, 1)
ExternalId = _text(100, 1)
RecordId = Annotated[int, PydanticField(ge=1, le=MAX_ID)]
IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="record id")]
TermList = Annotated[list[Term], PydanticField(max_length=30)]


class RequestModel(BaseModel):
    """Base of every request body: a field the schema does not name is refused (422 naming it), never ignored.

    A plain pydantic model, not an SQLModel: SQLModel's own `__init__` re-validates leniently, which would undo the
    strict JSON validation below.

    Strict JSON types (no `true` for an integer, no `"5"` for a number, no number for a date) and clean text (no NUL,
    no lone surrogate) are enforced for every JSON body by `service.body`, whatever its model; imports from
    spreadsheets validate the same models leniently (a cell "5" is a number there).
    """

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]


def dedupe(values: Iterable[Any]) -> list[Any]:
    """Drop repeats, keeping the first occurrence's order."""
    return list(dict.fromkeys(values))


class RecordFields(SQLModel):
    """Bookkeeping every stored record carries."""

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True), nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True), nullable=False)
    version: int = Field(default=1, nullable=False)


class PublicRecord(SQLModel):
    """Bookkeeping fields as clients see them."""

    id: int
    external_id: str | None = None
    created_at: UtcDateTime
    updated_at: UtcDateTime
    version: int


class RecordChange(SQLModel, table=True):
    """Append-only log of writes the matcher must see, read by every worker to stay current."""

    __tablename__ = "record_change"

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    )
    kind: str = Field(sa_column=Column(String(20), nullable=False))
    record_id: int = Field(nullable=False, index=True)
    op: str = Field(sa_column=Column(String(10), nullable=False))
    at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True), nullable=False, index=True)


ChangeExtractor = Callable[[Any], Iterable[tuple[str, int]]]
_tracked: dict[type, ChangeExtractor] = {}


def track_changes(model: type, extractor: ChangeExtractor) -> None:
    """Have every insert/update/delete of `model` logged as changes of the (kind, id) pairs `extractor` names."""
    _tracked[model] = extractor


def tracked_changes(model: type) -> ChangeExtractor | None:
    """The extractor registered for `model`, for writers that insert without the ORM's flush (bulk imports)."""
    return _tracked.get(model)


@event.listens_for(Session, "before_flush")
def _bump_versions(session: Session, _ctx: Any, _instances: Any) -> None:
    now = utcnow()
    for obj in session.dirty:
        if isinstance(obj, RecordFields) and session.is_modified(obj, include_collections=False):
            obj.updated_at = now
            # A SQL expression, so concurrent writers each add one.
            obj.version = type(obj).version + 1  # type: ignore[operator]


@event.listens_for(Session, "after_flush")
def _log_changes(session: Session, _ctx: Any) -> None:
    rows: list[dict[str, Any]] = []
    now = utcnow()
    for op, objects in (("upsert", session.new), ("upsert", session.dirty), ("delete", session.deleted)):
        for obj in objects:
            extractor = _tracked.get(type(obj))
            if extractor is None:
                continue
            for kind, record_id in extractor(obj):
                if record_id is not None:
                    rows.append({"kind": kind, "record_id": record_id, "op": op, "at": now})
    if rows:
        session.connection().execute(insert(RecordChange), rows)


Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=40, pattern=r"^[0-9+()\- ]*$")]
# Explicit character classes: Python's and Rust's `\s` differ, and clients validate against this pattern too.
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, max_length=254, pattern=r"^$|^[^@ \t\r\n\x00]+@[^@ \t\r\n\x00]+\.[^@ \t\r\n\x00]+$"
    ),
    AfterValidator(_no_nul),
]


class Contact(RequestModel):
    """Personal contact details: shown only to administrators, the owner and engagement counterparts."""

    name: _text(100) | None = None  # type: ignore[valid-type]
    phone: Phone | None = None
    email: Email | None = None


def apply_patch(record: SQLModel, changes: dict[str, Any]) -> None:
    """Copy a PATCH body's set fields onto a record (the Update schema already refused nulls where not allowed)."""
    for name, value in changes.items():
        setattr(record, name, value)


def like_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, with its wildcards escaped (escape char '\\')."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


QueryText = Annotated[str | None, Query(max_length=200, pattern=NO_NUL_PATTERN), BeforeValidator(_strip)]
