"""The programme's figures as the API returns them."""

from __future__ import annotations

from pydantic import BaseModel, Field

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


class ProgrammeStats(BaseModel):
    demands: DemandStats
    experts: ExpertStats
    engagements: EngagementStats
    open_demands_matched: MatchedShare
    time_to_first_engagement: TimeToFirstEngagement
    issues: IssueStats
    vouchers: VoucherStats
