"""Thin HTTP layer for the settings view."""

from __future__ import annotations

from fastapi import APIRouter, Request

from service.auth import AdminPrincipal
from service.config import get_settings
from service.settings import service
from service.settings.models import MatchingSettings

router = APIRouter()


@router.get("/matching", response_model=MatchingSettings)
def read_matching_settings(request: Request, principal: AdminPrincipal) -> MatchingSettings:
    """Score weights, field weights and home province in force (administrators)."""
    settings = getattr(request.app.state, "settings", None) or get_settings()
    return service.matching_settings(settings=settings)
