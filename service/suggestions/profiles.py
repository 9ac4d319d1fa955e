"""Stored records turned into the matching library's plain profiles, with their live load and ratings."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from pydantic import TypeAdapter
from sqlmodel import Session, col, func, select

from matching.records import DemandProfile, ExpertProfile
from service.common import Contact
from service.demands.models import Demand, DemandStatus
from service.engagements.models import LIVE_STATUSES, Engagement, EngagementStatus
from service.enterprises.models import Enterprise
from service.experts.models import Expert

CHUNK = 5000  # ids per IN (...) list: well under every driver's parameter limit


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _live_counts(db_session: Session, column: Any, ids: list[int] | None) -> dict[int, int]:
    """Offered + active engagements per specialist or demand (all of them when `ids` is None)."""
    out: dict[int, int] = {}
    for part in [None] if ids is None else _chunks(ids):
        query = select(column, func.count()).where(col(Engagement.status).in_(LIVE_STATUSES))
        if part is not None:
            query = query.where(column.in_(part))
        out.update({int(k): int(n) for k, n in db_session.exec(query.group_by(column)).all()})
    return out


def _live_demands(db_session: Session, expert_ids: list[int] | None) -> dict[int, set[int]]:
    """The demands each specialist holds a live (offered or active) engagement on; their count is the load."""
    out: dict[int, set[int]] = {}
    for part in [None] if expert_ids is None else _chunks(expert_ids):
        query = select(Engagement.expert_id, Engagement.demand_id).where(col(Engagement.status).in_(LIVE_STATUSES))
        if part is not None:
            query = query.where(col(Engagement.expert_id).in_(part))
        for expert_id, demand_id in db_session.exec(query).all():
            out.setdefault(int(expert_id), set()).add(int(demand_id))
    return out


def _mean_ratings(db_session: Session, ids: list[int] | None) -> dict[int, float]:
    """Each specialist's mean enterprise rating over completed, rated engagements."""
    out: dict[int, float] = {}
    for part in [None] if ids is None else _chunks(ids):
        query = select(Engagement.expert_id, func.avg(Engagement.rating)).where(
            Engagement.status == EngagementStatus.completed.value, col(Engagement.rating).is_not(None)
        )
        if part is not None:
            query = query.where(col(Engagement.expert_id).in_(part))
        out.update({int(k): float(v) for k, v in db_session.exec(query.group_by(Engagement.expert_id)).all()})
    return out


def _last_grades(db_session: Session, ids: list[int] | None) -> dict[int, str]:
    """Each specialist's grade in their latest periodic assessment (SPEC §8.3)."""
    from service.assessments.service import last_grades

    out: dict[int, str] = {}
    for part in [None] if ids is None else _chunks(ids):
        out.update(last_grades(db_session, part))
    return out


def expert_profile(
    expert: Expert, *, engaged: Iterable[int] = (), mean_rating: float | None = None, last_grade: str | None = None
) -> ExpertProfile:
    """One specialist as the matcher sees them (their load is the number of demands they are engaged on)."""
    engaged = frozenset(engaged)
    return ExpertProfile(
        id=expert.id,  # type: ignore[arg-type]
        name=expert.name,
        title=expert.title,
        institution=expert.institution,
        institution_type=expert.institution_type,  # type: ignore[arg-type]
        origin=expert.origin,  # type: ignore[arg-type]
        region=expert.region,
        fields=tuple(expert.fields or ()),
        keywords=tuple(expert.keywords or ()),
        bio=expert.bio,
        achievements=expert.achievements,
        capacity=expert.capacity,
        load=len(engaged),
        travels=expert.travels,
        active=expert.active,
        conflicts=frozenset(expert.conflicts or ()),
        mean_rating=mean_rating,
        engaged=engaged,
        last_grade=last_grade,
    )


def demand_profile(demand: Demand, *, filled: int = 0) -> DemandProfile:
    """One demand as the matcher sees it."""
    return DemandProfile(
        id=demand.id,  # type: ignore[arg-type]
        enterprise_id=demand.enterprise_id,
        title=demand.title,
        description=demand.description,
        keywords=tuple(demand.keywords or ()),
        industry=demand.industry,
        region=demand.region,
        on_site=demand.on_site,
        headcount=demand.headcount,
        filled=filled,
        accepted_origins=frozenset(demand.accepted_origins or ()),
    )


def load_experts(db_session: Session, ids: list[int] | None = None) -> dict[int, ExpertProfile]:
    """Profiles of these specialists (every one when `ids` is None) with fresh load and ratings; absent ids
    are missing from the answer."""
    rows: list[Expert] = []
    for part in [None] if ids is None else _chunks(sorted(set(ids))):
        query = select(Expert).order_by(col(Expert.id))
        if part is not None:
            query = query.where(col(Expert.id).in_(part))
        rows.extend(db_session.exec(query).all())
    wanted = None if ids is None else [e.id for e in rows]
    engaged = _live_demands(db_session, wanted)  # type: ignore[arg-type]
    ratings = _mean_ratings(db_session, wanted)  # type: ignore[arg-type]
    grades = _last_grades(db_session, wanted)  # type: ignore[arg-type]
    return {
        e.id: expert_profile(  # type: ignore[misc]
            e, engaged=engaged.get(e.id, ()), mean_rating=ratings.get(e.id), last_grade=grades.get(e.id)
        )
        for e in rows
    }


def load_open_demands(db_session: Session, ids: list[int] | None = None) -> dict[int, DemandProfile]:
    """Profiles of these demands (every one when `ids` is None) that are open, with fresh filled counts; others
    are missing from the answer."""
    rows: list[Demand] = []
    for part in [None] if ids is None else _chunks(sorted(set(ids))):
        query = select(Demand).where(Demand.status == DemandStatus.open.value).order_by(col(Demand.id))
        if part is not None:
            query = query.where(col(Demand.id).in_(part))
        rows.extend(db_session.exec(query).all())
    wanted = None if ids is None else [d.id for d in rows]
    filled = _live_counts(db_session, col(Engagement.demand_id), wanted)  # type: ignore[arg-type]
    return {d.id: demand_profile(d, filled=filled.get(d.id, 0)) for d in rows}  # type: ignore[misc]


_contact = TypeAdapter(Contact | None)


class EnterpriseCard(NamedTuple):
    """What a specialist's suggestion shows of a demand's enterprise: its name, and its contact JSON when set."""

    name: str
    contact: bytes | None


def contact_json(raw: Any) -> bytes | None:
    """A stored contact as the API renders it (None when there is none)."""
    if raw is None:
        return None
    return _contact.dump_json(_contact.validate_python(raw))


def load_expert_contacts(db_session: Session, ids: list[int] | None = None) -> dict[int, bytes | None]:
    """Specialists' contacts as JSON (every specialist when `ids` is None); absent ids are missing."""
    out: dict[int, bytes | None] = {}
    for part in [None] if ids is None else _chunks(sorted(set(ids))):
        query = select(Expert.id, Expert.contact)
        if part is not None:
            query = query.where(col(Expert.id).in_(part))
        out.update({int(i): contact_json(c) for i, c in db_session.exec(query).all()})
    return out


def load_enterprise_cards(db_session: Session, ids: list[int]) -> dict[int, EnterpriseCard]:
    """These enterprises' names and contacts; absent ids are missing."""
    out: dict[int, EnterpriseCard] = {}
    for part in _chunks(sorted(set(ids))):
        rows = db_session.exec(
            select(Enterprise.id, Enterprise.name, Enterprise.contact).where(col(Enterprise.id).in_(part))
        ).all()
        out.update({int(i): EnterpriseCard(name, contact_json(c)) for i, name, c in rows})
    return out
