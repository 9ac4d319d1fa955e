"""Thin HTTP layer for demands."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from service.auth import CurrentPrincipal, Principal, current_principal
from service.common import MAX_ID, IdPath, QueryText
from service.db import SessionDep
from service.demands import service
from service.demands.models import (
    Demand,
    DemandCategory,
    DemandCreate,
    DemandPublic,
    DemandReviewPublic,
    DemandStatus,
    DemandUpdate,
    ReviewCreate,
    ReviewDecision,
)
from service.pagination import Page, PageDep

router = APIRouter()


def visible_demand(
    db_session: SessionDep, principal: Annotated[Principal, Depends(current_principal)], demand_id: IdPath
) -> Demand:
    """Load the demand named in the path if the caller may see it."""
    return service.get_visible(db_session=db_session, demand_id=demand_id, principal=principal)


DemandDep = Annotated[Demand, Depends(visible_demand)]


def _review_required(request: Request) -> bool:
    return bool(request.app.state.settings.demand_review)


@router.post("", status_code=201, response_model=DemandPublic)
def create_demand(request: Request, db_session: SessionDep, principal: CurrentPrincipal, body: DemandCreate) -> Demand:
    """Post a demand; under EXPERTMATCH_DEMAND_REVIEW an enterprise's demand starts `draft` whatever its body says."""
    return service.create(
        db_session=db_session, demand_in=body, principal=principal, review_required=_review_required(request)
    )


@router.get("", response_model=Page[DemandPublic])
def list_demands(
    db_session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    status: Annotated[DemandStatus | None, Query()] = None,
    region: QueryText = None,
    industry: QueryText = None,
    category: Annotated[DemandCategory | None, Query()] = None,
    enterprise_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    q: QueryText = None,
    external_id: QueryText = None,
) -> Page[DemandPublic]:
    rows, total = service.list_demands(
        db_session=db_session,
        principal=principal,
        limit=page.limit,
        offset=page.offset,
        status=status,
        region=region,
        industry=industry,
        category=category.value if category else None,
        enterprise_id=enterprise_id,
        q=q,
        external_id=external_id,
    )
    return Page(
        items=[DemandPublic.model_validate(d) for d in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/{demand_id}", response_model=DemandPublic)
def read_demand(demand: DemandDep) -> Demand:
    return demand


@router.patch("/{demand_id}", response_model=DemandPublic)
def update_demand(
    request: Request, db_session: SessionDep, principal: CurrentPrincipal, demand: DemandDep, body: DemandUpdate
) -> Demand:
    return service.update(
        db_session=db_session,
        demand=demand,
        demand_in=body,
        principal=principal,
        review_required=_review_required(request),
    )


@router.delete("/{demand_id}", status_code=204)
def delete_demand(db_session: SessionDep, principal: CurrentPrincipal, demand: DemandDep) -> Response:
    service.delete(db_session=db_session, demand=demand, principal=principal)
    return Response(status_code=204)


@router.post("/{demand_id}/submit", response_model=DemandPublic)
def submit_demand(db_session: SessionDep, principal: CurrentPrincipal, demand: DemandDep) -> Demand:
    """The enterprise submits its draft for review: draft → in_review (SPEC §7.1)."""
    return service.submit(db_session=db_session, demand=demand, principal=principal)


@router.post("/{demand_id}/review", response_model=DemandPublic)
def review_demand(db_session: SessionDep, principal: CurrentPrincipal, demand: DemandDep, body: ReviewCreate) -> Demand:
    """An administrator approves (in_review → open) or returns (→ draft, with the comment) a demand."""
    return service.review(db_session=db_session, demand=demand, review_in=body, principal=principal)


@router.get("/{demand_id}/reviews", response_model=Page[DemandReviewPublic])
def list_demand_reviews(
    db_session: SessionDep, principal: CurrentPrincipal, demand: DemandDep, page: PageDep
) -> Page[DemandReviewPublic]:
    """The review history: who submitted, approved or returned it, when, with which comment."""
    rows, total = service.list_reviews(
        db_session=db_session, demand=demand, principal=principal, limit=page.limit, offset=page.offset
    )
    decisions = {"approved": ReviewDecision.approve, "returned": ReviewDecision.return_}
    items = [
        DemandReviewPublic(
            id=r.id,  # type: ignore[arg-type]
            demand_id=r.demand_id,
            action=r.action,
            decision=decisions.get(r.action),
            comment=r.comment,
            actor_role=r.actor_role,
            actor_key_id=r.actor_key_id,
            at=r.at,
        )
        for r in rows
    ]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)
