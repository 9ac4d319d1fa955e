"""Demand business rules: ownership, the lifecycle, lookup and listing."""

from __future__ import annotations

from sqlalchemy import String, cast, or_
from sqlmodel import Session, col, select

from service.auth import Principal
from service.common import apply_patch, like_pattern, utcnow
from service.demands.models import CLIENT_TRANSITIONS, Demand, DemandCreate, DemandStatus, DemandUpdate
from service.engagements.service import close_offers_of_cancelled, follow_engagements
from service.enterprises.models import Enterprise
from service.errors import Conflict, Forbidden, InvalidInput, NotFound
from service.pagination import fetch_page
from service.relationships import can_see_demand, ensure_demand_deletable, ensure_headcount_fits


def get(*, db_session: Session, demand_id: int) -> Demand:
    """The demand, or 404."""
    demand = db_session.get(Demand, demand_id)
    if demand is None:
        raise NotFound(f"demand {demand_id} does not exist")
    return demand


def get_visible(*, db_session: Session, demand_id: int, principal: Principal) -> Demand:
    """The demand if this caller may read it: 404 when missing, 403 when it is another party's unpublished one."""
    demand = get(db_session=db_session, demand_id=demand_id)
    if not can_see_demand(db_session=db_session, principal=principal, demand=demand):
        raise Forbidden(f"demand {demand_id} is not open and belongs to another enterprise")
    return demand


def ensure_can_change(*, principal: Principal, demand: Demand) -> None:
    """Only administrators and the owning enterprise change a demand."""
    if not (principal.is_admin or principal.is_enterprise(demand.enterprise_id)):
        raise Forbidden("only administrators or the owning enterprise may change this demand")


def list_demands(
    *,
    db_session: Session,
    principal: Principal,
    limit: int,
    offset: int,
    status: DemandStatus | None = None,
    region: str | None = None,
    industry: str | None = None,
    category: str | None = None,
    enterprise_id: int | None = None,
    q: str | None = None,
    external_id: str | None = None,
) -> tuple[list[Demand], int]:
    """A page of the demands this caller may see, in id order, filtered, with the total."""
    query = select(Demand)
    if not principal.is_admin:
        visible = col(Demand.status) == DemandStatus.open.value
        if principal.enterprise_id is not None:
            visible = or_(visible, col(Demand.enterprise_id) == principal.enterprise_id)
        query = query.where(visible)
    filters = {
        Demand.status: status.value if status else None,
        Demand.region: region,
        Demand.industry: industry,
        Demand.category: category,
        Demand.enterprise_id: enterprise_id,
        Demand.external_id: external_id,
    }
    for column, value in filters.items():
        if value is not None and value != "":
            query = query.where(column == value)
    if q:
        pattern = like_pattern(q)
        query = query.where(
            or_(
                col(Demand.title).ilike(pattern, escape="\\"),
                col(Demand.description).ilike(pattern, escape="\\"),
                cast(Demand.keywords, String).ilike(pattern, escape="\\"),
            )
        )
    return fetch_page(db_session, query, order_by=Demand.id, limit=limit, offset=offset)


def build(*, db_session: Session, demand_in: DemandCreate, principal: Principal) -> Demand:
    """A new demand from a validated body, not yet committed: the shared path of the API and imports."""
    if not (principal.is_admin or principal.is_enterprise(demand_in.enterprise_id)):
        raise Forbidden("an enterprise may create demands only for itself")
    enterprise = db_session.get(Enterprise, demand_in.enterprise_id)
    if enterprise is None:
        raise InvalidInput.field("body.enterprise_id", f"enterprise {demand_in.enterprise_id} does not exist")
    data = demand_in.model_dump(mode="json")
    if data["region"] is None:
        data["region"] = enterprise.region
    demand = Demand.model_validate(data)
    demand.deadline = demand_in.deadline
    if demand.status == DemandStatus.open:
        demand.published_at = utcnow()
    return demand


def create(*, db_session: Session, demand_in: DemandCreate, principal: Principal) -> Demand:
    """Post a demand; an enterprise may post only its own."""
    demand = build(db_session=db_session, demand_in=demand_in, principal=principal)
    db_session.add(demand)
    db_session.commit()
    db_session.refresh(demand)
    return demand


def check_transition(current: str, target: str) -> None:
    """Raise 409 naming both states when a client asks for a move the lifecycle does not allow."""
    if current == target:
        return
    if DemandStatus(target) not in CLIENT_TRANSITIONS[DemandStatus(current)]:
        raise Conflict(
            f"a demand cannot move from '{current}' to '{target}'",
            code="illegal-demand-transition",
            from_status=current,
            to_status=target,
        )


def update(*, db_session: Session, demand: Demand, demand_in: DemandUpdate, principal: Principal) -> Demand:
    """Change a demand's fields and, through `status`, its lifecycle."""
    ensure_can_change(principal=principal, demand=demand)
    changes = demand_in.model_dump(mode="json", exclude_unset=True)
    if "status" in changes and changes["status"] is not None:
        check_transition(demand.status, changes["status"])
        if changes["status"] == DemandStatus.open and demand.published_at is None:
            demand.published_at = utcnow()
        if changes["status"] == DemandStatus.cancelled and demand.status != DemandStatus.cancelled:
            close_offers_of_cancelled(db_session, demand=demand, actor=principal)
    if changes.get("headcount") is not None:
        ensure_headcount_fits(db_session=db_session, demand_id=demand.id, headcount=changes["headcount"])
    if "deadline" in changes:
        changes["deadline"] = demand_in.deadline
    apply_patch(demand, changes)
    db_session.add(demand)
    if "headcount" in changes:
        # A larger headcount reopens a matched demand; a smaller one may fill an open one.
        follow_engagements(db_session, demand=demand, actor=principal, may_reopen=True)
    db_session.commit()
    db_session.refresh(demand)
    return demand


def delete(*, db_session: Session, demand: Demand, principal: Principal) -> None:
    """Delete a demand, refused while it has live engagements."""
    ensure_can_change(principal=principal, demand=demand)
    ensure_demand_deletable(db_session=db_session, demand_id=demand.id)
    db_session.delete(demand)
    db_session.commit()
