"""Demand records (one technical problem of one enterprise), their lifecycle and API schemas."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, field_validator
from pydantic import Field as PydanticField
from sqlalchemy import JSON, BigInteger, Boolean, Column, Date, DateTime, ForeignKey, Integer, String, Text
from sqlmodel import Field, SQLModel

from service.common import (
    ExternalId,
    Name,
    PublicRecord,
    RecordFields,
    RecordId,
    RequestModel,
    RequiredLongText,
    ShortText,
    TermList,
    UtcDateTime,
    _text,
    dedupe,
    track_changes,
    utcnow,
)

ReviewComment = _text(2000)


class DemandCategory(StrEnum):
    technology = "technology"
    talent = "talent"
    service = "service"


class DemandStatus(StrEnum):
    draft = "draft"
    in_review = "in_review"
    open = "open"
    matched = "matched"
    closed = "closed"
    cancelled = "cancelled"


class InitialDemandStatus(StrEnum):
    """The statuses a demand may be created with (the schema says so; the rest of the lifecycle follows)."""

    draft = "draft"
    open = "open"


class Origin(StrEnum):
    in_province = "in_province"
    out_of_province = "out_of_province"
    foreign = "foreign"


# Moves a client may ask for by PATCHing `status`; open <-> matched follows engagements instead.
CLIENT_TRANSITIONS: dict[DemandStatus, frozenset[DemandStatus]] = {
    DemandStatus.draft: frozenset({DemandStatus.open, DemandStatus.cancelled}),
    # Leaving review is POST /demands/{id}/review (SPEC §7.1); the enterprise may still withdraw by cancelling.
    DemandStatus.in_review: frozenset({DemandStatus.cancelled}),
    DemandStatus.open: frozenset({DemandStatus.cancelled}),
    DemandStatus.matched: frozenset({DemandStatus.closed}),
    DemandStatus.closed: frozenset(),
    DemandStatus.cancelled: frozenset(),
}

Headcount = Annotated[int, PydanticField(ge=1, le=20)]
TermMonths = Annotated[int, PydanticField(ge=1, le=36)]
Budget = Annotated[int, PydanticField(ge=0, le=10**12)]
Origins = Annotated[list[Origin], PydanticField(max_length=3)]


class DemandFields(RequestModel):
    """Validation shared by create and update."""

    @field_validator("keywords", "accepted_origins", check_fields=False)
    @classmethod
    def _dedupe(cls, values: list | None) -> list | None:
        return dedupe(values) if values is not None else None


class Demand(RecordFields, table=True):
    """A technology demand posted by (or for) an enterprise."""

    enterprise_id: int = Field(sa_column=Column(Integer, ForeignKey("enterprise.id"), nullable=False, index=True))
    title: str = Field(sa_column=Column(String(200), nullable=False))
    description: str = Field(sa_column=Column(Text, nullable=False))
    category: str = Field(default="technology", sa_column=Column(String(20), nullable=False))
    industry: str = Field(default="", sa_column=Column(String(200), nullable=False, index=True))
    keywords: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    region: str = Field(default="", sa_column=Column(String(200), nullable=False, index=True))
    on_site: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    headcount: int = Field(default=1, nullable=False)
    accepted_origins: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    budget_cny: int | None = Field(default=None, sa_column=Column(BigInteger))
    term_months: int = Field(default=12, nullable=False)
    deadline: date | None = Field(default=None, sa_column=Column(Date))
    status: str = Field(default="open", sa_column=Column(String(20), nullable=False, index=True))
    published_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    external_id: str | None = Field(default=None, sa_column=Column(String(100), unique=True))


class DemandCreate(DemandFields):
    enterprise_id: RecordId
    title: Name  # type: ignore[valid-type]
    description: RequiredLongText
    category: DemandCategory = DemandCategory.technology
    industry: ShortText = ""  # type: ignore[valid-type]
    keywords: TermList = []
    region: ShortText | None = None  # type: ignore[valid-type]
    on_site: bool = False
    headcount: Headcount = 1
    accepted_origins: Origins = []
    budget_cny: Budget | None = None
    term_months: TermMonths = 12
    deadline: date | None = None
    status: InitialDemandStatus = PydanticField(
        default=InitialDemandStatus.open, description="a demand is created 'open' (published) or 'draft'"
    )
    external_id: ExternalId | None = None  # type: ignore[valid-type]

    @field_validator("status", mode="before")
    @classmethod
    def _created_open_or_draft(cls, status: object) -> object:
        # A later status is a lifecycle word the client may know: say why it cannot start there.
        later = set(DemandStatus.__members__) - set(InitialDemandStatus.__members__)
        if isinstance(status, str) and status in later:
            raise ValueError("a demand is created 'open' or 'draft'")
        return status


class DemandUpdate(DemandFields):
    """Every field optional: PATCH changes only what it names; `status` moves the lifecycle."""

    title: Name = None  # type: ignore[valid-type]
    description: RequiredLongText = None
    category: DemandCategory = None
    industry: ShortText = None  # type: ignore[valid-type]
    keywords: TermList = None
    region: ShortText = None  # type: ignore[valid-type]
    on_site: bool = None
    headcount: Headcount = None
    accepted_origins: Origins = None
    budget_cny: Budget | None = None
    term_months: TermMonths = None
    deadline: date | None = None
    status: DemandStatus = None
    external_id: ExternalId | None = None  # type: ignore[valid-type]


class DemandPublic(PublicRecord):
    enterprise_id: int
    title: str
    description: str
    category: DemandCategory
    industry: str
    keywords: list[str]
    region: str
    on_site: bool
    headcount: int
    accepted_origins: list[Origin]
    budget_cny: int | None
    term_months: int
    deadline: date | None
    status: DemandStatus
    published_at: UtcDateTime | None = None


class ReviewDecision(StrEnum):
    approve = "approve"
    return_ = "return"


class DemandReview(SQLModel, table=True):
    """One step of a demand's review history: submitted, approved or returned, by whom, when, with what comment."""

    __tablename__ = "demand_review"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: int | None = Field(default=None, primary_key=True)
    demand_id: int = Field(
        sa_column=Column(Integer, ForeignKey("demand.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    action: str = Field(sa_column=Column(String(20), nullable=False))
    comment: str = Field(default="", sa_column=Column(Text, nullable=False))
    actor_role: str = Field(sa_column=Column(String(20), nullable=False))
    actor_key_id: int | None = Field(default=None)
    at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True), nullable=False)


class ReviewCreate(RequestModel):
    """An administrator's decision on a demand in review; a returned demand goes back to draft with the comment."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"decision": "approve", "comment": "需求清晰，同意发布"},
                {"decision": "return", "comment": "请补充技术指标和预算"},
            ]
        },
    )

    decision: ReviewDecision
    comment: ReviewComment = ""  # type: ignore[valid-type]


class DemandReviewPublic(SQLModel):
    id: int
    demand_id: int
    action: str  # submitted | approved | returned
    decision: ReviewDecision | None  # for approved / returned
    comment: str
    actor_role: str
    actor_key_id: int | None
    at: UtcDateTime


track_changes(Demand, lambda demand: [("demand", demand.id)])
