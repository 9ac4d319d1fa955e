"""Thin HTTP layer for specialists."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from service.auth import AdminPrincipal, CurrentPrincipal
from service.common import MAX_ID, IdPath, QueryText
from service.db import SessionDep
from service.demands.models import Origin
from service.experts import service
from service.experts.models import Expert, ExpertCreate, ExpertPublic, ExpertUpdate, InstitutionType
from service.pagination import Page, PageDep

router = APIRouter()


def expert_from_path(db_session: SessionDep, expert_id: IdPath) -> Expert:
    """Load the specialist named in the path, or 404."""
    return service.get(db_session=db_session, expert_id=expert_id)


ExpertDep = Annotated[Expert, Depends(expert_from_path)]


@router.post("", status_code=201, response_model=ExpertPublic)
def create_expert(db_session: SessionDep, principal: AdminPrincipal, body: ExpertCreate) -> ExpertPublic:
    expert = service.create(db_session=db_session, expert_in=body)
    return service.to_public(db_session=db_session, expert=expert, principal=principal)


@router.get("", response_model=Page[ExpertPublic])
def list_experts(
    db_session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    region: QueryText = None,
    origin: Annotated[Origin | None, Query()] = None,
    institution_type: Annotated[InstitutionType | None, Query()] = None,
    active: Annotated[bool | None, Query()] = None,
    q: QueryText = None,
    external_id: QueryText = None,
    unit_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="specialists this unit dispatches")] = None,
) -> Page[ExpertPublic]:
    rows, total = service.list_experts(
        db_session=db_session,
        limit=page.limit,
        offset=page.offset,
        region=region,
        origin=origin.value if origin else None,
        institution_type=institution_type.value if institution_type else None,
        active=active,
        q=q,
        external_id=external_id,
        unit_id=unit_id,
    )
    items = [service.to_public(db_session=db_session, expert=e, principal=principal) for e in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/{expert_id}", response_model=ExpertPublic)
def read_expert(db_session: SessionDep, principal: CurrentPrincipal, expert: ExpertDep) -> ExpertPublic:
    return service.to_public(db_session=db_session, expert=expert, principal=principal)


@router.patch("/{expert_id}", response_model=ExpertPublic)
def update_expert(
    db_session: SessionDep, principal: CurrentPrincipal, expert: ExpertDep, body: ExpertUpdate
) -> ExpertPublic:
    expert = service.update(db_session=db_session, expert=expert, expert_in=body, principal=principal)
    return service.to_public(db_session=db_session, expert=expert, principal=principal)


@router.delete("/{expert_id}", status_code=204)
def delete_expert(db_session: SessionDep, principal: AdminPrincipal, expert: ExpertDep) -> Response:
    service.delete(db_session=db_session, expert=expert)
    return Response(status_code=204)
