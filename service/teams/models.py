"""Teams of specialists (SPEC §8.4): a lead and members, matched and selected as one specialist; API schemas."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic import Field as PydanticField
from sqlalchemy import JSON, Column, ForeignKey, Integer, String, Text
from sqlmodel import Field, SQLModel

from service.common import (
    ExternalId,
    LongText,
    Name,
    PublicRecord,
    RecordFields,
    RecordId,
    RequestModel,
    TermList,
    dedupe,
)
from service.demands.models import Origin
from service.experts.models import InstitutionType
from service.suggestions.models import DemandSummary, Evidence, SuggestionFields

MAX_MEMBERS = 20

# The lead is one of the members; a team is a lead and at least one other specialist. Repeats are refused (the
# schema says uniqueItems), not silently dropped: a body naming a specialist twice is a mistake worth telling.
MemberIds = Annotated[
    list[RecordId],
    PydanticField(min_length=2, max_length=MAX_MEMBERS, json_schema_extra={"uniqueItems": True}),
]

# Who the team is made of, and so whose capacity and conflicts it carries: administrators only.
ADMIN_ONLY_FIELDS = frozenset({"lead_expert_id", "member_ids", "external_id"})


class Team(RecordFields, table=True):
    """A team of specialists: its own profile text; its members (the lead among them) are `TeamMember` rows."""

    # Never reuse a deleted team's id on SQLite: past engagements and the audit trail keep it.
    __table_args__ = ({"sqlite_autoincrement": True},)

    name: str = Field(sa_column=Column(String(200), nullable=False))
    # A specialist who leads a team cannot be deleted (409 expert-leads-team): the team's capacity is theirs.
    lead_expert_id: int = Field(sa_column=Column(Integer, ForeignKey("expert.id"), nullable=False, index=True))
    fields: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    keywords: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    bio: str = Field(default="", sa_column=Column(Text, nullable=False))
    external_id: str | None = Field(default=None, sa_column=Column(String(100), unique=True))


class TeamMember(SQLModel, table=True):
    """One specialist's membership of one team (the lead has a row too); gone with the team or the specialist."""

    __tablename__ = "team_member"

    team_id: int = Field(
        sa_column=Column(Integer, ForeignKey("team.id", ondelete="CASCADE"), primary_key=True, nullable=False)
    )
    expert_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("expert.id", ondelete="CASCADE"), primary_key=True, nullable=False, index=True
        )
    )
    # The order the administrator listed the members in (the lead's position included).
    position: int = Field(default=0, nullable=False)


def _no_repeats(values: list[int] | None) -> list[int] | None:
    if values is None:
        return None
    seen: set[int] = set()
    twice = [v for v in values if v in seen or seen.add(v)]  # type: ignore[func-returns-value]
    if twice:
        raise ValueError(f"lists specialist {', '.join(map(str, dedupe(twice)))} more than once")
    return values


class TeamFields(RequestModel):
    """Validation shared by create and update."""

    @field_validator("member_ids", check_fields=False)
    @classmethod
    def _members_once(cls, values: list[int] | None) -> list[int] | None:
        return _no_repeats(values)

    @field_validator("fields", "keywords", check_fields=False)
    @classmethod
    def _dedupe(cls, values: list | None) -> list | None:
        return dedupe(values) if values is not None else None


_EXAMPLE: dict[str, Any] = {
    "name": "风电装备智能运维服务团队",
    "lead_expert_id": 1,
    "member_ids": [1, 2, 3],
    "fields": ["风电装备", "故障诊断"],
    "keywords": ["齿轮箱", "振动分析", "预测性维护"],
    "bio": "由大连理工大学牵头，联合省内科研院所，为风电企业提供从监测到维修决策的一体化服务。",
}


class TeamCreate(TeamFields):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE]})

    name: Name  # type: ignore[valid-type]
    lead_expert_id: RecordId
    member_ids: MemberIds
    fields: TermList = []
    keywords: TermList = []
    bio: LongText = ""  # type: ignore[valid-type]
    external_id: ExternalId | None = None  # type: ignore[valid-type]


class TeamUpdate(TeamFields):
    """Every field optional: PATCH changes only what it names (member_ids replaces the whole list)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"keywords": ["齿轮箱", "轴承", "数字孪生"]}]}
    )

    name: Name = None  # type: ignore[valid-type]
    lead_expert_id: RecordId = None  # type: ignore[assignment]
    member_ids: MemberIds = None  # type: ignore[assignment]
    fields: TermList = None  # type: ignore[assignment]
    keywords: TermList = None  # type: ignore[assignment]
    bio: LongText = None  # type: ignore[valid-type]
    external_id: ExternalId | None = None  # type: ignore[valid-type]


class TeamMemberPublic(SQLModel):
    """A member's public profile summary (no contact details: those follow the specialist's own rules)."""

    expert_id: int
    name: str
    institution: str
    institution_type: InstitutionType
    title: str
    region: str
    origin: Origin
    active: bool
    is_lead: bool


class TeamPublic(PublicRecord):
    name: str
    lead_expert_id: int
    member_ids: list[int]
    members: list[TeamMemberPublic]
    fields: list[str]
    keywords: list[str]
    bio: str
    capacity: int = PydanticField(description="the lead's capacity: a team's engagements count against it")
    load: int = PydanticField(description="the lead's offered, approving and active engagements, solo or as lead")
    active: bool = PydanticField(description="true when every member is active (else the team cannot be selected)")


# --- suggestions -------------------------------------------------------------------------------------------------


class MemberMatch(BaseModel):
    """How one member's own profile matches the demand: the answer to "which member's profile matched"."""

    expert_id: int
    name: str
    is_lead: bool
    text: float = PydanticField(description="the member's own text relevance to the demand, in [0, 1]")
    matched_terms: list[str] = PydanticField(description="the demand's words the member's profile covers best")
    evidence: Evidence | None = PydanticField(description="the piece of the member's profile that matched best")


class TeamSummary(BaseModel):
    id: int
    name: str
    lead_expert_id: int
    member_ids: list[int]


class _TeamMatch(BaseModel):
    matched_member_id: int | None = PydanticField(
        description="the member whose own profile matches the demand best (null: only the team's own text did)"
    )
    members: list[MemberMatch] = PydanticField(description="every member's own match, best first")


class _TeamId(BaseModel):
    team_id: int
    expert_id: int = PydanticField(description="the team's lead: a team's engagement is on the lead's capacity")


class _DemandId(BaseModel):
    demand_id: int
    team_id: int


# The id base comes last so that its fields come first in the JSON (pydantic orders fields by reversed MRO).
class TeamSuggestion(_TeamMatch, SuggestionFields, _TeamId):
    """A team suggested for a demand, scored as one specialist over its combined profile."""

    team: TeamSummary


class TeamDemandSuggestion(_TeamMatch, SuggestionFields, _DemandId):
    """An open demand suggested to a team."""

    demand: DemandSummary
