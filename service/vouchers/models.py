"""Innovation vouchers (创新券): amounts the programme grants an enterprise or a specialist, redeemed against
completed engagements. Money is stored in fen (integer hundredths of a yuan) so that sums never drift."""

from __future__ import annotations

from datetime import date as CalendarDate
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, WithJsonSchema
from pydantic import Field as PydanticField
from sqlalchemy import BigInteger, CheckConstraint, Column, Date, DateTime, ForeignKey, Integer, String, Text
from sqlmodel import Field, SQLModel

from service.common import PublicRecord, RecordFields, RecordId, RequestModel, UtcDateTime, _text, utcnow

MAX_AMOUNT_CNY = Decimal("100000000")  # 1亿元: far above any single voucher a programme grants


class HolderType(StrEnum):
    enterprise = "enterprise"
    expert = "expert"


class VoucherStatus(StrEnum):
    """Derived: `active` (balance left, not expired), `exhausted` (nothing left), `expired` (balance left, too late)."""

    active = "active"
    exhausted = "exhausted"
    expired = "expired"


class Voucher(RecordFields, table=True):
    """One voucher; `balance_fen` only ever goes down, by redemptions taken under a row lock."""

    __table_args__ = (
        # The database's own backstop for "never beyond the balance".
        CheckConstraint("balance_fen >= 0 AND balance_fen <= amount_fen", name="balance_range"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        {"sqlite_autoincrement": True},
    )

    holder_type: str = Field(sa_column=Column(String(20), nullable=False))
    # No foreign key: a finance record outlives the party it was granted to.
    holder_id: int = Field(sa_column=Column(Integer, nullable=False, index=True))
    amount_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    balance_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    valid_until: CalendarDate = Field(sa_column=Column(Date, nullable=False, index=True))
    purpose: str = Field(default="", sa_column=Column(Text, nullable=False))
    external_id: str | None = Field(default=None, sa_column=Column(String(100), unique=True))


class Redemption(SQLModel, table=True):
    """One redemption of a voucher against a completed engagement (its parties copied: the ledger outlives them)."""

    __tablename__ = "voucher_redemption"
    __table_args__ = (CheckConstraint("amount_fen > 0", name="amount_positive"), {"sqlite_autoincrement": True})

    id: int | None = Field(default=None, primary_key=True)
    voucher_id: int = Field(
        sa_column=Column(Integer, ForeignKey("voucher.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    engagement_id: int = Field(sa_column=Column(Integer, nullable=False, index=True))
    demand_id: int = Field(sa_column=Column(Integer, nullable=False))
    expert_id: int = Field(sa_column=Column(Integer, nullable=False))
    enterprise_id: int = Field(sa_column=Column(Integer, nullable=False))
    amount_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    actor_role: str = Field(sa_column=Column(String(20), nullable=False))
    actor_key_id: int | None = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True), nullable=False)


# A JSON number (the schema says so: a decimal string would be refused by the strict body guard anyway).
Amount = Annotated[
    Decimal,
    PydanticField(
        gt=0, le=MAX_AMOUNT_CNY, decimal_places=2, allow_inf_nan=False, description="yuan, at most 2 decimals"
    ),
    WithJsonSchema(
        {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": int(MAX_AMOUNT_CNY),
            "description": "yuan, at most 2 decimals",
        }
    ),
]
Purpose = _text(2000)


def to_fen(amount: Decimal) -> int:
    """Yuan (at most two decimals, already validated) as integer fen."""
    return int((amount * 100).to_integral_value())


def to_cny(fen: int) -> float:
    """Integer fen as yuan."""
    return round(fen / 100, 2)


class VoucherCreate(RequestModel):
    """An administrator grants a voucher to an enterprise or a specialist."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "holder_type": "enterprise",
                    "holder_id": 12,
                    "amount_cny": 50000,
                    "valid_until": "2027-12-31",
                    "purpose": "2026年度科技创新券：技术诊断服务",
                }
            ]
        },
    )

    holder_type: HolderType
    holder_id: RecordId
    amount_cny: Amount
    valid_until: CalendarDate
    purpose: Purpose = ""  # type: ignore[valid-type]


class RedemptionCreate(RequestModel):
    """Redeem part (or all) of a voucher against a completed engagement of its holder."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"engagement_id": 31, "amount_cny": 12000.5}]}
    )

    engagement_id: RecordId
    amount_cny: Amount


class VoucherPublic(PublicRecord):
    holder_type: HolderType
    holder_id: int
    amount_cny: float
    balance_cny: float
    redeemed_cny: float
    valid_until: CalendarDate
    purpose: str
    status: VoucherStatus


class RedemptionPublic(SQLModel):
    id: int
    voucher_id: int
    engagement_id: int
    demand_id: int
    expert_id: int
    enterprise_id: int
    amount_cny: float
    actor_role: str
    created_at: UtcDateTime


class VoucherStats(SQLModel):
    """The vouchers' figures for /stats, in yuan."""

    issued: int = PydanticField(description="vouchers issued")
    issued_cny: float
    redeemed_cny: float
    outstanding_cny: float = PydanticField(description="balances of vouchers not yet expired")
    expired_cny: float = PydanticField(description="balances left on expired vouchers")
    redemptions: int
