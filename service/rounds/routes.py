"""Thin HTTP layer for mutual-selection rounds."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request

from service.auth import AdminPrincipal, CurrentPrincipal
from service.common import IdPath, RecordId
from service.db import SessionDep
from service.pagination import Page, PageDep
from service.rounds import service
from service.rounds.models import MAX_MEMBERS, RankingPublic, RoundCreate, RoundPublic, RoundSide, RoundStatus
from service.suggestions.live import scorer_for

router = APIRouter()

RankingBody = Annotated[
    list[RecordId],
    Body(
        max_length=MAX_MEMBERS,
        description="ids of the other side, most preferred first; anyone left out is unacceptable",
        examples=[[12, 7, 31]],
    ),
]


def _public(db_session: SessionDep, principal: CurrentPrincipal, round_id: int) -> RoundPublic:
    rnd = service.get(db_session=db_session, round_id=round_id)
    round_members = service.members(db_session=db_session, round_ids=[round_id])[round_id]
    return service.to_public(db_session=db_session, rnd=rnd, principal=principal, round_members=round_members)


@router.post("", status_code=201, response_model=RoundPublic)
def open_round(db_session: SessionDep, principal: AdminPrincipal, body: RoundCreate) -> RoundPublic:
    rnd = service.create(db_session=db_session, round_in=body, principal=principal)
    return _public(db_session, principal, rnd.id)  # type: ignore[arg-type]


@router.get("", response_model=Page[RoundPublic])
def list_rounds(
    db_session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    status: Annotated[RoundStatus | None, Query()] = None,
) -> Page[RoundPublic]:
    rows, total = service.list_rounds(
        db_session=db_session, principal=principal, limit=page.limit, offset=page.offset, status=status
    )
    by_round = service.members(db_session=db_session, round_ids=[r.id for r in rows])  # type: ignore[misc]
    items = [
        service.to_public(db_session=db_session, rnd=r, principal=principal, round_members=by_round[r.id])  # type: ignore[index]
        for r in rows
    ]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/{round_id}", response_model=RoundPublic)
def read_round(db_session: SessionDep, principal: CurrentPrincipal, round_id: IdPath) -> RoundPublic:
    return _public(db_session, principal, round_id)


def _rank(
    db_session: SessionDep, principal: CurrentPrincipal, round_id: int, side: RoundSide, party_id: int, ranking: list
) -> RankingPublic:
    member = service.set_ranking(
        db_session=db_session, round_id=round_id, side=side, party_id=party_id, ranking=ranking, principal=principal
    )
    return RankingPublic(
        round_id=round_id,
        side=side,
        party_id=party_id,
        ranking=member.ranking or [],
        ranked_at=member.ranked_at,  # type: ignore[arg-type]
    )


@router.put("/{round_id}/preferences/demands/{demand_id}", response_model=RankingPublic)
def rank_experts(
    db_session: SessionDep, principal: CurrentPrincipal, round_id: IdPath, demand_id: IdPath, body: RankingBody
) -> RankingPublic:
    """The demand's enterprise ranks the round's specialists."""
    return _rank(db_session, principal, round_id, RoundSide.demand, demand_id, body)


@router.put("/{round_id}/preferences/experts/{expert_id}", response_model=RankingPublic)
def rank_demands(
    db_session: SessionDep, principal: CurrentPrincipal, round_id: IdPath, expert_id: IdPath, body: RankingBody
) -> RankingPublic:
    """The specialist ranks the round's demands."""
    return _rank(db_session, principal, round_id, RoundSide.expert, expert_id, body)


@router.post("/{round_id}/close", response_model=RoundPublic)
def close_round(request: Request, db_session: SessionDep, principal: AdminPrincipal, round_id: IdPath) -> RoundPublic:
    """Run the stable matching, create the engagements, and return the round with its result."""
    service.close(
        db_session=db_session, round_id=round_id, principal=principal, scorer=scorer_for(request.app, db_session)
    )
    return _public(db_session, principal, round_id)
