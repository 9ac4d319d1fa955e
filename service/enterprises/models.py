"""Enterprise records and their API schemas."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema
from sqlalchemy import JSON, Column, String
from sqlmodel import Field

from service.common import (
    Contact,
    ExternalId,
    Name,
    PublicRecord,
    RecordFields,
    RequestModel,
    ShortText,
    track_changes,
)

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_check_char(first17: str) -> str:
    """The check character of a unified social credit code (GB 32100-2015)."""
    total = sum(w * USCC_CHARSET.index(c) for w, c in zip(USCC_WEIGHTS, first17, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


def validate_credit_code(value: str) -> str:
    """Accept only an 18-character code over the official charset whose check character is right."""
    code = value.strip().upper()
    if len(code) != 18:
        raise ValueError("a unified social credit code has 18 characters")
    if any(c not in USCC_CHARSET for c in code):
        raise ValueError("a unified social credit code uses digits and A-Y without I, O, S, V, Z")
    if not code[2:8].isdigit():
        raise ValueError("characters 3-8 of a unified social credit code are an administrative-division code")
    if uscc_check_char(code[:17]) != code[17]:
        raise ValueError("the check character of the unified social credit code is wrong")
    return code


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


CreditCode = Annotated[
    str,
    BeforeValidator(_upper),
    AfterValidator(validate_credit_code),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$",
            "description": "18-character unified social credit code (GB 32100-2015); the last character is a check "
            "character over the first 17",
        }
    ),
]


class EnterpriseSize(StrEnum):
    micro = "micro"
    small = "small"
    medium = "medium"
    large = "large"


class EnterpriseBase(RequestModel):
    """Fields an enterprise is created with."""

    name: Name
    credit_code: CreditCode | None = None
    region: ShortText = ""
    industry: ShortText = ""
    size: EnterpriseSize | None = None
    external_id: ExternalId | None = None


class Enterprise(RecordFields, table=True):
    """An enterprise with technology demands."""

    name: str = Field(sa_column=Column(String(200), nullable=False))
    credit_code: str | None = Field(default=None, sa_column=Column(String(18), unique=True))
    region: str = Field(default="", sa_column=Column(String(200), nullable=False, index=True))
    industry: str = Field(default="", sa_column=Column(String(200), nullable=False, index=True))
    size: str | None = Field(default=None, sa_column=Column(String(10)))
    contact: dict | None = Field(default=None, sa_column=Column(JSON))
    external_id: str | None = Field(default=None, sa_column=Column(String(100), unique=True))


class EnterpriseCreate(EnterpriseBase):
    contact: Contact | None = None


class EnterpriseUpdate(RequestModel):
    """Every field optional: PATCH changes only what it names."""

    name: Name = None
    credit_code: CreditCode | None = None
    region: ShortText = None
    industry: ShortText = None
    size: EnterpriseSize | None = None
    contact: Contact | None = None
    external_id: ExternalId | None = None


class EnterprisePublic(PublicRecord):
    name: str
    credit_code: str | None
    region: str
    industry: str
    size: EnterpriseSize | None
    contact: Contact | None = None


# Suggestions show the enterprise's name and contact from each worker's state: changes must reach it.
track_changes(Enterprise, lambda enterprise: [("enterprise", enterprise.id)])
