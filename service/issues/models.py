"""The issue ledger (问题清单): problems an enterprise raises on a live engagement, the specialist's answers, and
the enterprise's confirmation with a satisfaction score."""

from __future__ import annotations

from datetime import date as CalendarDate
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict
from pydantic import Field as PydanticField
from sqlalchemy import Boolean, CheckConstraint, Column, Date, DateTime, ForeignKey, Integer, String, Text
from sqlmodel import Field, SQLModel

from service.common import PublicRecord, RecordFields, RequestModel, UtcDateTime, _text, utcnow


class IssueStatus(StrEnum):
    open = "open"
    answered = "answered"
    resolved = "resolved"
    confirmed = "confirmed"


# Still waiting on the specialist: these are the issues that can be overdue.
UNRESOLVED: tuple[str, ...] = (IssueStatus.open.value, IssueStatus.answered.value)
# The specialist has resolved it (the enterprise may still confirm or reopen).
RESOLVED: tuple[str, ...] = (IssueStatus.resolved.value, IssueStatus.confirmed.value)


class Issue(RecordFields, table=True):
    """One problem raised by the enterprise on an engagement; deleted with the engagement (its history stays in the
    audit trail)."""

    __table_args__ = (
        CheckConstraint("satisfaction IS NULL OR (satisfaction >= 1 AND satisfaction <= 5)", name="satisfaction_range"),
        {"sqlite_autoincrement": True},
    )

    engagement_id: int = Field(
        sa_column=Column(Integer, ForeignKey("engagement.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    # Copied from the engagement (which never changes parties) so that filters and access checks need no join.
    enterprise_id: int = Field(sa_column=Column(Integer, nullable=False, index=True))
    expert_id: int = Field(sa_column=Column(Integer, nullable=False, index=True))
    demand_id: int = Field(sa_column=Column(Integer, nullable=False))
    title: str = Field(sa_column=Column(String(200), nullable=False))
    description: str = Field(sa_column=Column(Text, nullable=False))
    due_date: CalendarDate | None = Field(default=None, sa_column=Column(Date, index=True))
    status: str = Field(sa_column=Column(String(20), nullable=False, index=True))
    answered_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    resolved_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    confirmed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    satisfaction: int | None = Field(default=None, sa_column=Column(Integer))
    confirm_comment: str | None = Field(default=None, sa_column=Column(Text))
    reopened: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    external_id: str | None = Field(default=None, sa_column=Column(String(100), unique=True))


class IssueResponse(SQLModel, table=True):
    """One answer by (or for) the specialist; `resolved` says whether it claims the problem solved."""

    __tablename__ = "issue_response"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: int | None = Field(default=None, primary_key=True)
    issue_id: int = Field(
        sa_column=Column(Integer, ForeignKey("issue.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    summary: str = Field(sa_column=Column(Text, nullable=False))
    resolved: bool = Field(sa_column=Column(Boolean, nullable=False))
    author_role: str = Field(sa_column=Column(String(20), nullable=False))
    author_key_id: int | None = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True), nullable=False)


Title = _text(200, 1)
Description = _text(20_000, 1)
Summary = _text(20_000, 1)
Comment = _text(2000)
Satisfaction = Annotated[int, PydanticField(ge=1, le=5)]


class IssueCreate(RequestModel):
    """A problem the enterprise raises on one of its live engagements."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "诊断模型在3号机组误报",
                    "description": "上线两周后3号机组仍有约12%的误报，请分析原因。",
                    "due_date": "2026-12-31",
                }
            ]
        },
    )

    title: Title  # type: ignore[valid-type]
    description: Description  # type: ignore[valid-type]
    due_date: CalendarDate | None = None


class IssueResponseCreate(RequestModel):
    """The specialist's answer; `resolved: true` claims the problem solved (the enterprise then confirms or reopens)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"summary": "已重新标定3号机组传感器并更新阈值，误报率降至4%。", "resolved": True}]
        },
    )

    summary: Summary  # type: ignore[valid-type]
    resolved: bool


class IssueConfirm(RequestModel):
    """The enterprise confirms a resolved issue with its satisfaction (1–5)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"satisfaction": 5, "comment": "问题已解决"}]}
    )

    satisfaction: Satisfaction
    comment: Comment = ""  # type: ignore[valid-type]


class IssueReopen(RequestModel):
    """The enterprise reopens a resolved issue, saying why."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "误报再次出现"}]})

    reason: Comment = ""  # type: ignore[valid-type]


class IssueResponsePublic(SQLModel):
    id: int
    issue_id: int
    summary: str
    resolved: bool
    author_role: str
    created_at: UtcDateTime


class IssuePublic(PublicRecord):
    engagement_id: int
    enterprise_id: int
    expert_id: int
    demand_id: int
    title: str
    description: str
    due_date: CalendarDate | None
    status: IssueStatus
    overdue: bool = PydanticField(description="due date passed (UTC date) and the issue is still open or answered")
    answered_at: UtcDateTime | None
    resolved_at: UtcDateTime | None
    confirmed_at: UtcDateTime | None
    satisfaction: int | None
    confirm_comment: str | None
    reopened: int = PydanticField(description="how many times the enterprise reopened it")
    responses: list[IssueResponsePublic]


class IssueStats(SQLModel):
    """The issue ledger's figures for /stats."""

    raised: int = PydanticField(description="issues ever raised (still stored)")
    by_status: dict[str, int]
    resolved: int = PydanticField(description="issues resolved or confirmed")
    overdue: int = PydanticField(description="past due (UTC date) and still open or answered")
    median_days_to_resolve: float | None = PydanticField(
        description="median days from raising to the (latest) resolution, over resolved and confirmed issues"
    )
    mean_satisfaction: float | None = PydanticField(description="mean satisfaction (1–5) of confirmed issues")
