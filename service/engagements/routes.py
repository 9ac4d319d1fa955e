"""Thin HTTP layer for engagements, enterprise selections and mutual-selection interests."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from service.auth import CurrentPrincipal
from service.common import MAX_ID, IdPath, utcnow
from service.db import SessionDep
from service.demands import service as demands_service
from service.engagements import agreement, service
from service.engagements.models import (
    DemandInterestCreate,
    Engagement,
    EngagementMode,
    EngagementPublic,
    EngagementStatus,
    ExpertInterestCreate,
    Interest,
    InterestPublic,
    InterestResult,
    InterestSide,
    RatingCreate,
    RejectionNote,
    SelectionCreate,
    ServiceLogCreate,
    ServiceLogPublic,
    TransitionNote,
)
from service.pagination import Page, PageDep
from service.suggestions.live import scorer_for
from service.teams import service as teams_service

router = APIRouter()  # mounted at /engagements
demand_router = APIRouter()  # mounted at /demands
expert_router = APIRouter()  # mounted at /experts

OptionalId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
InterestStatus = Annotated[str | None, Query(pattern="^(pending|matched)$")]


# --- /engagements ----------------------------------------------------------------------------------------------


@router.get("", response_model=Page[EngagementPublic])
def list_engagements(
    db_session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    demand_id: OptionalId = None,
    expert_id: OptionalId = None,
    enterprise_id: OptionalId = None,
    status: Annotated[EngagementStatus | None, Query()] = None,
    mode: Annotated[EngagementMode | None, Query()] = None,
    round_id: OptionalId = None,
    assignment_id: OptionalId = None,
    unit_id: OptionalId = None,
    team_id: OptionalId = None,
) -> Page[EngagementPublic]:
    rows, total = service.list_engagements(
        db_session=db_session,
        principal=principal,
        limit=page.limit,
        offset=page.offset,
        demand_id=demand_id,
        expert_id=expert_id,
        enterprise_id=enterprise_id,
        status=status.value if status else None,
        mode=mode.value if mode else None,
        round_id=round_id,
        assignment_id=assignment_id,
        unit_id=unit_id,
        team_id=team_id,
    )
    return Page(items=[service.to_public(e) for e in rows], total=total, limit=page.limit, offset=page.offset)


@router.get("/{engagement_id}", response_model=EngagementPublic)
def read_engagement(db_session: SessionDep, principal: CurrentPrincipal, engagement_id: IdPath) -> EngagementPublic:
    engagement = service.get_visible(db_session=db_session, engagement_id=engagement_id, principal=principal)
    return service.to_public(engagement)


def _move(
    db_session: SessionDep, principal: CurrentPrincipal, engagement_id: int, action: str, body: TransitionNote | None
) -> EngagementPublic:
    engagement = service.move(
        db_session=db_session,
        engagement_id=engagement_id,
        action=action,
        principal=principal,
        reason=body.reason if body else "",
    )
    return service.to_public(engagement)


@router.post("/{engagement_id}/accept", response_model=EngagementPublic)
def accept_engagement(
    db_session: SessionDep, principal: CurrentPrincipal, engagement_id: IdPath, body: TransitionNote | None = None
) -> EngagementPublic:
    """The specialist (or an administrator) accepts an offer: offered → active."""
    return _move(db_session, principal, engagement_id, "accept", body)


@router.post("/{engagement_id}/decline", response_model=EngagementPublic)
def decline_engagement(
    db_session: SessionDep, principal: CurrentPrincipal, engagement_id: IdPath, body: TransitionNote | None = None
) -> EngagementPublic:
    """The specialist (or an administrator) declines an offer: offered → declined."""
    return _move(db_session, principal, engagement_id, "decline", body)


@router.post("/{engagement_id}/complete", response_model=EngagementPublic)
def complete_engagement(
    db_session: SessionDep, principal: CurrentPrincipal, engagement_id: IdPath, body: TransitionNote | None = None
) -> EngagementPublic:
    """The enterprise (or an administrator) confirms the service was delivered: active → completed."""
    return _move(db_session, principal, engagement_id, "complete", body)


@router.post("/{engagement_id}/terminate", response_model=EngagementPublic)
def terminate_engagement(
    db_session: SessionDep, principal: CurrentPrincipal, engagement_id: IdPath, body: TransitionNote | None = None
) -> EngagementPublic:
    """Either party (or an administrator) ends an active engagement early: active → terminated."""
    return _move(db_session, principal, engagement_id, "terminate", body)


@router.post("/{engagement_id}/approve", response_model=EngagementPublic)
def approve_engagement(
    db_session: SessionDep, principal: CurrentPrincipal, engagement_id: IdPath, body: TransitionNote | None = None
) -> EngagementPublic:
    """The specialist's dispatching unit (or an administrator) approves the dispatch: approving → active."""
    return _move(db_session, principal, engagement_id, "approve", body)


@router.post("/{engagement_id}/reject", response_model=EngagementPublic)
def reject_engagement(
    db_session: SessionDep, principal: CurrentPrincipal, engagement_id: IdPath, body: RejectionNote
) -> EngagementPublic:
    """The specialist's dispatching unit (or an administrator) refuses the dispatch: approving → declined."""
    engagement = service.move(
        db_session=db_session, engagement_id=engagement_id, action="reject", principal=principal, reason=body.reason
    )
    return service.to_public(engagement)


@router.get(
    "/{engagement_id}/agreement",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {"example": '<!DOCTYPE html><html lang="zh-CN">…</html>'}}}},
)
def read_agreement(
    db_session: SessionDep,
    principal: CurrentPrincipal,
    engagement_id: IdPath,
    lang: Annotated[str, Query(pattern="^(zh|en)$", description="zh (default) or en")] = "zh",
) -> HTMLResponse:
    """The three-party agreement (enterprise, specialist, dispatching unit) as a printable HTML page."""
    engagement = service.get_visible(db_session=db_session, engagement_id=engagement_id, principal=principal)
    page = agreement.render(db_session=db_session, engagement=engagement, lang=lang, now=utcnow())
    return HTMLResponse(page)


@router.post("/{engagement_id}/logs", status_code=201, response_model=ServiceLogPublic)
def add_service_log(
    db_session: SessionDep, principal: CurrentPrincipal, engagement_id: IdPath, body: ServiceLogCreate
) -> ServiceLogPublic:
    entry = service.add_log(db_session=db_session, engagement_id=engagement_id, log_in=body, principal=principal)
    return ServiceLogPublic.model_validate(entry)


@router.get("/{engagement_id}/logs", response_model=Page[ServiceLogPublic])
def list_service_logs(
    db_session: SessionDep, principal: CurrentPrincipal, engagement_id: IdPath, page: PageDep
) -> Page[ServiceLogPublic]:
    engagement = service.get_visible(db_session=db_session, engagement_id=engagement_id, principal=principal)
    rows, total = service.list_logs(db_session=db_session, engagement=engagement, limit=page.limit, offset=page.offset)
    items = [ServiceLogPublic.model_validate(row) for row in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.post("/{engagement_id}/rating", status_code=201, response_model=EngagementPublic)
def rate_engagement(
    db_session: SessionDep, principal: CurrentPrincipal, engagement_id: IdPath, body: RatingCreate
) -> EngagementPublic:
    """The enterprise's one rating (1–5) of a completed engagement; answers the engagement with its rating."""
    engagement = service.rate(db_session=db_session, engagement_id=engagement_id, rating_in=body, principal=principal)
    return service.to_public(engagement)


# --- /demands/{id}/selections and /demands/{id}/interests -------------------------------------------------------


@demand_router.post("/{demand_id}/selections", status_code=201, response_model=EngagementPublic)
def select_expert(
    request: Request, db_session: SessionDep, principal: CurrentPrincipal, demand_id: IdPath, body: SelectionCreate
) -> EngagementPublic:
    """Enterprise selection: offer the demand to a specialist or a team (SPEC §8.4); the engagement starts
    `offered`."""
    demand = demands_service.get_visible(db_session=db_session, demand_id=demand_id, principal=principal)
    if body.team_id is not None:
        live = getattr(request.app.state, "matcher", None)
        engagement = teams_service.select_team(
            db_session=db_session, demand=demand, team_id=body.team_id, principal=principal, live=live
        )
    else:
        scorer = scorer_for(request.app, db_session)
        engagement = service.select_expert(
            db_session=db_session, demand=demand, expert_id=body.expert_id, principal=principal, scorer=scorer
        )
    return service.to_public(engagement)


def _interest_result(interest: Interest, engagement: Engagement | None) -> InterestResult:
    return InterestResult(
        interest=service.interest_public(interest),
        engagement=service.to_public(engagement) if engagement is not None else None,
    )


@demand_router.post("/{demand_id}/interests", status_code=201, response_model=InterestResult)
def express_enterprise_interest(
    request: Request, db_session: SessionDep, principal: CurrentPrincipal, demand_id: IdPath, body: DemandInterestCreate
) -> InterestResult:
    """The enterprise is interested in a specialist; with the specialist's interest too, an engagement opens."""
    interest, engagement = service.express_interest(
        db_session=db_session,
        demand_id=demand_id,
        expert_id=body.expert_id,
        side=InterestSide.enterprise,
        principal=principal,
        scorer=scorer_for(request.app, db_session),
    )
    return _interest_result(interest, engagement)


@demand_router.get("/{demand_id}/interests", response_model=Page[InterestPublic])
def list_demand_interests(
    db_session: SessionDep,
    principal: CurrentPrincipal,
    demand_id: IdPath,
    page: PageDep,
    side: Annotated[InterestSide | None, Query()] = None,
    status: InterestStatus = None,
) -> Page[InterestPublic]:
    """Interests about this demand, both directions (its enterprise or administrators)."""
    service.ensure_may_read_interests(db_session=db_session, principal=principal, demand_id=demand_id)
    rows, total = service.list_interests(
        db_session=db_session, limit=page.limit, offset=page.offset, demand_id=demand_id, side=side, status=status
    )
    items = [service.interest_public(row) for row in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@demand_router.delete("/{demand_id}/interests/{expert_id}", status_code=204)
def withdraw_enterprise_interest(
    db_session: SessionDep, principal: CurrentPrincipal, demand_id: IdPath, expert_id: IdPath
) -> Response:
    service.withdraw_interest(
        db_session=db_session,
        demand_id=demand_id,
        expert_id=expert_id,
        side=InterestSide.enterprise,
        principal=principal,
    )
    return Response(status_code=204)


# --- /experts/{id}/interests -----------------------------------------------------------------------------------


@expert_router.post("/{expert_id}/interests", status_code=201, response_model=InterestResult)
def express_expert_interest(
    request: Request, db_session: SessionDep, principal: CurrentPrincipal, expert_id: IdPath, body: ExpertInterestCreate
) -> InterestResult:
    """The specialist is interested in an open demand; with the enterprise's interest too, an engagement opens."""
    interest, engagement = service.express_interest(
        db_session=db_session,
        demand_id=body.demand_id,
        expert_id=expert_id,
        side=InterestSide.expert,
        principal=principal,
        scorer=scorer_for(request.app, db_session),
    )
    return _interest_result(interest, engagement)


@expert_router.get("/{expert_id}/interests", response_model=Page[InterestPublic])
def list_expert_interests(
    db_session: SessionDep,
    principal: CurrentPrincipal,
    expert_id: IdPath,
    page: PageDep,
    side: Annotated[InterestSide | None, Query()] = None,
    status: InterestStatus = None,
) -> Page[InterestPublic]:
    """Interests about this specialist, both directions (the specialist or administrators)."""
    service.ensure_may_read_interests(db_session=db_session, principal=principal, expert_id=expert_id)
    rows, total = service.list_interests(
        db_session=db_session, limit=page.limit, offset=page.offset, expert_id=expert_id, side=side, status=status
    )
    items = [service.interest_public(row) for row in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@expert_router.delete("/{expert_id}/interests/{demand_id}", status_code=204)
def withdraw_expert_interest(
    db_session: SessionDep, principal: CurrentPrincipal, expert_id: IdPath, demand_id: IdPath
) -> Response:
    service.withdraw_interest(
        db_session=db_session,
        demand_id=demand_id,
        expert_id=expert_id,
        side=InterestSide.expert,
        principal=principal,
    )
    return Response(status_code=204)
