"""Unit business rules: administrators keep the records; a unit key sees its own contact and approves dispatches."""

from __future__ import annotations

from sqlmodel import Session, col, func, select

from service.auth import Principal
from service.common import apply_patch
from service.errors import Conflict, Forbidden, InvalidInput, NotFound
from service.experts.models import Expert
from service.pagination import fetch_page
from service.units.models import Unit, UnitCreate, UnitPublic, UnitUpdate


def get(*, db_session: Session, unit_id: int) -> Unit:
    """The unit, or 404."""
    unit = db_session.get(Unit, unit_id)
    if unit is None:
        raise NotFound(f"unit {unit_id} does not exist")
    return unit


def ensure_exists(*, db_session: Session, unit_id: int | None, field: str = "body.unit_id") -> None:
    """A unit named in a body must exist (422 naming the field)."""
    if unit_id is not None and db_session.get(Unit, unit_id) is None:
        raise InvalidInput.field(field, f"unit {unit_id} does not exist")


def to_public(*, unit: Unit, principal: Principal) -> UnitPublic:
    """The unit as this caller may see it: contact only for administrators and the unit itself."""
    public = UnitPublic.model_validate(unit)
    if not (principal.is_admin or principal.is_unit(unit.id)):
        public.contact = None
    return public


def list_units(
    *, db_session: Session, limit: int, offset: int, region: str | None = None, kind: str | None = None
) -> tuple[list[Unit], int]:
    """A page of units in id order, filtered, with the total."""
    query = select(Unit)
    if region:
        query = query.where(Unit.region == region)
    if kind:
        query = query.where(Unit.kind == kind)
    return fetch_page(db_session, query, order_by=col(Unit.id), limit=limit, offset=offset)


def create(*, db_session: Session, unit_in: UnitCreate) -> Unit:
    """Register a unit (administrators)."""
    unit = Unit.model_validate(unit_in.model_dump(mode="json"))
    db_session.add(unit)
    db_session.commit()
    db_session.refresh(unit)
    return unit


def update(*, db_session: Session, unit: Unit, unit_in: UnitUpdate, principal: Principal) -> Unit:
    """Administrators change anything; a unit its own name, region and contact, not whether it must approve."""
    changes = unit_in.model_dump(mode="json", exclude_unset=True)
    if not principal.is_admin:
        if not principal.is_unit(unit.id):
            raise Forbidden("only administrators or the unit itself may change this unit")
        if "approval_required" in changes:
            raise Forbidden(
                "only administrators may change approval_required",
                errors=[{"field": "body.approval_required", "message": "set by administrators", "type": "forbidden"}],
            )
    for name in ("name", "kind", "region", "approval_required"):
        if name in changes and changes[name] is None:
            raise InvalidInput.field(f"body.{name}", "must not be null")
    apply_patch(unit, changes)
    db_session.add(unit)
    db_session.commit()
    db_session.refresh(unit)
    return unit


def delete(*, db_session: Session, unit: Unit) -> None:
    """Delete a unit, refused while specialists carry it (move them first)."""
    carried = db_session.exec(select(func.count()).select_from(Expert).where(Expert.unit_id == unit.id)).one()
    if carried:
        raise Conflict(
            f"unit {unit.id} dispatches {carried} specialist(s); move them to another unit first",
            code="unit-has-experts",
            unit_id=unit.id,
            experts=carried,
        )
    db_session.delete(unit)
    db_session.commit()


def requires_approval(*, db_session: Session, unit_id: int | None) -> bool:
    """True when the specialist's unit must approve a dispatch before it becomes active."""
    if unit_id is None:
        return False
    unit = db_session.get(Unit, unit_id)
    return unit is not None and unit.approval_required
