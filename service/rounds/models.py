"""Mutual-selection rounds: the round, its members with their rank lists, and the API schemas."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, ConfigDict, computed_field, model_validator
from pydantic import Field as PydanticField
from sqlalchemy import JSON, CheckConstraint, Column, DateTime, ForeignKey, Index, Integer, String
from sqlmodel import Field, SQLModel

from service.common import Name, PublicRecord, RecordFields, RecordId, RequestModel, UtcDateTime, _as_utc, dedupe

MAX_MEMBERS = 5000  # per side; a rank list is at most as long as the other side


class RoundStatus(StrEnum):
    open = "open"
    closed = "closed"


class Proposing(StrEnum):
    experts = "experts"
    demands = "demands"


class RoundSide(StrEnum):
    demand = "demand"
    expert = "expert"


class Round(RecordFields, table=True):
    """A mutual-selection round over a fixed set of demands and specialists; closing stores its result."""

    __tablename__ = "round"

    name: str = Field(sa_column=Column(String(200), nullable=False))
    status: str = Field(default=RoundStatus.open.value, sa_column=Column(String(20), nullable=False, index=True))
    proposing: str = Field(default=Proposing.experts.value, sa_column=Column(String(10), nullable=False))
    deadline: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    closed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # SPEC §7.4: the closed round whose leftovers this supplementary round offers again.
    supplementary_of: int | None = Field(default=None, sa_column=Column(Integer, index=True))


class RoundMember(SQLModel, table=True):
    """One demand or one specialist taking part in a round, with its rank list once submitted."""

    __tablename__ = "round_member"
    __table_args__ = (
        CheckConstraint("(demand_id IS NULL) <> (expert_id IS NULL)", name="one_party"),
        # NULLs are distinct in unique indexes on both databases, so each side is unique on its own column.
        Index("uq_round_member_demand", "round_id", "demand_id", unique=True),
        Index("uq_round_member_expert", "round_id", "expert_id", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(sa_column=Column(Integer, ForeignKey("round.id", ondelete="CASCADE"), nullable=False))
    # A deleted demand or specialist leaves the round (its result keeps the ids).
    demand_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("demand.id", ondelete="CASCADE"), index=True)
    )
    expert_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("expert.id", ondelete="CASCADE"), index=True)
    )
    # Ids of the other side, most preferred first; None until submitted (then nobody is acceptable).
    ranking: list[int] | None = Field(default=None, sa_column=Column(JSON))
    ranked_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))

    @property
    def side(self) -> RoundSide:
        return RoundSide.demand if self.demand_id is not None else RoundSide.expert

    @property
    def party_id(self) -> int:
        return self.demand_id if self.demand_id is not None else self.expert_id  # type: ignore[return-value]


def _naive_is_utc(value: datetime | None) -> datetime | None:
    return _as_utc(value) if value is not None else None


MemberIds = Annotated[list[RecordId], PydanticField(min_length=1, max_length=MAX_MEMBERS), AfterValidator(dedupe)]
Ranking = Annotated[list[RecordId], PydanticField(max_length=MAX_MEMBERS)]


class RoundCreate(RequestModel):
    """Open a round: its members on both sides, an optional deadline for rank lists, and who proposes."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "2025年第一批双选",
                    "demand_ids": [1, 2],
                    "expert_ids": [3, 4, 5],
                    "deadline": "2027-01-15T10:00:00Z",
                },
                {"name": "第一批补充轮次", "supplementary_of": 1, "deadline": "2027-01-25T10:00:00Z"},
            ]
        },
    )

    name: Name  # type: ignore[valid-type]
    demand_ids: MemberIds | None = None
    expert_ids: MemberIds | None = None
    supplementary_of: RecordId | None = PydanticField(
        default=None,
        description="a closed round: its demands with open headcount and specialists with free capacity join",
    )
    deadline: Annotated[datetime | None, AfterValidator(_naive_is_utc)] = PydanticField(
        default=None, description="rank lists are refused after this instant (ISO 8601; without an offset, UTC)"
    )
    proposing: Proposing = Proposing.experts

    @model_validator(mode="after")
    def _members_or_supplementary(self) -> RoundCreate:
        if self.supplementary_of is None:
            missing = [n for n in ("demand_ids", "expert_ids") if getattr(self, n) is None]
            if missing:
                raise ValueError(f"give {' and '.join(missing)} (or supplementary_of, a closed round)")
        elif self.demand_ids is not None or self.expert_ids is not None:
            raise ValueError(
                "a supplementary round takes its members from the closed round: omit demand_ids/expert_ids"
            )
        return self


class RoundPair(SQLModel):
    demand_id: int
    expert_id: int
    engagement_id: int | None = None
    demand_rank: int = PydanticField(description="1-based place of the specialist in the demand's rank list")
    expert_rank: int = PydanticField(description="1-based place of the demand in the specialist's rank list")
    score: float | None = PydanticField(default=None, description="the matcher's score for the pair at closing")


class PairProblem(SQLModel):
    """A ranked pair that could not be matched or engaged, and why."""

    demand_id: int
    expert_id: int
    code: str
    detail: str


class BlockingPair(SQLModel):
    demand_id: int
    expert_id: int


class RoundResult(SQLModel):
    """What closing computed and created."""

    proposing: Proposing
    pairs: list[RoundPair]
    unmatched_demands: list[int]
    unmatched_experts: list[int]
    stable: bool
    blocking_pairs: list[BlockingPair]
    ineligible_pairs: list[PairProblem] = PydanticField(
        description="mutually ranked pairs that broke a hard rule at closing and were treated as unacceptable"
    )
    failed_pairs: list[PairProblem] = PydanticField(
        description="matched pairs whose engagement could not be created (they are not in `pairs`)"
    )
    demand_capacity: dict[int, int] = PydanticField(description="open headcount of each demand at closing")
    expert_capacity: dict[int, int] = PydanticField(description="free capacity of each specialist at closing")


class RoundPreferences(SQLModel):
    """Submitted rank lists by party id (a party that has not submitted is absent)."""

    demands: dict[int, list[int]]
    experts: dict[int, list[int]]


class RoundPublic(PublicRecord):
    name: str
    status: RoundStatus
    proposing: Proposing
    deadline: UtcDateTime | None
    closed_at: UtcDateTime | None
    supplementary_of: int | None = None
    demand_ids: list[int]
    expert_ids: list[int]
    preferences: RoundPreferences = PydanticField(
        description="administrators see every rank list, a party only its own"
    )
    result: RoundResult | None = PydanticField(description="set once closed; a party sees only the pairs it is in")

    @computed_field(description="the matched pairs once closed (the same as `result.pairs`); empty while open")
    @property
    def pairs(self) -> list[RoundPair]:
        """SPEC section 5: a closed round carries its pairs at the top level."""
        return self.result.pairs if self.result is not None else []


class RankingPublic(SQLModel):
    round_id: int
    side: RoundSide
    party_id: int
    ranking: list[int]
    ranked_at: UtcDateTime
