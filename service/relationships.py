"""Cross-domain questions about how records are linked: who may see contact details, what may be deleted.

Engagements extend these answers: the other side of a live or past engagement (any status — an offer is already
live, and a declined, completed or terminated one is past) sees contact details and may still read the demand,
and a record with live engagements cannot be deleted.

Deletion policy: a demand, an enterprise (through its demands) or a specialist with any `offered` or `active`
engagement is refused with 409. Otherwise its past engagements, their service logs and any mutual-selection
interests go with it (ON DELETE CASCADE in the database): deleting a record removes the personal and commercial data
it carried, while the audit trail (which holds no foreign keys) keeps who did what to those engagements and when.
"""

from __future__ import annotations

from sqlmodel import Session, col, func, select

from service.auth import Principal
from service.demands.models import Demand
from service.engagements.models import LIVE_STATUSES, Engagement
from service.errors import Conflict
from service.experts.models import Expert


def _have_engaged(db_session: Session, *, expert_id: int | None, enterprise_id: int | None) -> bool:
    """True when the specialist and the enterprise have (or had) an engagement."""
    if expert_id is None or enterprise_id is None:
        return False
    found = db_session.exec(
        select(Engagement.id)
        .where(Engagement.expert_id == expert_id, Engagement.enterprise_id == enterprise_id)
        .limit(1)
    ).first()
    return found is not None


def can_see_enterprise_contact(*, db_session: Session, principal: Principal, enterprise_id: int | None) -> bool:
    """Administrators, the enterprise itself, and specialists it has (or had) an engagement with."""
    if principal.is_admin or principal.is_enterprise(enterprise_id):
        return True
    return principal.expert_id is not None and _have_engaged(
        db_session, expert_id=principal.expert_id, enterprise_id=enterprise_id
    )


def can_see_expert_contact(*, db_session: Session, principal: Principal, expert_id: int | None) -> bool:
    """Administrators, the specialist themself, their dispatching unit, and enterprises they have (or had) an
    engagement with."""
    if principal.is_admin or principal.is_expert(expert_id):
        return True
    if principal.unit_id is not None and expert_id is not None:
        expert = db_session.get(Expert, expert_id)
        return expert is not None and principal.is_unit(expert.unit_id)
    return principal.enterprise_id is not None and _have_engaged(
        db_session, expert_id=expert_id, enterprise_id=principal.enterprise_id
    )


def _live_count(db_session: Session, column: object, value: int) -> int:
    return db_session.exec(
        select(func.count()).select_from(Engagement).where(column == value, col(Engagement.status).in_(LIVE_STATUSES))  # type: ignore[operator]
    ).one()


def _locked_live_count(db_session: Session, model: type, column: object, record_id: int) -> int:
    """Lock the record as new engagements do, then count its live engagements: no selection slips in between."""
    db_session.exec(
        select(model.id).where(model.id == record_id).with_for_update()  # type: ignore[attr-defined]
    ).first()
    return _live_count(db_session, column, record_id)


def ensure_demand_deletable(*, db_session: Session, demand_id: int | None) -> None:
    """Raise Conflict when the demand has live engagements (its past ones are deleted with it)."""
    if demand_id is None:
        return
    live = _locked_live_count(db_session, Demand, Engagement.demand_id, demand_id)
    if live:
        raise Conflict(
            f"demand {demand_id} has {live} live engagement(s); decline, complete or terminate them first",
            code="demand-has-live-engagements",
            demand_id=demand_id,
            live_engagements=live,
        )


def ensure_expert_deletable(*, db_session: Session, expert_id: int | None) -> None:
    """Raise Conflict when the specialist has live engagements (their past ones are deleted with them)."""
    if expert_id is None:
        return
    live = _locked_live_count(db_session, Expert, Engagement.expert_id, expert_id)
    if live:
        raise Conflict(
            f"expert {expert_id} has {live} live engagement(s); decline, complete or terminate them first",
            code="expert-has-live-engagements",
            expert_id=expert_id,
            live_engagements=live,
        )


def ensure_capacity_fits(*, db_session: Session, expert_id: int | None, capacity: int) -> None:
    """Raise Conflict when a new capacity is below the specialist's live engagements (for the experts' PATCH)."""
    if expert_id is None:
        return
    live = _locked_live_count(db_session, Expert, Engagement.expert_id, expert_id)
    if capacity < live:
        raise Conflict(
            f"expert {expert_id} has {live} live engagement(s); capacity cannot go below that",
            code="capacity-below-load",
            expert_id=expert_id,
            live_engagements=live,
        )


def ensure_headcount_fits(*, db_session: Session, demand_id: int | None, headcount: int) -> None:
    """Raise Conflict when a new headcount is below the demand's live engagements (for the demands' PATCH)."""
    if demand_id is None:
        return
    live = _locked_live_count(db_session, Demand, Engagement.demand_id, demand_id)
    if headcount < live:
        raise Conflict(
            f"demand {demand_id} has {live} live engagement(s); headcount cannot go below that",
            code="headcount-below-engaged",
            demand_id=demand_id,
            live_engagements=live,
        )


def can_see_demand(*, db_session: Session, principal: Principal, demand: object) -> bool:
    """Everyone sees open demands; administrators and the owning enterprise all of theirs; a specialist (or their
    dispatching unit) the ones they have (or had) an engagement on, whatever their status."""
    status = getattr(demand, "status", None)
    if principal.is_admin or status == "open" or principal.is_enterprise(getattr(demand, "enterprise_id", None)):
        return True
    demand_id = getattr(demand, "id", None)
    if demand_id is None:
        return False
    if principal.expert_id is not None:
        party = Engagement.expert_id == principal.expert_id
    elif principal.unit_id is not None:
        party = Engagement.unit_id == principal.unit_id
    else:
        return False
    found = db_session.exec(select(Engagement.id).where(Engagement.demand_id == demand_id, party).limit(1)).first()
    return found is not None
