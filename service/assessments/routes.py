"""Thin HTTP layer for periodic assessments."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from service.assessments import service
from service.assessments.models import (
    PERIOD_PATTERN,
    AssessmentCreate,
    AssessmentPublic,
    Grade,
    ScoreAdjust,
    ScorePublic,
)
from service.auth import AdminPrincipal, CurrentPrincipal
from service.common import MAX_ID, IdPath
from service.db import SessionDep
from service.pagination import Page, PageDep

router = APIRouter()  # mounted at /assessments


@router.post("", status_code=201, response_model=AssessmentPublic)
def compute_assessment(
    request: Request, db_session: SessionDep, principal: AdminPrincipal, page: PageDep, body: AssessmentCreate
) -> AssessmentPublic:
    """Compute every named specialist's 100-point score over the period (administrators); answers the first page."""
    hours_target = request.app.state.settings.assessment_hours_target
    assessment = service.compute(
        db_session=db_session, assessment_in=body, principal=principal, hours_target=hours_target
    )
    return service.to_public(db_session, assessment, principal=principal, limit=page.limit, offset=page.offset)


@router.get("", response_model=Page[AssessmentPublic])
def list_assessments(
    db_session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    period: Annotated[str | None, Query(pattern=PERIOD_PATTERN)] = None,
) -> Page[AssessmentPublic]:
    """Assessments (administrators: all; a specialist: those that include them), each with its first scores."""
    rows, total = service.list_assessments(
        db_session=db_session, principal=principal, limit=page.limit, offset=page.offset, period=period
    )
    items = [service.to_public(db_session, a, principal=principal, limit=10, offset=0) for a in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/{assessment_id}", response_model=AssessmentPublic)
def read_assessment(
    db_session: SessionDep,
    principal: CurrentPrincipal,
    assessment_id: IdPath,
    page: PageDep,
    grade: Annotated[Grade | None, Query()] = None,
    expert_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> AssessmentPublic:
    """The assessment with a page of scores and their parts (`limit`, `offset`, `grade`, `expert_id`); a specialist
    sees only their own score."""
    assessment = service.get_visible(db_session=db_session, assessment_id=assessment_id, principal=principal)
    return service.to_public(
        db_session,
        assessment,
        principal=principal,
        limit=page.limit,
        offset=page.offset,
        grade=grade,
        expert_id=expert_id,
    )


@router.patch("/{assessment_id}/scores/{expert_id}", response_model=ScorePublic)
def adjust_score(
    db_session: SessionDep, principal: AdminPrincipal, assessment_id: IdPath, expert_id: IdPath, body: ScoreAdjust
) -> ScorePublic:
    """Set a specialist's score with a reason (administrators; audited); the grade follows the new score."""
    row = service.adjust(
        db_session=db_session, assessment_id=assessment_id, expert_id=expert_id, adjust_in=body, principal=principal
    )
    return service.score_public(row)
