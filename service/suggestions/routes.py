"""Thin HTTP layer for suggestions: GET /demands/{id}/suggestions and GET /experts/{id}/suggestions.

The bodies are rendered JSON bytes (see `service.suggestions.pages`); `response_model` documents their shape.
"""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from service.auth import CurrentPrincipal
from service.common import IdPath
from service.db import SessionDep
from service.pagination import MAX_OFFSET, Page
from service.suggestions import service
from service.suggestions.live import LiveMatcher, matcher_factory
from service.suggestions.models import DemandSuggestion, ExpertSuggestion

demand_router = APIRouter()  # mounted at /demands
expert_router = APIRouter()  # mounted at /experts

MAX_SUGGESTIONS = 1000


_attach = threading.Lock()


async def live_matcher(request: Request) -> LiveMatcher:
    """The worker's matcher, built in the lifespan (or now, for an application started without its lifespan);
    on the event loop, as it only reads the application's state (building one does not touch the database)."""
    live = getattr(request.app.state, "matcher", None)
    if live is None:
        with _attach:
            live = getattr(request.app.state, "matcher", None)
            if live is None:
                settings = request.app.state.settings
                live = request.app.state.matcher = LiveMatcher(
                    request.app.state.engine,
                    cache_bytes=settings.suggestion_cache_mib * 2**20,
                    factory=matcher_factory(settings),
                )
    return live


LiveDep = Annotated[LiveMatcher, Depends(live_matcher)]
Limit = Annotated[int, Query(ge=1, le=MAX_SUGGESTIONS, description="page size (explanations cost per item)")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="items to skip")]
IncludeExcluded = Annotated[
    bool, Query(description="also list pairs a hard rule forbids, after the others, with the rules they break")
]


@demand_router.get("/{demand_id}/suggestions", response_model=Page[ExpertSuggestion])
def suggest_experts(
    request: Request,
    db_session: SessionDep,
    principal: CurrentPrincipal,
    live: LiveDep,
    demand_id: IdPath,
    limit: Limit = 10,
    offset: Offset = 0,
    include_excluded: IncludeExcluded = False,
) -> Response:
    """Specialists ranked for an open demand, with the reasons behind each (administrators, the enterprise)."""
    body = service.expert_suggestions(
        db_session=db_session,
        live=live,
        demand_id=demand_id,
        principal=principal,
        limit=limit,
        offset=offset,
        include_excluded=include_excluded,
        wait=request.app.state.settings.warmup_wait_s,
    )
    return Response(body, media_type="application/json")


@expert_router.get("/{expert_id}/suggestions", response_model=Page[DemandSuggestion])
def suggest_demands(
    request: Request,
    db_session: SessionDep,
    principal: CurrentPrincipal,
    live: LiveDep,
    expert_id: IdPath,
    limit: Limit = 10,
    offset: Offset = 0,
    include_excluded: IncludeExcluded = False,
) -> Response:
    """Open demands ranked for a specialist, with the reasons behind each (administrators, the specialist)."""
    body = service.demand_suggestions(
        db_session=db_session,
        live=live,
        expert_id=expert_id,
        principal=principal,
        limit=limit,
        offset=offset,
        include_excluded=include_excluded,
        wait=request.app.state.settings.warmup_wait_s,
    )
    return Response(body, media_type="application/json")
