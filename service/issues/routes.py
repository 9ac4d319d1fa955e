"""Thin HTTP layer for the issue ledger."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.auth import CurrentPrincipal
from service.common import MAX_ID, IdPath
from service.db import SessionDep
from service.engagements import service as engagements_service
from service.issues import service
from service.issues.models import IssueConfirm, IssueCreate, IssuePublic, IssueReopen, IssueResponseCreate, IssueStatus
from service.pagination import Page, PageDep

router = APIRouter()  # mounted at /issues
engagement_router = APIRouter()  # mounted at /engagements

OptionalId = Annotated[int | None, Query(ge=1, le=MAX_ID)]


def _page(db_session: SessionDep, rows: list, total: int, page: PageDep) -> Page[IssuePublic]:
    answers = service.responses_of(db_session, [r.id for r in rows])
    items = [service.to_public(r, answers[r.id]) for r in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@engagement_router.post("/{engagement_id}/issues", status_code=201, response_model=IssuePublic)
def raise_issue(
    db_session: SessionDep, principal: CurrentPrincipal, engagement_id: IdPath, body: IssueCreate
) -> IssuePublic:
    """The enterprise raises a problem on an active engagement; it starts `open`."""
    issue = service.raise_issue(db_session=db_session, engagement_id=engagement_id, issue_in=body, principal=principal)
    return service.public(db_session, issue)


@engagement_router.get("/{engagement_id}/issues", response_model=Page[IssuePublic])
def list_engagement_issues(
    db_session: SessionDep, principal: CurrentPrincipal, engagement_id: IdPath, page: PageDep
) -> Page[IssuePublic]:
    """The issues raised on one engagement (its parties and administrators)."""
    engagements_service.get_visible(db_session=db_session, engagement_id=engagement_id, principal=principal)
    rows, total = service.list_issues(
        db_session=db_session, principal=principal, limit=page.limit, offset=page.offset, engagement_id=engagement_id
    )
    return _page(db_session, rows, total, page)


@router.get("", response_model=Page[IssuePublic])
def list_issues(
    db_session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    enterprise_id: OptionalId = None,
    expert_id: OptionalId = None,
    engagement_id: OptionalId = None,
    status: Annotated[IssueStatus | None, Query()] = None,
    overdue: Annotated[bool | None, Query(description="true: past due and unresolved; false: the others")] = None,
) -> Page[IssuePublic]:
    """Issues the caller is party to (administrators: all), oldest first."""
    rows, total = service.list_issues(
        db_session=db_session,
        principal=principal,
        limit=page.limit,
        offset=page.offset,
        enterprise_id=enterprise_id,
        expert_id=expert_id,
        engagement_id=engagement_id,
        status=status,
        overdue=overdue,
    )
    return _page(db_session, rows, total, page)


@router.get("/{issue_id}", response_model=IssuePublic)
def read_issue(db_session: SessionDep, principal: CurrentPrincipal, issue_id: IdPath) -> IssuePublic:
    issue = service.get_visible(db_session=db_session, issue_id=issue_id, principal=principal)
    return service.public(db_session, issue)


@router.post("/{issue_id}/responses", status_code=201, response_model=IssuePublic)
def respond_to_issue(
    db_session: SessionDep, principal: CurrentPrincipal, issue_id: IdPath, body: IssueResponseCreate
) -> IssuePublic:
    """The specialist answers; `resolved: true` moves the issue to `resolved`, else to `answered`."""
    issue = service.respond(db_session=db_session, issue_id=issue_id, response_in=body, principal=principal)
    return service.public(db_session, issue)


@router.post("/{issue_id}/confirm", response_model=IssuePublic)
def confirm_issue(
    db_session: SessionDep, principal: CurrentPrincipal, issue_id: IdPath, body: IssueConfirm
) -> IssuePublic:
    """The enterprise confirms a resolved issue with its satisfaction (1–5): resolved → confirmed."""
    issue = service.confirm(db_session=db_session, issue_id=issue_id, confirm_in=body, principal=principal)
    return service.public(db_session, issue)


@router.post("/{issue_id}/reopen", response_model=IssuePublic)
def reopen_issue(
    db_session: SessionDep, principal: CurrentPrincipal, issue_id: IdPath, body: IssueReopen | None = None
) -> IssuePublic:
    """The enterprise reopens a resolved issue: resolved → open."""
    issue = service.reopen(
        db_session=db_session, issue_id=issue_id, reopen_in=body or IssueReopen(), principal=principal
    )
    return service.public(db_session, issue)
