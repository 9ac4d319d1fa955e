"""Thin HTTP layer for programme assignments (administrators only)."""

from __future__ import annotations

from fastapi import APIRouter

from service.assignments import service
from service.assignments.models import AssignmentCreate, AssignmentPublic
from service.auth import AdminPrincipal
from service.common import IdPath
from service.db import SessionDep
from service.pagination import Page, PageDep
from service.suggestions.routes import LiveDep

router = APIRouter()


@router.post("", status_code=201, response_model=AssignmentPublic)
def propose_assignment(
    db_session: SessionDep, principal: AdminPrincipal, live: LiveDep, body: AssignmentCreate
) -> AssignmentPublic:
    """Propose pairings over the selected open demands (nothing is offered yet)."""
    assignment = service.propose(db_session=db_session, live=live, body=body, principal=principal)
    return service.to_public(assignment)


@router.get("", response_model=Page[AssignmentPublic])
def list_assignments(db_session: SessionDep, principal: AdminPrincipal, page: PageDep) -> Page[AssignmentPublic]:
    rows, total = service.list_assignments(db_session=db_session, limit=page.limit, offset=page.offset)
    return Page(items=[service.to_public(a) for a in rows], total=total, limit=page.limit, offset=page.offset)


@router.get("/{assignment_id}", response_model=AssignmentPublic)
def read_assignment(db_session: SessionDep, principal: AdminPrincipal, assignment_id: IdPath) -> AssignmentPublic:
    return service.to_public(service.get(db_session=db_session, assignment_id=assignment_id))


@router.post("/{assignment_id}/offers", response_model=AssignmentPublic)
def make_offers(db_session: SessionDep, principal: AdminPrincipal, assignment_id: IdPath) -> AssignmentPublic:
    """Turn the proposal into `offered` engagements; pairs that no longer pass the invariants are reported."""
    assignment = service.make_offers(db_session=db_session, assignment_id=assignment_id, principal=principal)
    return service.to_public(assignment)
