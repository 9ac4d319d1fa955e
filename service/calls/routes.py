"""Thin HTTP layer for open calls (揭榜挂帅) and their bids, under /demands/{id}."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from service.auth import CurrentPrincipal
from service.calls import service
from service.calls.models import BidCreate, BidPublic, CallCreate, CallPublic
from service.common import IdPath
from service.db import SessionDep
from service.demands import service as demands_service
from service.engagements import service as engagements_service
from service.engagements.models import EngagementPublic
from service.suggestions.live import explainer_for

router = APIRouter()  # mounted at /demands


@router.post("/{demand_id}/call", status_code=201, response_model=CallPublic)
def publish_call(
    db_session: SessionDep, principal: CurrentPrincipal, demand_id: IdPath, body: CallCreate
) -> CallPublic:
    """Publish an open demand as an open call (its enterprise or an administrator)."""
    demand = demands_service.get_visible(db_session=db_session, demand_id=demand_id, principal=principal)
    call = service.publish(db_session=db_session, demand=demand, call_in=body, principal=principal)
    return service.call_public(db_session, call)


@router.get("/{demand_id}/call", response_model=CallPublic)
def read_call(db_session: SessionDep, principal: CurrentPrincipal, demand_id: IdPath) -> CallPublic:
    """The demand's open call with its live bidder count (whoever may read the demand)."""
    demand = demands_service.get_visible(db_session=db_session, demand_id=demand_id, principal=principal)
    return service.call_public(db_session, service.get_call(db_session=db_session, demand=demand))


@router.post("/{demand_id}/bids", status_code=201, response_model=BidPublic)
def place_bid(
    request: Request, db_session: SessionDep, principal: CurrentPrincipal, demand_id: IdPath, body: BidCreate
) -> BidPublic:
    """A specialist bids (an administrator passes `expert_id`); the answer carries the match score and reasons."""
    demand = demands_service.get_visible(db_session=db_session, demand_id=demand_id, principal=principal)
    explain = explainer_for(request.app, db_session)
    bid = service.place_bid(db_session=db_session, demand=demand, bid_in=body, principal=principal, explain=explain)
    return service.bid_public(bid)


@router.get("/{demand_id}/bids", response_model=list[BidPublic])
def list_bids(db_session: SessionDep, principal: CurrentPrincipal, demand_id: IdPath) -> list[BidPublic]:
    """All bids for the enterprise and administrators, a specialist's own for them (at most a handful: 1–3 live)."""
    demand = demands_service.get(db_session=db_session, demand_id=demand_id)
    return [service.bid_public(b) for b in service.list_bids(db_session=db_session, demand=demand, principal=principal)]


@router.delete("/{demand_id}/bids/{bid_id}", status_code=204)
def withdraw_bid(db_session: SessionDep, principal: CurrentPrincipal, demand_id: IdPath, bid_id: IdPath) -> Response:
    """The bidder (or an administrator) withdraws a submitted bid while the call is open."""
    demand = demands_service.get(db_session=db_session, demand_id=demand_id)
    service.withdraw(db_session=db_session, demand=demand, bid_id=bid_id, principal=principal)
    return Response(status_code=204)


@router.post("/{demand_id}/bids/{bid_id}/award", status_code=201, response_model=EngagementPublic)
def award_bid(
    db_session: SessionDep, principal: CurrentPrincipal, demand_id: IdPath, bid_id: IdPath
) -> EngagementPublic:
    """Award a bid: an `open_call` engagement (`active`, or `approving` under a unit), the others not awarded."""
    demand = demands_service.get_visible(db_session=db_session, demand_id=demand_id, principal=principal)
    _bid, engagement = service.award(db_session=db_session, demand=demand, bid_id=bid_id, principal=principal)
    return engagements_service.to_public(engagement)
