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

from typing import Any

from sqlmodel import Session, col, func, select

from service.auth import Principal
from service.demands.models import Demand
from service.engagements.models import LIVE_STATUSES, Engagement
from service.errors import Conflict
from service.experts.models import Expert
from service.teams.models import Team, TeamMember


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
    led = sorted(db_session.exec(select(Team.id).where(Team.lead_expert_id == expert_id)).all())
    if led:
        # A team's capacity is its lead's: name another lead (PATCH /teams/{id}) or delete the team first.
        raise Conflict(
            f"expert {expert_id} leads team(s) {', '.join(map(str, led))}; give them another lead or delete them first",
            code="expert-leads-team",
            expert_id=expert_id,
            team_ids=led,
        )


def _lock(db_session: Session, model: type, record_id: int) -> None:
    """Lock the record as new engagements do, so that no selection slips in between the check and the write."""
    db_session.exec(
        select(model.id).where(model.id == record_id).with_for_update()  # type: ignore[attr-defined]
    ).first()


def _ids(engagements: list[Engagement]) -> list[int]:
    return sorted(e.id for e in engagements if e.id is not None)


def ensure_expert_change_allowed(*, db_session: Session, expert_id: int | None, changes: dict[str, Any]) -> None:
    """Raise Conflict, naming the live engagements in the way, when a PATCH of a specialist would break SPEC §2.

    Against the specialist's offered and active engagements: `capacity` may not go below their number, `active` may
    not become false while there are any, `conflicts` may not name an enterprise one of them serves, and `origin` may
    not leave an origin one of their demands requires.
    """
    watched = {name for name in ("capacity", "active", "conflicts", "origin") if changes.get(name) is not None}
    if expert_id is None or not watched:
        return
    _lock(db_session, Expert, expert_id)
    live = db_session.exec(
        select(Engagement, Demand)
        .join(Demand, col(Demand.id) == col(Engagement.demand_id))
        .where(Engagement.expert_id == expert_id, col(Engagement.status).in_(LIVE_STATUSES))
        .order_by(col(Engagement.id))
    ).all()
    # A team's engagement engages every member (SPEC §8.4): their conflicts and activity count, not their capacity.
    as_member = db_session.exec(
        select(Engagement)
        .join(TeamMember, col(TeamMember.team_id) == col(Engagement.team_id))
        .where(
            TeamMember.expert_id == expert_id,
            Engagement.expert_id != expert_id,
            col(Engagement.status).in_(LIVE_STATUSES),
        )
        .order_by(col(Engagement.id))
    ).all()
    if not live and not as_member:
        return
    engagements = [e for e, _ in live]
    engaged = sorted([*engagements, *as_member], key=lambda e: e.id or 0)
    if "capacity" in watched and changes["capacity"] < len(live):
        raise Conflict(
            f"expert {expert_id} has {len(live)} live engagement(s) ({_list(engagements)}); capacity cannot go "
            "below that",
            code="capacity-below-load",
            errors=[_field("capacity", f"below the {len(live)} live engagement(s)")],
            expert_id=expert_id,
            live_engagements=len(live),
            engagement_ids=_ids(engagements),
        )
    if "active" in watched and changes["active"] is False and engaged:
        raise Conflict(
            f"expert {expert_id} has live engagement(s) ({_list(engaged)}); decline, complete or terminate "
            "them before deactivating",
            code="expert-has-live-engagements",
            errors=[_field("active", "the specialist has live engagements")],
            expert_id=expert_id,
            engagement_ids=_ids(engaged),
        )
    if "conflicts" in watched:
        conflicts = set(changes["conflicts"])
        clashes = [e for e in engaged if e.enterprise_id in conflicts]
        if clashes:
            enterprises = sorted({e.enterprise_id for e in clashes})
            raise Conflict(
                f"expert {expert_id} serves enterprise(s) {', '.join(map(str, enterprises))} in live engagement(s) "
                f"({_list(clashes)}); end them before declaring a conflict of interest",
                code="conflict-with-live-engagement",
                errors=[_field("conflicts", f"enterprise {n} is served in a live engagement") for n in enterprises],
                expert_id=expert_id,
                enterprise_ids=enterprises,
                engagement_ids=_ids(clashes),
            )
    if "origin" in watched:
        origin = changes["origin"]
        clashes = [e for e, d in live if d.accepted_origins and origin not in d.accepted_origins]
        if clashes:
            raise Conflict(
                f"live engagement(s) ({_list(clashes)}) of expert {expert_id} are on demands that do not accept "
                f"specialists from '{origin}'",
                code="origin-not-accepted-by-live-engagement",
                errors=[_field("origin", f"not accepted by the demand of engagement(s) {_list(clashes)}")],
                expert_id=expert_id,
                engagement_ids=_ids(clashes),
            )


def ensure_demand_change_allowed(*, db_session: Session, demand_id: int | None, changes: dict[str, Any]) -> None:
    """Raise Conflict, naming the live engagements in the way, when a PATCH of a demand would break SPEC §2.

    Against the demand's offered and active engagements: `headcount` may not go below their number, and
    `accepted_origins` must keep accepting each of their specialists' origin.
    """
    watched = {name for name in ("headcount", "accepted_origins") if changes.get(name) is not None}
    if demand_id is None or not watched:
        return
    _lock(db_session, Demand, demand_id)
    live = db_session.exec(
        select(Engagement, Expert)
        .join(Expert, col(Expert.id) == col(Engagement.expert_id))
        .where(Engagement.demand_id == demand_id, col(Engagement.status).in_(LIVE_STATUSES))
        .order_by(col(Engagement.id))
    ).all()
    if not live:
        return
    engagements = [e for e, _ in live]
    if "headcount" in watched and changes["headcount"] < len(live):
        raise Conflict(
            f"demand {demand_id} has {len(live)} live engagement(s) ({_list(engagements)}); headcount cannot go "
            "below that",
            code="headcount-below-engaged",
            errors=[_field("headcount", f"below the {len(live)} live engagement(s)")],
            demand_id=demand_id,
            live_engagements=len(live),
            engagement_ids=_ids(engagements),
        )
    origins = changes.get("accepted_origins")
    if origins:
        clashes = [e for e, x in live if x.origin not in origins]
        if clashes:
            raise Conflict(
                f"live engagement(s) ({_list(clashes)}) of demand {demand_id} are with specialists whose origin "
                "the new accepted_origins leaves out",
                code="origin-not-accepted-by-live-engagement",
                errors=[_field("accepted_origins", f"leaves out the specialist of engagement(s) {_list(clashes)}")],
                demand_id=demand_id,
                engagement_ids=_ids(clashes),
            )


def _list(engagements: list[Engagement]) -> str:
    return "engagement " + ", ".join(str(e.id) for e in engagements)


def _field(name: str, message: str) -> dict[str, str]:
    return {"field": f"body.{name}", "message": message, "type": "conflict"}


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
