"""Plain records the matching library works on: no ORM, no I/O, built by callers from whatever store they use."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Origin = Literal["in_province", "out_of_province", "foreign"]
InstitutionType = Literal["university", "research_institute", "service_agency", "enterprise", "other"]


@dataclass(frozen=True, slots=True)
class ExpertProfile:
    """One specialist as the matcher sees them: text fields plus the attributes the constraints read."""

    id: int
    name: str = ""
    title: str = ""
    institution: str = ""
    institution_type: InstitutionType = "other"
    origin: Origin = "in_province"
    region: str = ""
    fields: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    bio: str = ""
    achievements: str = ""
    capacity: int = 2
    load: int = 0
    travels: bool = True
    active: bool = True
    conflicts: frozenset[int] = field(default_factory=frozenset)
    mean_rating: float | None = None
    engaged: frozenset[int] = field(default_factory=frozenset)  # demands they are offered or active on
    last_grade: str | None = None  # excellent | good | pass | fail in their latest periodic assessment


@dataclass(frozen=True, slots=True)
class DemandProfile:
    """One enterprise demand as the matcher sees it."""

    id: int
    enterprise_id: int
    title: str
    description: str = ""
    keywords: tuple[str, ...] = ()
    industry: str = ""
    region: str = ""
    on_site: bool = False
    headcount: int = 1
    filled: int = 0
    accepted_origins: frozenset[str] = field(default_factory=frozenset)
