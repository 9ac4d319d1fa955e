"""Suggestion items as the API returns them."""

from __future__ import annotations

from pydantic import BaseModel, Field

from service.common import Contact
from service.demands.models import Origin
from service.experts.models import InstitutionType


class Reason(BaseModel):
    """One reason in plain words, in Chinese and English, with a stable code."""

    code: str
    zh: str
    en: str


class Evidence(BaseModel):
    """The piece of the specialist's profile that matched the demand best."""

    field: str = Field(description="fields, keywords, title, bio or achievements")
    index: int = Field(description="which item or sentence of that field (0-based)")
    text: str
    score: float


class SuggestionFields(BaseModel):
    """What every suggestion carries, whichever side asked."""

    score: float = Field(description="text relevance scaled by the soft factors (topic fit first), in [0, 1]")
    components: dict[str, float] = Field(description="text, industry, proximity, origin, capacity, rating")
    matched_terms: list[str] = Field(description="the query side's words that contributed most to text relevance")
    missing_keywords: list[str] = Field(description="the demand's keywords the specialist's profile does not cover")
    evidence: Evidence | None
    reasons: list[Reason] = Field(
        description="why the pair ranks where it does: the hard rules it breaks first (when excluded), then each "
        "soft factor"
    )
    excluded: bool = Field(description="true when a hard rule forbids the pair (listed only with include_excluded)")
    exclusions: list[Reason] = Field(description="the hard rules an excluded pair breaks (empty otherwise)")


class ExpertSummary(BaseModel):
    """The specialist's public profile summary; contact only for those entitled (SPEC 6.3)."""

    id: int
    name: str
    institution: str
    institution_type: InstitutionType
    title: str
    region: str
    origin: Origin
    contact: Contact | None = None


class DemandSummary(BaseModel):
    """The demand and its enterprise; the enterprise's contact only for those entitled (SPEC 6.3)."""

    id: int
    title: str
    enterprise_id: int
    enterprise_name: str
    region: str
    industry: str
    on_site: bool
    headcount: int
    contact: Contact | None = None


class _ExpertId(BaseModel):
    expert_id: int


class _DemandId(BaseModel):
    demand_id: int


# The id base comes last so that its field comes first in the JSON (pydantic orders fields by reversed MRO).
class ExpertSuggestion(SuggestionFields, _ExpertId):
    """A specialist suggested for a demand."""

    expert: ExpertSummary


class DemandSuggestion(SuggestionFields, _DemandId):
    """An open demand suggested to a specialist."""

    demand: DemandSummary
