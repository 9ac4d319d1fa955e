"""Enterprise business rules: creation, lookup, change, deletion, and who sees contact details."""

from __future__ import annotations

from sqlalchemy import or_
from sqlmodel import Session, col, select

from service.auth import Principal
from service.common import apply_patch, like_pattern
from service.enterprises.models import Enterprise, EnterpriseCreate, EnterprisePublic, EnterpriseUpdate
from service.errors import Forbidden, NotFound
from service.pagination import fetch_page
from service.relationships import can_see_enterprise_contact, ensure_demand_deletable


def get(*, db_session: Session, enterprise_id: int) -> Enterprise:
    """The enterprise, or 404."""
    enterprise = db_session.get(Enterprise, enterprise_id)
    if enterprise is None:
        raise NotFound(f"enterprise {enterprise_id} does not exist")
    return enterprise


def to_public(*, db_session: Session, enterprise: Enterprise, principal: Principal) -> EnterprisePublic:
    """The enterprise as this caller may see it (contact only for those entitled)."""
    public = EnterprisePublic.model_validate(enterprise)
    if not can_see_enterprise_contact(db_session=db_session, principal=principal, enterprise_id=enterprise.id):
        public.contact = None
    return public


def list_enterprises(
    *,
    db_session: Session,
    limit: int,
    offset: int,
    region: str | None = None,
    industry: str | None = None,
    size: str | None = None,
    q: str | None = None,
    external_id: str | None = None,
) -> tuple[list[Enterprise], int]:
    """A page of enterprises in id order, filtered, with the total."""
    query = select(Enterprise)
    if region:
        query = query.where(Enterprise.region == region)
    if industry:
        query = query.where(Enterprise.industry == industry)
    if size:
        query = query.where(Enterprise.size == size)
    if external_id:
        query = query.where(Enterprise.external_id == external_id)
    if q:
        pattern = like_pattern(q)
        query = query.where(
            or_(
                col(Enterprise.name).ilike(pattern, escape="\\"),
                col(Enterprise.credit_code).ilike(pattern, escape="\\"),
            )
        )
    return fetch_page(db_session, query, order_by=Enterprise.id, limit=limit, offset=offset)


def create(*, db_session: Session, enterprise_in: EnterpriseCreate) -> Enterprise:
    """Register an enterprise."""
    enterprise = Enterprise.model_validate(enterprise_in.model_dump(mode="json"))
    db_session.add(enterprise)
    db_session.commit()
    db_session.refresh(enterprise)
    return enterprise


def update(
    *, db_session: Session, enterprise: Enterprise, enterprise_in: EnterpriseUpdate, principal: Principal
) -> Enterprise:
    """Change an enterprise: administrators, or the enterprise itself."""
    if not (principal.is_admin or principal.is_enterprise(enterprise.id)):
        raise Forbidden("only administrators or the enterprise itself may change this enterprise")
    changes = enterprise_in.model_dump(mode="json", exclude_unset=True)
    apply_patch(enterprise, changes)
    db_session.add(enterprise)
    db_session.commit()
    db_session.refresh(enterprise)
    return enterprise


def delete(*, db_session: Session, enterprise: Enterprise) -> None:
    """Delete an enterprise and its demands, refused while any of them has live engagements."""
    from service.demands.models import Demand

    demands = db_session.exec(select(Demand).where(Demand.enterprise_id == enterprise.id)).all()
    for demand in demands:
        ensure_demand_deletable(db_session=db_session, demand_id=demand.id)
    for demand in demands:
        db_session.delete(demand)
    db_session.flush()
    db_session.delete(enterprise)
    db_session.commit()
