"""Suggestions: who may ask for whose, the matcher's ranked pairs, and the other party's public summary.

A demand's suggestions are for administrators and the owning enterprise; a specialist's for administrators and the
specialist. Only an `open` demand has suggestions: any other status answers 409 `demand-not-open` (nobody can be
selected for it, so a ranking would mislead). Specialists are suggested only open demands. Contact details in the
summaries follow SPEC 6.3: administrators, and the other side of a live or past engagement.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from matching.scoring import Suggestion
from service.auth import Principal
from service.demands import service as demands_service
from service.demands.models import Demand, DemandStatus
from service.engagements.models import Engagement
from service.enterprises.models import Enterprise
from service.errors import Conflict, Forbidden
from service.experts import service as experts_service
from service.experts.models import Expert
from service.observability import suggestion_latency_seconds
from service.suggestions.live import LiveMatcher
from service.suggestions.models import (
    DemandSuggestion,
    DemandSummary,
    Evidence,
    ExpertSuggestion,
    ExpertSummary,
    Reason,
)
from service.suggestions.profiles import demand_profile


def _reasons(reasons: list[Any]) -> list[Reason]:
    return [Reason(code=r.code, zh=r.zh, en=r.en) for r in reasons]


def _fields(s: Suggestion) -> dict[str, Any]:
    """The suggestion's own fields in the API's shape."""
    exclusions = _reasons(s.exclusions)
    return {
        "score": s.score,
        "components": s.components,
        "matched_terms": s.matched_terms,
        "missing_keywords": s.missing_keywords,
        "evidence": Evidence(
            field=s.evidence.field, index=s.evidence.index, text=s.evidence.text, score=s.evidence.score
        )
        if s.evidence is not None
        else None,
        "reasons": [*exclusions, *_reasons(s.reasons)],
        "excluded": s.excluded,
        "exclusions": exclusions,
    }


def expert_suggestions(
    *,
    db_session: Session,
    live: LiveMatcher,
    demand_id: int,
    principal: Principal,
    limit: int,
    offset: int,
    include_excluded: bool,
) -> tuple[list[ExpertSuggestion], int]:
    """Ranked specialists for an open demand (administrators and the owning enterprise)."""
    demand = demands_service.get(db_session=db_session, demand_id=demand_id)
    if not (principal.is_admin or principal.is_enterprise(demand.enterprise_id)):
        raise Forbidden("only administrators or the enterprise owning the demand may see its suggestions")
    if demand.status != DemandStatus.open:
        raise Conflict(
            f"demand {demand_id} is '{demand.status}'; only open demands have suggestions",
            code="demand-not-open",
            demand_id=demand_id,
            demand_status=demand.status,
        )
    with suggestion_latency_seconds.time():
        found, total = live.suggest_experts(
            db_session, demand_profile(demand), limit=limit, offset=offset, include_excluded=include_excluded
        )
    ids = [s.expert_id for s in found]
    experts = {e.id: e for e in db_session.exec(select(Expert).where(col(Expert.id).in_(ids))).all()} if ids else {}
    if principal.is_admin:
        entitled = set(experts)
    else:
        entitled = _engaged(db_session, Engagement.expert_id, ids, Engagement.enterprise_id, demand.enterprise_id)
    items = []
    for s in found:
        expert = experts.get(s.expert_id)
        if expert is None:  # deleted after the matcher answered
            continue
        summary = ExpertSummary.model_validate(expert, from_attributes=True)
        if expert.id not in entitled:
            summary.contact = None
        items.append(ExpertSuggestion(expert_id=s.expert_id, expert=summary, **_fields(s)))
    return items, total


def demand_suggestions(
    *,
    db_session: Session,
    live: LiveMatcher,
    expert_id: int,
    principal: Principal,
    limit: int,
    offset: int,
    include_excluded: bool,
) -> tuple[list[DemandSuggestion], int]:
    """Ranked open demands for a specialist (administrators and the specialist)."""
    experts_service.get(db_session=db_session, expert_id=expert_id)
    if not (principal.is_admin or principal.is_expert(expert_id)):
        raise Forbidden("only administrators or the specialist themself may see their suggestions")
    with suggestion_latency_seconds.time():
        found, total = live.suggest_demands(
            db_session, expert_id, limit=limit, offset=offset, include_excluded=include_excluded
        )
    ids = [s.demand_id for s in found]
    rows = (
        db_session.exec(
            select(Demand, Enterprise)
            .join(Enterprise, col(Enterprise.id) == col(Demand.enterprise_id))
            .where(col(Demand.id).in_(ids))
        ).all()
        if ids
        else []
    )
    demands = {d.id: (d, e) for d, e in rows}
    enterprise_ids = sorted({e.id for _, e in rows})  # type: ignore[misc]
    if principal.is_admin:
        entitled = set(enterprise_ids)
    else:
        entitled = _engaged(db_session, Engagement.enterprise_id, enterprise_ids, Engagement.expert_id, expert_id)
    items = []
    for s in found:
        pair = demands.get(s.demand_id)
        if pair is None:
            continue
        demand, enterprise = pair
        summary = DemandSummary(
            id=demand.id,  # type: ignore[arg-type]
            title=demand.title,
            enterprise_id=demand.enterprise_id,
            enterprise_name=enterprise.name,
            region=demand.region,
            industry=demand.industry,
            on_site=demand.on_site,
            headcount=demand.headcount,
            contact=enterprise.contact if enterprise.id in entitled else None,  # type: ignore[arg-type]
        )
        items.append(DemandSuggestion(demand_id=s.demand_id, demand=summary, **_fields(s)))
    return items, total


def _engaged(db_session: Session, column: Any, ids: list[int], party_column: Any, party_id: int | None) -> set[int]:
    """Which of `ids` (in `column`) have or had an engagement with the given party: they may see contacts."""
    if not ids or party_id is None:
        return set()
    rows = db_session.exec(select(column).where(column.in_(ids), party_column == party_id).distinct()).all()
    return set(rows)
