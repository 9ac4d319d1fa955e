"""Thin HTTP layer for the programme's figures."""

from __future__ import annotations

from fastapi import APIRouter

from service.auth import AdminPrincipal
from service.db import SessionDep
from service.stats import service
from service.stats.models import ProgrammeStats

router = APIRouter()


@router.get("", response_model=ProgrammeStats)
def read_stats(db_session: SessionDep, principal: AdminPrincipal) -> ProgrammeStats:
    """The programme's figures (administrators: they describe every party)."""
    return service.programme_stats(db_session=db_session)
