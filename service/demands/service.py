"""Demand business rules: ownership, the lifecycle, lookup and listing."""

from __future__ import annotations

from sqlalchemy import String, cast, or_
from sqlmodel import Session, col, select

from service.auth import Principal
from service.common import apply_patch, like_pattern, utcnow
from service.demands.models import (
    CLIENT_TRANSITIONS,
    Demand,
    DemandCreate,
    DemandPublic,
    DemandReview,
    DemandStatus,
    DemandUpdate,
    ReviewCreate,
    ReviewDecision,
)
from service.engagements.service import close_offers_of_cancelled, follow_engagements
from service.enterprises.models import Enterprise
from service.errors import Conflict, Forbidden, InvalidInput, NotFound
from service.events import service as events
from service.events.models import EventType
from service.pagination import fetch_page
from service.relationships import can_see_demand, ensure_demand_change_allowed, ensure_demand_deletable


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


def _announce(db_session: Session, demand: Demand, event: EventType, **data: object) -> None:
    """Record demand.published / demand.returned for the enterprise (and administrators') subscribers."""
    db_session.flush()
    events.record(
        db_session=db_session,
        type=event,
        data={"demand": DemandPublic.model_validate(demand).model_dump(mode="json"), **data},
        enterprises=[demand.enterprise_id],
    )


def build(
    *, db_session: Session, demand_in: DemandCreate, principal: Principal, review_required: bool = False
) -> Demand:
    """A new demand from a validated body, not yet committed: the shared path of the API and imports.

    With `review_required` (EXPERTMATCH_DEMAND_REVIEW) an enterprise's demand starts `draft` whatever its body says.
    """
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
    if review_required and not principal.is_admin:
        demand.status = DemandStatus.draft.value
    if demand.status == DemandStatus.open:
        demand.published_at = utcnow()
    return demand


def create(
    *, db_session: Session, demand_in: DemandCreate, principal: Principal, review_required: bool = False
) -> Demand:
    """Post a demand; an enterprise may post only its own."""
    demand = build(db_session=db_session, demand_in=demand_in, principal=principal, review_required=review_required)
    db_session.add(demand)
    if demand.status == DemandStatus.open:
        _announce(db_session, demand, EventType.demand_published)
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


def update(
    *,
    db_session: Session,
    demand: Demand,
    demand_in: DemandUpdate,
    principal: Principal,
    review_required: bool = False,
) -> Demand:
    """Change a demand's fields and, through `status`, its lifecycle."""
    ensure_can_change(principal=principal, demand=demand)
    changes = demand_in.model_dump(mode="json", exclude_unset=True)
    publishing = False
    if not principal.is_admin and demand.status == DemandStatus.in_review and changes.get("status") != "cancelled":
        raise Conflict(
            f"demand {demand.id} is in review; wait for the decision (or cancel it) before changing it",
            code="demand-in-review",
            demand_id=demand.id,
        )
    if "status" in changes and changes["status"] is not None:
        check_transition(demand.status, changes["status"])
        if (
            review_required
            and not principal.is_admin
            and changes["status"] == DemandStatus.open
            and demand.status != DemandStatus.open
        ):
            raise Conflict(
                "demands are reviewed before publication: POST /demands/{id}/submit, an administrator approves",
                code="review-required",
                demand_id=demand.id,
            )
        publishing = changes["status"] == DemandStatus.open and demand.status != DemandStatus.open
        if changes["status"] == DemandStatus.open and demand.published_at is None:
            demand.published_at = utcnow()
        if changes["status"] == DemandStatus.cancelled and demand.status != DemandStatus.cancelled:
            close_offers_of_cancelled(db_session, demand=demand, actor=principal)
    ensure_demand_change_allowed(db_session=db_session, demand_id=demand.id, changes=changes)
    if "deadline" in changes:
        changes["deadline"] = demand_in.deadline
    apply_patch(demand, changes)
    db_session.add(demand)
    if "headcount" in changes:
        # A larger headcount reopens a matched demand; a smaller one may fill an open one.
        follow_engagements(db_session, demand=demand, actor=principal, may_reopen=True)
    if publishing:
        _announce(db_session, demand, EventType.demand_published)
    db_session.commit()
    db_session.refresh(demand)
    return demand


def delete(*, db_session: Session, demand: Demand, principal: Principal) -> None:
    """Delete a demand, refused while it has live engagements."""
    ensure_can_change(principal=principal, demand=demand)
    ensure_demand_deletable(db_session=db_session, demand_id=demand.id)
    db_session.delete(demand)
    db_session.commit()


# --- review (SPEC §7.1) ----------------------------------------------------------------------------------------


def _lock(db_session: Session, demand_id: int) -> Demand:
    demand = db_session.exec(
        select(Demand).where(Demand.id == demand_id).with_for_update().execution_options(populate_existing=True)
    ).first()
    if demand is None:
        raise NotFound(f"demand {demand_id} does not exist")
    return demand


def _history(db_session: Session, *, demand: Demand, action: str, comment: str, principal: Principal) -> None:
    db_session.add(
        DemandReview(
            demand_id=demand.id,  # type: ignore[arg-type]
            action=action,
            comment=comment,
            actor_role=str(principal.role),
            actor_key_id=principal.key_id,
        )
    )


def submit(*, db_session: Session, demand: Demand, principal: Principal) -> Demand:
    """The enterprise (or an administrator) submits a draft for review: draft → in_review."""
    ensure_can_change(principal=principal, demand=demand)
    demand = _lock(db_session, demand.id)  # type: ignore[arg-type]
    if demand.status != DemandStatus.draft:
        raise Conflict(
            f"only a draft can be submitted for review; demand {demand.id} is '{demand.status}'",
            code="illegal-demand-transition",
            from_status=demand.status,
            to_status=DemandStatus.in_review.value,
        )
    demand.status = DemandStatus.in_review.value
    db_session.add(demand)
    _history(db_session, demand=demand, action="submitted", comment="", principal=principal)
    db_session.commit()
    db_session.refresh(demand)
    return demand


def review(*, db_session: Session, demand: Demand, review_in: ReviewCreate, principal: Principal) -> Demand:
    """An administrator's decision: approve (in_review → open, published) or return (→ draft, with the comment)."""
    if not principal.is_admin:
        raise Forbidden("only administrators review demands")
    demand = _lock(db_session, demand.id)  # type: ignore[arg-type]
    approve = review_in.decision is ReviewDecision.approve
    target = DemandStatus.open if approve else DemandStatus.draft
    if demand.status != DemandStatus.in_review:
        raise Conflict(
            f"only a demand in review can be reviewed; demand {demand.id} is '{demand.status}'",
            code="demand-not-in-review",
            from_status=demand.status,
            to_status=target.value,
        )
    if not approve and not review_in.comment:
        raise InvalidInput.field("body.comment", "say what to change when returning a demand")
    demand.status = target.value
    if approve and demand.published_at is None:
        demand.published_at = utcnow()
    db_session.add(demand)
    _history(
        db_session,
        demand=demand,
        action="approved" if approve else "returned",
        comment=review_in.comment,
        principal=principal,
    )
    if approve:
        _announce(db_session, demand, EventType.demand_published, comment=review_in.comment)
    else:
        _announce(db_session, demand, EventType.demand_returned, comment=review_in.comment)
    db_session.commit()
    db_session.refresh(demand)
    return demand


def list_reviews(
    *, db_session: Session, demand: Demand, principal: Principal, limit: int, offset: int
) -> tuple[list[DemandReview], int]:
    """The demand's review history, oldest first (administrators and the owning enterprise)."""
    ensure_can_change(principal=principal, demand=demand)
    query = select(DemandReview).where(DemandReview.demand_id == demand.id)
    return fetch_page(db_session, query, order_by=col(DemandReview.id), limit=limit, offset=offset)
