"""The programme's figures as the API returns them."""

from __future__ import annotations

from pydantic import BaseModel, Field

from service.assessments.models import AssessmentStats
from service.issues.models import IssueStats
from service.vouchers.models import VoucherStats


class DemandStats(BaseModel):
    total: int
    by_status: dict[str, int]
    by_region: dict[str, int]
    by_industry: dict[str, int]


class ExpertStats(BaseModel):
    total: int
    active: int
    by_origin: dict[str, int]
    by_load: dict[str, int] = Field(
        description="active specialists by live (offered + active) engagements: '0', '1', … and 'full' at capacity"
    )


class EngagementStats(BaseModel):
    total: int
    by_mode: dict[str, int]
    by_status: dict[str, int]


class MatchedShare(BaseModel):
    open: int
    matched: int
    share: float | None = Field(description="matched / (open + matched): of the published demands still in play")


class TimeToFirstEngagement(BaseModel):
    demands: int = Field(description="published demands that have had at least one engagement")
    median_seconds: float | None
    median_hours: float | None


class UnitStats(BaseModel):
    """One dispatching unit's figures (SPEC §7.2), counted on the engagements it dispatched."""

    unit_id: int
    name: str
    specialists: int = Field(description="specialists who carry this unit now")
    dispatched: int = Field(description="distinct specialists with an engagement that went active (or ended after)")
    approving: int
    active: int
    completed: int
    mean_rating: float | None = Field(description="mean enterprise rating of its completed engagements")
    ratings: int


class ProgrammeStats(BaseModel):
    demands: DemandStats
    experts: ExpertStats
    engagements: EngagementStats
    open_demands_matched: MatchedShare
    time_to_first_engagement: TimeToFirstEngagement
    issues: IssueStats
    vouchers: VoucherStats
    assessment: AssessmentStats | None = Field(description="the latest periodic assessment (null before the first)")
    units: list[UnitStats] = Field(default_factory=list, description="per dispatching unit, in id order")
