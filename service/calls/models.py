"""Open calls (揭榜挂帅, SPEC §7.3): a demand published as a call, specialists' bids, the award."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import ConfigDict
from pydantic import Field as PydanticField
from sqlalchemy import JSON, BigInteger, Column, DateTime, Float, ForeignKey, Index, Integer, String, Text, text
from sqlmodel import Field, SQLModel

from service.common import RecordFields, RecordId, RequestModel, UtcDateTime, _text, utcnow


class CallStatus(StrEnum):
    open = "open"
    awarded = "awarded"


class BidStatus(StrEnum):
    submitted = "submitted"
    withdrawn = "withdrawn"
    awarded = "awarded"
    not_awarded = "not_awarded"


class Call(RecordFields, table=True):
    """One open call per demand; bids are taken until `deadline` or `max_bidders`, then one is awarded."""

    demand_id: int = Field(
        sa_column=Column(Integer, ForeignKey("demand.id", ondelete="CASCADE"), nullable=False, unique=True)
    )
    goals: str = Field(sa_column=Column(Text, nullable=False))
    budget_cny: int | None = Field(default=None, sa_column=Column(BigInteger))
    deadline: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False, index=True))
    max_bidders: int = Field(default=3, nullable=False)
    status: str = Field(default="open", sa_column=Column(String(20), nullable=False, index=True))
    awarded_bid_id: int | None = Field(default=None, sa_column=Column(Integer))
    awarded_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class Bid(SQLModel, table=True):
    """A specialist's bid on an open call, with the match score and reasons the matcher gave when it was made."""

    __table_args__ = (
        # One live (submitted) bid per specialist per call; withdrawn ones stay as history.
        Index(
            "uq_bid_live",
            "call_id",
            "expert_id",
            unique=True,
            postgresql_where=text("status = 'submitted'"),
            sqlite_where=text("status = 'submitted'"),
        ),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    call_id: int = Field(
        sa_column=Column(Integer, ForeignKey("call.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    demand_id: int = Field(sa_column=Column(Integer, nullable=False, index=True))
    expert_id: int = Field(
        sa_column=Column(Integer, ForeignKey("expert.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    proposal: str = Field(sa_column=Column(Text, nullable=False))
    price_cny: int | None = Field(default=None, sa_column=Column(BigInteger))
    months: int | None = Field(default=None)
    status: str = Field(default="submitted", sa_column=Column(String(20), nullable=False, index=True))
    score: float | None = Field(default=None, sa_column=Column(Float))
    components: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    matched_terms: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    reasons: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    engagement_id: int | None = Field(default=None, sa_column=Column(Integer))
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True), nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True), nullable=False)


Goals = _text(20_000, 1)
Proposal = _text(20_000, 1)
Money = Annotated[int, PydanticField(ge=0, le=10**12)]
Months = Annotated[int, PydanticField(ge=1, le=36)]
MaxBidders = Annotated[int, PydanticField(ge=1, le=3)]


class CallCreate(RequestModel):
    """Publish an open demand as an open call."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "goals": "焊缝一次合格率从92%提升到98%，形成可推广的工艺规范",
                    "budget_cny": 500000,
                    "deadline": "2027-03-31T16:00:00Z",
                    "max_bidders": 3,
                }
            ]
        },
    )

    goals: Goals  # type: ignore[valid-type]
    budget_cny: Money | None = None
    deadline: datetime = PydanticField(description="bids close at this instant (ISO 8601 with a time zone)")
    max_bidders: MaxBidders = 3


class CallPublic(SQLModel):
    id: int
    demand_id: int
    goals: str
    budget_cny: int | None
    deadline: UtcDateTime
    max_bidders: int
    status: CallStatus
    bidders: int = PydanticField(description="live (submitted) bids now")
    awarded_bid_id: int | None
    awarded_at: UtcDateTime | None
    created_at: UtcDateTime
    updated_at: UtcDateTime
    version: int


class BidCreate(RequestModel):
    """A bid: administrators name the specialist they bid for; a specialist's key bids for itself."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "proposal": "采用激光视觉焊缝跟踪+工艺参数自适应，三个月完成试点产线改造",
                    "price_cny": 450000,
                    "months": 6,
                }
            ]
        },
    )

    proposal: Proposal  # type: ignore[valid-type]
    price_cny: Money | None = None
    months: Months | None = None
    expert_id: RecordId | None = None


class BidReason(SQLModel):
    code: str
    zh: str
    en: str


class BidPublic(SQLModel):
    id: int
    call_id: int
    demand_id: int
    expert_id: int
    proposal: str
    price_cny: int | None
    months: int | None
    status: BidStatus
    score: float | None = PydanticField(description="the live matcher's score of the pair when the bid was made")
    components: dict[str, Any]
    matched_terms: list[str]
    reasons: list[BidReason]
    engagement_id: int | None
    created_at: UtcDateTime
    updated_at: UtcDateTime
