"""Thin HTTP layer for teams (SPEC §8.4) and their suggestions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from service.auth import AdminPrincipal, CurrentPrincipal
from service.common import MAX_ID, IdPath, QueryText
from service.db import SessionDep
from service.pagination import Page, PageDep
from service.suggestions.routes import IncludeExcluded, LiveDep, Offset
from service.teams import service
from service.teams.models import Team, TeamCreate, TeamDemandSuggestion, TeamPublic, TeamSuggestion, TeamUpdate

router = APIRouter()  # mounted at /teams
demand_router = APIRouter()  # mounted at /demands

OptionalId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
# Every team is scored per request (teams are not in the index): pages are smaller than the specialists' listing.
TeamLimit = Annotated[int, Query(ge=1, le=200, description="page size")]


def team_from_path(db_session: SessionDep, team_id: IdPath) -> Team:
    """Load the team named in the path, or 404."""
    return service.get(db_session=db_session, team_id=team_id)


TeamDep = Annotated[Team, Depends(team_from_path)]


@router.post("", status_code=201, response_model=TeamPublic)
def create_team(db_session: SessionDep, principal: AdminPrincipal, body: TeamCreate) -> TeamPublic:
    """Form a team of specialists: a lead among its members (administrators)."""
    team = service.create(db_session=db_session, team_in=body, principal=principal)
    return service.to_public(db_session=db_session, team=team)


@router.get("", response_model=Page[TeamPublic])
def list_teams(
    db_session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    expert_id: Annotated[OptionalId, Query(description="teams this specialist is a member of")] = None,
    lead_expert_id: Annotated[OptionalId, Query(description="teams this specialist leads")] = None,
    q: QueryText = None,
    external_id: QueryText = None,
) -> Page[TeamPublic]:
    rows, total = service.list_teams(
        db_session=db_session,
        limit=page.limit,
        offset=page.offset,
        expert_id=expert_id,
        lead_expert_id=lead_expert_id,
        q=q,
        external_id=external_id,
    )
    items = [service.to_public(db_session=db_session, team=t) for t in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/{team_id}", response_model=TeamPublic)
def read_team(db_session: SessionDep, principal: CurrentPrincipal, team: TeamDep) -> TeamPublic:
    return service.to_public(db_session=db_session, team=team)


@router.patch("/{team_id}", response_model=TeamPublic)
def update_team(db_session: SessionDep, principal: CurrentPrincipal, team: TeamDep, body: TeamUpdate) -> TeamPublic:
    """Change a team: administrators anything, its lead the team's name and profile text."""
    team = service.update(db_session=db_session, team=team, team_in=body, principal=principal)
    return service.to_public(db_session=db_session, team=team)


@router.delete("/{team_id}", status_code=204)
def delete_team(db_session: SessionDep, principal: AdminPrincipal, team: TeamDep) -> Response:
    """Dissolve a team (administrators); refused with 409 while it has live engagements."""
    service.delete_team(db_session=db_session, team=team, principal=principal)
    return Response(status_code=204)


@router.get("/{team_id}/suggestions", response_model=Page[TeamDemandSuggestion])
def suggest_demands_for_team(
    request: Request,
    db_session: SessionDep,
    principal: CurrentPrincipal,
    live: LiveDep,
    team: TeamDep,
    limit: TeamLimit = 10,
    offset: Offset = 0,
    include_excluded: IncludeExcluded = False,
) -> Page[TeamDemandSuggestion]:
    """Open demands ranked for a team, with which member's profile matched each (administrators, its members)."""
    items, total = service.demand_suggestions(
        db_session=db_session,
        live=live,
        team=team,
        principal=principal,
        limit=limit,
        offset=offset,
        include_excluded=include_excluded,
        wait=request.app.state.settings.warmup_wait_s,
    )
    return Page(items=items, total=total, limit=limit, offset=offset)


@demand_router.get("/{demand_id}/team-suggestions", response_model=Page[TeamSuggestion])
def suggest_teams(
    request: Request,
    db_session: SessionDep,
    principal: CurrentPrincipal,
    live: LiveDep,
    demand_id: IdPath,
    limit: TeamLimit = 10,
    offset: Offset = 0,
    include_excluded: IncludeExcluded = False,
) -> Page[TeamSuggestion]:
    """Teams ranked for an open demand, each as one specialist, with which member's profile matched (administrators,
    the owning enterprise)."""
    items, total = service.team_suggestions(
        db_session=db_session,
        live=live,
        demand_id=demand_id,
        principal=principal,
        limit=limit,
        offset=offset,
        include_excluded=include_excluded,
        wait=request.app.state.settings.warmup_wait_s,
    )
    return Page(items=items, total=total, limit=limit, offset=offset)
