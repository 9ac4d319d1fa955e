"""Engagements (one specialist serving one demand), their service logs, mutual-selection interests, and API schemas."""

from __future__ import annotations

from datetime import date as CalendarDate
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, model_validator
from pydantic import Field as PydanticField
from pydantic_core import PydanticCustomError
from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlmodel import Field, SQLModel

from service.common import PublicRecord, RecordFields, RecordId, RequestModel, UtcDateTime, _text, track_changes, utcnow


class EngagementMode(StrEnum):
    enterprise_selection = "enterprise_selection"
    mutual_selection = "mutual_selection"
    round = "round"
    open_call = "open_call"


class EngagementStatus(StrEnum):
    offered = "offered"
    approving = "approving"
    active = "active"
    completed = "completed"
    declined = "declined"
    terminated = "terminated"


# The lifecycle of SPEC §2; anything else answers 409 naming both states.
TRANSITIONS: dict[EngagementStatus, frozenset[EngagementStatus]] = {
    EngagementStatus.offered: frozenset(
        {EngagementStatus.active, EngagementStatus.approving, EngagementStatus.declined}
    ),
    # Waiting for the specialist's dispatching unit (SPEC §7.2): approve → active, reject → declined.
    EngagementStatus.approving: frozenset({EngagementStatus.active, EngagementStatus.declined}),
    EngagementStatus.active: frozenset({EngagementStatus.completed, EngagementStatus.terminated}),
    EngagementStatus.completed: frozenset(),
    EngagementStatus.declined: frozenset(),
    EngagementStatus.terminated: frozenset(),
}

# Live engagements count against a specialist's capacity and a demand's headcount (and one per pair, and the
# deletion guards); `approving` is live (SPEC §7): the unit's approval only turns an agreed dispatch active.
LIVE_STATUSES: tuple[str, ...] = (
    EngagementStatus.offered.value,
    EngagementStatus.approving.value,
    EngagementStatus.active.value,
)
LIVE_SQL = "status IN ('offered', 'approving', 'active')"
_LIVE_SQL = text(LIVE_SQL)


class InterestSide(StrEnum):
    """Who expressed the interest: the demand's enterprise (in a specialist) or the specialist (in a demand)."""

    enterprise = "enterprise"
    expert = "expert"


class Engagement(RecordFields, table=True):
    """One specialist serving one demand.

    Past engagements (declined, completed, terminated) are deleted with their demand or specialist by the database
    (ON DELETE CASCADE); a record with live ones cannot be deleted. Their history stays in the audit trail.
    """

    __table_args__ = (
        # The database's own backstop for "one live engagement per pair"; the service checks first, under locks.
        Index(
            "uq_engagement_live_pair",
            "demand_id",
            "expert_id",
            unique=True,
            postgresql_where=_LIVE_SQL,
            sqlite_where=_LIVE_SQL,
        ),
        CheckConstraint("rating IS NULL OR (rating >= 1 AND rating <= 5)", name="rating_range"),
        # Never reuse the id of a deleted row on SQLite: the audit trail refers to engagements by id.
        {"sqlite_autoincrement": True},
    )

    demand_id: int = Field(
        sa_column=Column(Integer, ForeignKey("demand.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    expert_id: int = Field(
        sa_column=Column(Integer, ForeignKey("expert.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    # The demand's enterprise, copied (a demand never changes hands) so parties' views need no join.
    enterprise_id: int = Field(
        sa_column=Column(Integer, ForeignKey("enterprise.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    mode: str = Field(sa_column=Column(String(30), nullable=False, index=True))
    status: str = Field(sa_column=Column(String(20), nullable=False, index=True))
    score: float | None = Field(default=None, sa_column=Column(Float))
    started_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    ended_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    # Set by the rounds and assignments workflows that created the engagement (their tables come in 0003).
    round_id: int | None = Field(default=None, sa_column=Column(Integer, index=True))
    assignment_id: int | None = Field(default=None, sa_column=Column(Integer, index=True))
    rating: int | None = Field(default=None, sa_column=Column(Integer))
    rating_comment: str | None = Field(default=None, sa_column=Column(Text))
    rated_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    external_id: str | None = Field(default=None, sa_column=Column(String(100), unique=True))
    # SPEC §7.2: the specialist's unit when the engagement was made (it approves), and each party's agreement.
    unit_id: int | None = Field(default=None, sa_column=Column(Integer, index=True))
    expert_approved_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    enterprise_approved_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    unit_approved_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    # SPEC §7.3: the bid an open-call award turned into this engagement.
    bid_id: int | None = Field(default=None, sa_column=Column(Integer, index=True))
    # SPEC §8.4: the team selected as one specialist; `expert_id` is then its lead (whose capacity it uses). No
    # foreign key, like round_id: a deleted team's past engagements keep the id as history.
    team_id: int | None = Field(default=None, sa_column=Column(Integer, index=True))


class EngagementLog(SQLModel, table=True):
    """One service log entry written by (or for) the specialist of an active engagement."""

    __tablename__ = "engagement_log"
    __table_args__ = (CheckConstraint("hours > 0 AND hours <= 24", name="hours_range"), {"sqlite_autoincrement": True})

    id: int | None = Field(default=None, primary_key=True)
    engagement_id: int = Field(
        sa_column=Column(Integer, ForeignKey("engagement.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    date: CalendarDate = Field(sa_column=Column(Date, nullable=False))
    hours: float = Field(sa_column=Column(Float, nullable=False))
    summary: str = Field(sa_column=Column(Text, nullable=False))
    author_role: str = Field(sa_column=Column(String(20), nullable=False))
    author_key_id: int | None = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True), nullable=False)


class Interest(SQLModel, table=True):
    """One side's interest in the other (mutual selection); `engagement_id` is set once both sides agree."""

    __table_args__ = (
        # At most one pending interest per direction; matched ones stay as history of how the engagement came about.
        Index(
            "uq_interest_pending",
            "demand_id",
            "expert_id",
            "side",
            unique=True,
            postgresql_where=text("engagement_id IS NULL"),
            sqlite_where=text("engagement_id IS NULL"),
        ),
        # Withdrawn interests are deleted; their ids must not be handed out again (the audit trail uses them).
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    demand_id: int = Field(
        sa_column=Column(Integer, ForeignKey("demand.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    expert_id: int = Field(
        sa_column=Column(Integer, ForeignKey("expert.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    side: str = Field(sa_column=Column(String(20), nullable=False))
    engagement_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("engagement.id", ondelete="CASCADE"), index=True)
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True), nullable=False)


# The matcher's load (per specialist) and filled headcount (per demand) follow engagements.
track_changes(Engagement, lambda e: [("expert", e.expert_id), ("demand", e.demand_id)])


Note = _text(2000)
Summary = _text(2000, 1)
Hours = Annotated[float, PydanticField(gt=0, le=24, allow_inf_nan=False)]
Stars = Annotated[int, PydanticField(ge=1, le=5)]


class SelectionCreate(RequestModel):
    """Enterprise selection: the specialist (`expert_id`) or the team (`team_id`, SPEC §8.4) to offer the demand to,
    exactly one of the two."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [{"required": ["expert_id"]}, {"required": ["team_id"]}],
            "examples": [{"expert_id": 1}, {"team_id": 1}],
        },
    )

    expert_id: RecordId = None  # type: ignore[assignment]
    team_id: RecordId = None  # type: ignore[assignment]

    @model_validator(mode="after")
    def _exactly_one(self) -> SelectionCreate:
        named = [name for name in ("expert_id", "team_id") if getattr(self, name) is not None]
        if len(named) != 1:
            raise PydanticCustomError(
                "exactly_one",
                "name exactly one of expert_id (a specialist) and team_id (a team), not {got}",
                {"got": " and ".join(named) or "neither"},
            )
        return self


class DemandInterestCreate(RequestModel):
    """The demand's enterprise is interested in this specialist."""

    expert_id: RecordId


class ExpertInterestCreate(RequestModel):
    """The specialist is interested in this open demand."""

    demand_id: RecordId


class TransitionNote(RequestModel):
    """An optional reason kept in the audit trail."""

    reason: Note = ""  # type: ignore[valid-type]


class RejectionNote(RequestModel):
    """Why the dispatching unit refuses the dispatch (kept in the audit trail and sent to subscribers)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "该教师本学期教学任务已满"}]})

    reason: Summary  # type: ignore[valid-type]


class Approvals(SQLModel):
    """When each party of the three-party agreement agreed (null: not yet, or not required for the unit)."""

    specialist: UtcDateTime | None
    enterprise: UtcDateTime | None
    unit: UtcDateTime | None


class ServiceLogCreate(RequestModel):
    date: CalendarDate
    hours: Hours
    summary: Summary  # type: ignore[valid-type]


class RatingCreate(RequestModel):
    rating: Stars
    comment: Note = ""  # type: ignore[valid-type]


class EngagementPublic(PublicRecord):
    demand_id: int
    expert_id: int
    enterprise_id: int
    mode: EngagementMode
    status: EngagementStatus
    score: float | None
    started_at: UtcDateTime | None
    ended_at: UtcDateTime | None
    round_id: int | None
    assignment_id: int | None
    rating: int | None
    rating_comment: str | None
    rated_at: UtcDateTime | None
    unit_id: int | None = None
    bid_id: int | None = None
    team_id: int | None = None
    approvals: Approvals | None = None


class ServiceLogPublic(SQLModel):
    id: int
    engagement_id: int
    date: CalendarDate
    hours: float
    summary: str
    author_role: str
    created_at: UtcDateTime


class InterestPublic(SQLModel):
    id: int
    demand_id: int
    expert_id: int
    side: InterestSide
    status: str  # "pending" until the other side agrees, then "matched"
    engagement_id: int | None
    created_at: UtcDateTime


class InterestResult(SQLModel):
    """The answer to an interest: the interest, and the engagement when it completed a mutual selection."""

    interest: InterestPublic
    engagement: EngagementPublic | None
