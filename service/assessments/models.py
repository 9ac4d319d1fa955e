"""Periodic assessment (考核): a 100-point score per specialist from documented parts, a grade, and administrators'
adjustments with a reason."""

from __future__ import annotations

from datetime import date as CalendarDate
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import ConfigDict
from pydantic import Field as PydanticField
from sqlalchemy import JSON, Column, Date, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from service.common import (
    PublicRecord,
    RecordFields,
    RecordId,
    RequestModel,
    UtcDateTime,
    _text,
    track_changes,
    utcnow,
)


class Grade(StrEnum):
    excellent = "excellent"
    good = "good"
    pass_ = "pass"
    fail = "fail"


GRADE_ZH = {"excellent": "优秀", "good": "良好", "pass": "合格", "fail": "不合格"}


def grade_of(score: float) -> Grade:
    """SPEC §8.3: excellent ≥ 90, good ≥ 75, pass ≥ 60, fail below."""
    if score >= 90:
        return Grade.excellent
    if score >= 75:
        return Grade.good
    if score >= 60:
        return Grade.pass_
    return Grade.fail


class Assessment(RecordFields, table=True):
    """One assessment run over a period; its scores are frozen when computed (recomputing makes a new one)."""

    __table_args__ = ({"sqlite_autoincrement": True},)

    period: str = Field(sa_column=Column(String(20), nullable=False, index=True))
    starts_on: CalendarDate = Field(sa_column=Column(Date, nullable=False))
    ends_on: CalendarDate = Field(sa_column=Column(Date, nullable=False))  # exclusive
    # The specialists asked for (null: every specialist), and the targets the parts were computed with.
    expert_ids: list[int] | None = Field(default=None, sa_column=Column(JSON))
    parameters: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    external_id: str | None = Field(default=None, sa_column=Column(String(100), unique=True))


class AssessmentScore(SQLModel, table=True):
    """One specialist's score in one assessment: the parts, the computed total, and the (possibly adjusted) score."""

    __tablename__ = "assessment_score"
    __table_args__ = (
        Index("uq_assessment_score_expert", "assessment_id", "expert_id", unique=True),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(
        sa_column=Column(Integer, ForeignKey("assessment.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    expert_id: int = Field(
        sa_column=Column(Integer, ForeignKey("expert.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    parts: dict[str, float] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    figures: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    computed_score: float | None = Field(default=None, sa_column=Column(Float))
    score: float | None = Field(default=None, sa_column=Column(Float))
    grade: str | None = Field(default=None, sa_column=Column(String(20), index=True))
    adjusted_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    adjust_reason: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True), nullable=False)


# A new or adjusted grade changes the specialist's soft matching factor: the matcher reloads their profile.
track_changes(AssessmentScore, lambda s: [("expert", s.expert_id)])


PERIOD_PATTERN = r"^[0-9]{4}(-(0[1-9]|1[0-2]|Q[1-4]|H[12]))?$"
Period = Annotated[
    str,
    PydanticField(
        pattern=PERIOD_PATTERN,
        description="a year (2025), half (2025-H1), quarter (2025-Q3) or month (2025-07)",
        examples=["2025"],
    ),
]
Reason = _text(2000, 1)
ScoreValue = Annotated[float, PydanticField(ge=0, le=100, allow_inf_nan=False)]


class AssessmentCreate(RequestModel):
    """Compute an assessment over a period for the given specialists (every specialist when omitted)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"period": "2025"}, {"period": "2025-H2", "expert_ids": [3, 7]}]},
    )

    period: Period
    expert_ids: Annotated[list[RecordId], PydanticField(min_length=1, max_length=10_000)] | None = None


class ScoreAdjust(RequestModel):
    """An administrator's adjustment: the new score and why (kept in the audit trail)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"score": 78, "reason": "驻场服务获省厅通报表扬，酌情加分"}]}
    )

    score: ScoreValue
    reason: Reason  # type: ignore[valid-type]


class PartDefinition(SQLModel):
    name: str
    max_points: float
    description: str


class ScorePublic(SQLModel):
    expert_id: int
    assessed: bool = PydanticField(description="false when the specialist served no engagement in the period")
    parts: dict[str, float] = PydanticField(description="points per part (see the assessment's `parts`)")
    figures: dict[str, Any] = PydanticField(description="the data each part was computed from")
    computed_score: float | None
    score: float | None = PydanticField(description="the computed score, or the administrator's adjustment")
    grade: Grade | None
    adjusted: bool
    adjusted_at: UtcDateTime | None
    adjust_reason: str | None


class ScorePage(SQLModel):
    items: list[ScorePublic]
    total: int
    limit: int
    offset: int


class AssessmentPublic(PublicRecord):
    period: str
    starts_on: CalendarDate
    ends_on: CalendarDate = PydanticField(description="first day after the period")
    experts: int = PydanticField(description="specialists in the assessment")
    grades: dict[str, int] | None = PydanticField(description="specialists per grade (administrators only)")
    parts: list[PartDefinition]
    parameters: dict[str, Any]
    scores: ScorePage


class AssessmentStats(SQLModel):
    """The latest assessment's figures for /stats."""

    id: int
    period: str
    created_at: UtcDateTime
    experts: int
    grades: dict[str, int] = PydanticField(description="specialists per grade, and those not assessed")
    mean_score: float | None = PydanticField(description="mean score of the assessed specialists")
