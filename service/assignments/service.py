"""Programme assignment: propose pairings over many open demands at once, then turn them into offers.

Proposing reads no locks and writes only the proposal: the candidate graph (each demand's K best specialists and
each specialist's K best demands, eligible pairs only) comes from the worker's matcher after it caught up with the
database, with the free capacity and open headcount it holds; `matching.assignment.assign` solves it exactly
(cover the most demands, then the highest total score). Making offers locks every specialist and demand involved
(the engagements' lock order) and opens each offer through `open_engagement` in its own savepoint, so a pair that
no longer passes the invariants (the world moved since the proposal) is reported and the others go ahead.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlmodel import Session, col, func, select

from matching.assignment import assign
from service import audit
from service.assignments.models import (
    Assignment,
    AssignmentCreate,
    AssignmentPublic,
    AssignmentStatus,
)
from service.auth import Principal
from service.common import utcnow
from service.demands.models import Demand, DemandStatus
from service.engagements import service as engagements
from service.engagements.models import EngagementMode, EngagementStatus
from service.errors import Conflict, DomainError, InvalidInput, NotFound
from service.observability import assignment_solve_seconds
from service.suggestions.live import LiveMatcher

ASSIGNMENT = "assignment"
REASONS_PER_PAIR = 3


def get(*, db_session: Session, assignment_id: int) -> Assignment:
    """The assignment, or 404."""
    found = db_session.get(Assignment, assignment_id)
    if found is None:
        raise NotFound(f"assignment {assignment_id} does not exist")
    return found


def to_public(assignment: Assignment) -> AssignmentPublic:
    """The assignment as administrators see it."""
    return AssignmentPublic.model_validate(assignment, from_attributes=True)


def list_assignments(*, db_session: Session, limit: int, offset: int) -> tuple[list[Assignment], int]:
    """A page of assignments, oldest first, with the total."""
    total = db_session.exec(select(func.count()).select_from(Assignment)).one()
    rows = db_session.exec(select(Assignment).order_by(col(Assignment.id)).offset(offset).limit(limit)).all()
    return list(rows), total


def _selected_demands(db_session: Session, body: AssignmentCreate) -> tuple[list[int], list[dict[str, Any]]]:
    """The open demands the body selects, and the named ones skipped because they are not open."""
    query = select(Demand.id, Demand.status)
    if body.demand_ids:
        found = set(db_session.exec(select(Demand.id).where(col(Demand.id).in_(body.demand_ids))).all())
        missing = [i for i in body.demand_ids if i not in found]
        if missing:
            raise InvalidInput.field("body.demand_ids", f"no demand with id {', '.join(map(str, missing[:20]))}")
        query = query.where(col(Demand.id).in_(body.demand_ids))
    else:
        query = query.where(Demand.status == DemandStatus.open.value)
    if body.region:
        query = query.where(Demand.region == body.region)
    if body.industry:
        query = query.where(Demand.industry == body.industry)
    rows = db_session.exec(query.order_by(col(Demand.id))).all()
    open_ids = [int(i) for i, status in rows if status == DemandStatus.open]
    skipped = [
        {"demand_id": int(i), "reason": f"demand is '{status}', not open"}
        for i, status in rows
        if status != DemandStatus.open
    ]
    return open_ids, skipped


def _summary(reasons: list[Any]) -> list[str]:
    """The pair's main reasons, each as 'Chinese / English'."""
    return [f"{r.zh} / {r.en}" for r in reasons[:REASONS_PER_PAIR]]


def propose(*, db_session: Session, live: LiveMatcher, body: AssignmentCreate, principal: Principal) -> Assignment:
    """Solve the programme assignment over the selected open demands and store the proposal (no engagements)."""
    demand_ids, skipped = _selected_demands(db_session, body)
    cand = live.candidate_pairs(db_session, demand_ids, body.candidates_per_demand)
    d_ids, e_ids = cand.demand_ids, cand.expert_ids
    solution = assign(cand.demand_idx, cand.expert_idx, cand.score, cand.demand_open, cand.expert_free)
    assignment_solve_seconds.observe(solution.solve_seconds)
    chosen = [
        (int(d_ids[d]), int(e_ids[e]), float(s))
        for d, e, s in zip(solution.demand_idx, solution.expert_idx, solution.score, strict=True)
    ]
    explained = live.score_pairs([(d, e) for d, e, _ in chosen])
    pairs = [
        {
            "demand_id": d,
            "expert_id": e,
            "score": round(s, 4),
            "reasons": _summary(explained[(d, e)].reasons) if (d, e) in explained else [],
        }
        for d, e, s in chosen
    ]
    report = solution.report
    covered = {p["demand_id"] for p in pairs}
    result = {
        "pairs": pairs,
        "n_pairs": len(pairs),
        "total_score": round(solution.total_score, 4),
        "covered_demands": solution.covered_demands,
        "uncovered_demands": [int(d) for d in d_ids.tolist() if int(d) not in covered],
        "optimal": solution.optimal,
        "solve_seconds": round(solution.solve_seconds, 4),
        "feasibility": {
            "n_demands": report.n_demands,
            "n_experts": int(np.count_nonzero(cand.expert_free)),
            "n_candidate_pairs": report.n_pairs,
            "total_headcount": report.total_headcount,
            "total_capacity": report.total_capacity,
            "headcount_excess": report.headcount_excess,
            "demands_without_candidates": [int(d_ids[i]) for i in report.demands_without_candidates.tolist()],
            "experts_without_candidates": [int(e_ids[i]) for i in report.experts_without_candidates.tolist()],
            "coverage_upper_bound": report.coverage_upper_bound,
            "messages": list(report.describe(d_ids, e_ids)),
        },
        "skipped_demands": skipped,
    }
    assignment = Assignment(params=body.model_dump(mode="json"), result=result)
    db_session.add(assignment)
    db_session.flush()
    audit.record(
        db_session=db_session,
        entity=ASSIGNMENT,
        entity_id=assignment.id,  # type: ignore[arg-type]
        action="proposed",
        actor=principal,
        to_status=AssignmentStatus.proposed.value,
        detail={"demands": len(demand_ids), "pairs": len(pairs), "total_score": result["total_score"]},
    )
    db_session.commit()
    db_session.refresh(assignment)
    return assignment


def make_offers(*, db_session: Session, assignment_id: int, principal: Principal) -> Assignment:
    """Turn a proposal into `offered` engagements in one transaction; pairs that fail an invariant are reported."""
    assignment = db_session.exec(
        select(Assignment)
        .where(Assignment.id == assignment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if assignment is None:
        raise NotFound(f"assignment {assignment_id} does not exist")
    if assignment.status != AssignmentStatus.proposed:
        raise Conflict(f"assignment {assignment_id}'s offers were already made", code="assignment-already-offered")
    pairs = assignment.result.get("pairs", [])
    engagements.lock_parties(
        db_session=db_session,
        expert_ids=[p["expert_id"] for p in pairs],
        demand_ids=[p["demand_id"] for p in pairs],
    )
    created: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for pair in pairs:
        try:
            with db_session.begin_nested():
                engagement = engagements.open_engagement(
                    db_session=db_session,
                    demand_id=pair["demand_id"],
                    expert_id=pair["expert_id"],
                    mode=EngagementMode.enterprise_selection,
                    status=EngagementStatus.offered,
                    score=pair["score"],
                    actor=principal,
                    assignment_id=assignment_id,
                    commit=False,
                )
        except DomainError as exc:
            failed.append(
                {"demand_id": pair["demand_id"], "expert_id": pair["expert_id"], "code": exc.code, "detail": exc.detail}
            )
            continue
        created.append({**pair, "engagement_id": engagement.id})
    assignment.status = AssignmentStatus.offered.value
    assignment.offered_at = utcnow()
    assignment.offers = {"created": created, "failed": failed}
    db_session.add(assignment)
    audit.record(
        db_session=db_session,
        entity=ASSIGNMENT,
        entity_id=assignment_id,
        action="offered",
        actor=principal,
        from_status=AssignmentStatus.proposed.value,
        to_status=AssignmentStatus.offered.value,
        detail={"created": len(created), "failed": len(failed)},
    )
    db_session.commit()
    db_session.refresh(assignment)
    return assignment
