"""API keys: stored as a SHA-256 digest, shown to the client once."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field as PydanticField
from pydantic import TypeAdapter
from sqlalchemy import Column, DateTime, ForeignKey, Integer, String
from sqlmodel import Field, SQLModel

from service.common import RecordId, RequestModel, ShortText, UtcDateTime, utcnow


class Role(StrEnum):
    admin = "admin"
    enterprise = "enterprise"
    expert = "expert"
    unit = "unit"


class ApiKey(SQLModel, table=True):
    """A minted key; `digest` is the only trace of the secret."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    digest: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    prefix: str = Field(sa_column=Column(String(16), nullable=False))
    role: Role = Field(sa_column=Column(String(20), nullable=False))
    enterprise_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("enterprise.id", ondelete="CASCADE"), index=True)
    )
    expert_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("expert.id", ondelete="CASCADE"), index=True)
    )
    unit_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("unit.id", ondelete="CASCADE"), index=True)
    )
    label: str | None = Field(default=None, sa_column=Column(String(200)))
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True), nullable=False)
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class _KeyRequest(RequestModel):
    label: ShortText | None = None  # type: ignore[valid-type]


class AdminKeyCreate(_KeyRequest):
    """A key for an administrator: bound to no party."""

    role: Literal[Role.admin]


class EnterpriseKeyCreate(_KeyRequest):
    """A key that speaks for one enterprise."""

    role: Literal[Role.enterprise]
    enterprise_id: RecordId


class ExpertKeyCreate(_KeyRequest):
    """A key that speaks for one specialist."""

    role: Literal[Role.expert]
    expert_id: RecordId


class UnitKeyCreate(_KeyRequest):
    """A key that speaks for one dispatching unit: it sees its specialists and approves their dispatches."""

    role: Literal[Role.unit]
    unit_id: RecordId


AnyKeyCreate = AdminKeyCreate | EnterpriseKeyCreate | ExpertKeyCreate | UnitKeyCreate
ApiKeyCreate = Annotated[AnyKeyCreate, PydanticField(discriminator="role")]
ApiKeyCreateAdapter: TypeAdapter[AnyKeyCreate] = TypeAdapter(ApiKeyCreate)


class ApiKeyPublic(SQLModel):
    """A key's metadata, without the secret."""

    id: int
    prefix: str
    role: Role
    enterprise_id: int | None
    expert_id: int | None
    unit_id: int | None = None
    label: str | None
    created_at: UtcDateTime
    revoked_at: UtcDateTime | None


class ApiKeyCreated(ApiKeyPublic):
    """The answer to minting: the only time the secret is shown."""

    key: str
