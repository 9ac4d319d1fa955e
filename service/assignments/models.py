"""Programme assignments: a stored proposal of pairings over many open demands, and the API schemas."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, computed_field
from pydantic import Field as PydanticField
from sqlalchemy import JSON, Column, DateTime, String
from sqlmodel import Field, SQLModel

from service.common import PublicRecord, RecordFields, RecordId, RequestModel, ShortText, UtcDateTime, dedupe

MAX_DEMANDS = 20_000


class AssignmentStatus(StrEnum):
    proposed = "proposed"
    offered = "offered"


class Assignment(RecordFields, table=True):
    """One run of the programme assignment: its parameters, the proposal, and the offers made from it."""

    status: str = Field(
        default=AssignmentStatus.proposed.value, sa_column=Column(String(20), nullable=False, index=True)
    )
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    offered_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    offers: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))


class AssignmentCreate(RequestModel):
    """Which open demands to assign: the named ones, or all open ones filtered by region and industry."""

    demand_ids: Annotated[
        list[RecordId] | None, PydanticField(max_length=MAX_DEMANDS), AfterValidator(lambda v: dedupe(v) if v else v)
    ] = None
    region: ShortText | None = None  # type: ignore[valid-type]
    industry: ShortText | None = None  # type: ignore[valid-type]
    candidates_per_demand: int = PydanticField(
        default=10,
        ge=1,
        le=100,
        description="K: each demand's K best specialists and each specialist's K best demands form the candidates",
    )


class AssignmentPair(SQLModel):
    demand_id: int
    expert_id: int
    score: float
    reasons: list[str] = PydanticField(description="the pair's main reasons, in Chinese and English")
    engagement_id: int | None = None


class Feasibility(SQLModel):
    """Headcount against capacity, and who has no candidate, before solving."""

    n_demands: int
    n_experts: int
    n_candidate_pairs: int
    total_headcount: int
    total_capacity: int
    headcount_excess: int = PydanticField(description="open headcount beyond free capacity (0 when it fits)")
    demands_without_candidates: list[int]
    experts_without_candidates: list[int]
    coverage_upper_bound: int
    messages: list[str]


class SkippedDemand(SQLModel):
    demand_id: int
    reason: str


class AssignmentResult(SQLModel):
    pairs: list[AssignmentPair]
    n_pairs: int
    total_score: float
    covered_demands: int
    uncovered_demands: list[int]
    optimal: bool
    solve_seconds: float
    feasibility: Feasibility
    skipped_demands: list[SkippedDemand] = PydanticField(description="named demands that are not open")


class OfferProblem(SQLModel):
    demand_id: int
    expert_id: int
    code: str
    detail: str


class OffersResult(SQLModel):
    created: list[AssignmentPair]
    failed: list[OfferProblem]


class AssignmentPublic(PublicRecord):
    status: AssignmentStatus
    params: dict[str, Any]
    result: AssignmentResult
    offered_at: UtcDateTime | None
    offers: OffersResult | None

    @computed_field(description="the proposed pairings (the same as `result.pairs`)")
    @property
    def pairs(self) -> list[AssignmentPair]:
        """SPEC section 5: an assignment carries its pairs at the top level."""
        return self.result.pairs
