"""Thin HTTP layer for dispatching units."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from service.auth import AdminPrincipal, CurrentPrincipal
from service.common import IdPath, QueryText
from service.db import SessionDep
from service.experts.models import InstitutionType
from service.pagination import Page, PageDep
from service.units import service
from service.units.models import Unit, UnitCreate, UnitPublic, UnitUpdate

router = APIRouter()


def unit_from_path(db_session: SessionDep, unit_id: IdPath) -> Unit:
    """Load the unit named in the path, or 404."""
    return service.get(db_session=db_session, unit_id=unit_id)


UnitDep = Annotated[Unit, Depends(unit_from_path)]


@router.post("", status_code=201, response_model=UnitPublic)
def create_unit(db_session: SessionDep, principal: AdminPrincipal, body: UnitCreate) -> UnitPublic:
    """Register a dispatching unit (administrators)."""
    return service.to_public(unit=service.create(db_session=db_session, unit_in=body), principal=principal)


@router.get("", response_model=Page[UnitPublic])
def list_units(
    db_session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    region: QueryText = None,
    kind: Annotated[InstitutionType | None, Query()] = None,
) -> Page[UnitPublic]:
    rows, total = service.list_units(
        db_session=db_session, limit=page.limit, offset=page.offset, region=region, kind=kind.value if kind else None
    )
    items = [service.to_public(unit=u, principal=principal) for u in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/{unit_id}", response_model=UnitPublic)
def read_unit(principal: CurrentPrincipal, unit: UnitDep) -> UnitPublic:
    return service.to_public(unit=unit, principal=principal)


@router.patch("/{unit_id}", response_model=UnitPublic)
def update_unit(db_session: SessionDep, principal: CurrentPrincipal, unit: UnitDep, body: UnitUpdate) -> UnitPublic:
    unit = service.update(db_session=db_session, unit=unit, unit_in=body, principal=principal)
    return service.to_public(unit=unit, principal=principal)


@router.delete("/{unit_id}", status_code=204)
def delete_unit(db_session: SessionDep, principal: AdminPrincipal, unit: UnitDep) -> Response:
    service.delete(db_session=db_session, unit=unit)
    return Response(status_code=204)
