"""Dispatching units (the specialist's university, institute or agency) and their API schemas."""

from __future__ import annotations

from pydantic import ConfigDict
from sqlalchemy import JSON, Boolean, Column, String
from sqlmodel import Field

from service.common import Contact, ExternalId, Name, PublicRecord, RecordFields, RequestModel, ShortText
from service.experts.models import InstitutionType


class Unit(RecordFields, table=True):
    """The organisation that dispatches specialists and, when `approval_required`, approves each dispatch."""

    name: str = Field(sa_column=Column(String(200), nullable=False))
    kind: str = Field(default="university", sa_column=Column(String(30), nullable=False, index=True))
    region: str = Field(default="", sa_column=Column(String(200), nullable=False, index=True))
    contact: dict | None = Field(default=None, sa_column=Column(JSON))
    approval_required: bool = Field(default=True, sa_column=Column(Boolean, nullable=False))
    external_id: str | None = Field(default=None, sa_column=Column(String(100), unique=True))


class UnitCreate(RequestModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "大连理工大学",
                    "kind": "university",
                    "region": "大连市",
                    "contact": {"name": "科研院 王老师", "phone": "0411-84708888", "email": "kjc@dlut.example"},
                    "approval_required": True,
                }
            ]
        },
    )

    name: Name  # type: ignore[valid-type]
    kind: InstitutionType = InstitutionType.university
    region: ShortText = ""  # type: ignore[valid-type]
    contact: Contact | None = None
    approval_required: bool = True
    external_id: ExternalId | None = None  # type: ignore[valid-type]


class UnitUpdate(RequestModel):
    """Every field optional: PATCH changes only what it names."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"approval_required": False}]})

    name: Name = None  # type: ignore[valid-type]
    kind: InstitutionType = None  # type: ignore[assignment]
    region: ShortText = None  # type: ignore[valid-type]
    contact: Contact | None = None
    approval_required: bool = None  # type: ignore[assignment]
    external_id: ExternalId | None = None  # type: ignore[valid-type]


class UnitPublic(PublicRecord):
    name: str
    kind: InstitutionType
    region: str
    approval_required: bool
    contact: Contact | None = None
