"""Specialist (expert) records and their API schemas."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field as PydanticField
from pydantic import field_validator
from sqlalchemy import JSON, Boolean, Column, ForeignKey, Integer, String, Text
from sqlmodel import Field

from service.common import (
    Contact,
    ExternalId,
    LongText,
    Name,
    PublicRecord,
    RecordFields,
    RecordId,
    RequestModel,
    ShortText,
    Term,
    TermList,
    dedupe,
    track_changes,
)
from service.demands.models import Origin


class InstitutionType(StrEnum):
    university = "university"
    research_institute = "research_institute"
    service_agency = "service_agency"
    enterprise = "enterprise"
    other = "other"


Capacity = Annotated[int, PydanticField(ge=1, le=10)]
Conflicts = Annotated[list[RecordId], PydanticField(max_length=500)]
Languages = Annotated[list[Term], PydanticField(max_length=20)]

# Fields only administrators set: a specialist may not raise their own capacity or lift a conflict.
ADMIN_ONLY_FIELDS = frozenset({"capacity", "active", "conflicts", "unit_id"})


class ExpertFields(RequestModel):
    """Validation shared by create and update."""

    @field_validator("fields", "keywords", "languages", "conflicts", check_fields=False)
    @classmethod
    def _dedupe(cls, values: list | None) -> list | None:
        return dedupe(values) if values is not None else None


class Expert(RecordFields, table=True):
    """A specialist who can be sent to enterprises."""

    name: str = Field(sa_column=Column(String(200), nullable=False))
    institution: str = Field(default="", sa_column=Column(String(200), nullable=False))
    institution_type: str = Field(default="other", sa_column=Column(String(30), nullable=False, index=True))
    origin: str = Field(default="in_province", sa_column=Column(String(20), nullable=False, index=True))
    region: str = Field(default="", sa_column=Column(String(200), nullable=False, index=True))
    title: str = Field(default="", sa_column=Column(String(200), nullable=False))
    degree: str = Field(default="", sa_column=Column(String(200), nullable=False))
    fields: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    keywords: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    bio: str = Field(default="", sa_column=Column(Text, nullable=False))
    achievements: str = Field(default="", sa_column=Column(Text, nullable=False))
    languages: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    capacity: int = Field(default=2, nullable=False)
    travels: bool = Field(default=True, sa_column=Column(Boolean, nullable=False))
    conflicts: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    active: bool = Field(default=True, sa_column=Column(Boolean, nullable=False, index=True))
    contact: dict | None = Field(default=None, sa_column=Column(JSON))
    external_id: str | None = Field(default=None, sa_column=Column(String(100), unique=True))
    # The dispatching unit (SPEC §7.2); a unit with specialists cannot be deleted.
    unit_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("unit.id"), index=True))


class ExpertCreate(ExpertFields):
    name: Name  # type: ignore[valid-type]
    institution: ShortText = ""  # type: ignore[valid-type]
    institution_type: InstitutionType = InstitutionType.other
    origin: Origin = Origin.in_province
    region: ShortText = ""  # type: ignore[valid-type]
    title: ShortText = ""  # type: ignore[valid-type]
    degree: ShortText = ""  # type: ignore[valid-type]
    fields: TermList = []
    keywords: TermList = []
    bio: LongText = ""  # type: ignore[valid-type]
    achievements: LongText = ""  # type: ignore[valid-type]
    languages: Languages = []
    capacity: Capacity = 2
    travels: bool = True
    conflicts: Conflicts = []
    active: bool = True
    contact: Contact | None = None
    external_id: ExternalId | None = None  # type: ignore[valid-type]
    unit_id: RecordId | None = None


class ExpertUpdate(ExpertFields):
    """Every field optional: PATCH changes only what it names."""

    name: Name = None  # type: ignore[valid-type]
    institution: ShortText = None  # type: ignore[valid-type]
    institution_type: InstitutionType = None
    origin: Origin = None
    region: ShortText = None  # type: ignore[valid-type]
    title: ShortText = None  # type: ignore[valid-type]
    degree: ShortText = None  # type: ignore[valid-type]
    fields: TermList = None
    keywords: TermList = None
    bio: LongText = None  # type: ignore[valid-type]
    achievements: LongText = None  # type: ignore[valid-type]
    languages: Languages = None
    capacity: Capacity = None
    travels: bool = None
    conflicts: Conflicts = None
    active: bool = None
    contact: Contact | None = None
    external_id: ExternalId | None = None  # type: ignore[valid-type]
    unit_id: RecordId | None = None


class ExpertPublic(PublicRecord):
    name: str
    institution: str
    institution_type: InstitutionType
    origin: Origin
    region: str
    title: str
    degree: str
    fields: list[str]
    keywords: list[str]
    bio: str
    achievements: str
    languages: list[str]
    capacity: int
    travels: bool
    active: bool
    conflicts: list[int] | None = None
    contact: Contact | None = None
    unit_id: int | None = None


track_changes(Expert, lambda expert: [("expert", expert.id)])
