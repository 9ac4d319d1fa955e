"""Engagement business rules: the invariants of SPEC §2 under locks, the lifecycle, selections, interests, logs.

Concurrency. Every transaction that creates an engagement or changes one's status first locks the specialist row,
then the demand row (`SELECT … FOR UPDATE` on PostgreSQL), always in that order so that two workflows never wait on
each other in a cycle; only then does it count live engagements and write. On SQLite the engine starts every
transaction with BEGIN IMMEDIATE, so writers are serialised anyway and `FOR UPDATE` is simply not rendered.
A partial unique index (one live engagement per pair) is the database's own backstop.

Who may do what (administrators may do everything, on anyone's behalf):
- select a specialist for a demand: the enterprise owning the demand;
- accept or decline an offer: the specialist;
- complete an active engagement: the enterprise (it confirms the service was delivered);
- terminate an active engagement early: either party;
- write a service log: the specialist, while the engagement is active;
- rate: the enterprise, once, after completion;
- read an engagement, its logs, and list engagements: the two parties.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlmodel import Session, SQLModel, col, func, select

from service import audit
from service.auth import Principal
from service.common import utcnow
from service.demands.models import Demand, DemandStatus
from service.engagements.models import (
    LIVE_STATUSES,
    TRANSITIONS,
    Approvals,
    Engagement,
    EngagementLog,
    EngagementMode,
    EngagementPublic,
    EngagementStatus,
    Interest,
    InterestPublic,
    InterestSide,
    RatingCreate,
    ServiceLogCreate,
)
from service.errors import Conflict, Forbidden, InvalidInput, NotFound
from service.events import service as events
from service.events.models import EventType
from service.experts.models import Expert
from service.pagination import fetch_page
from service.teams.models import Team, TeamMember
from service.units.service import requires_approval

if TYPE_CHECKING:
    from service.suggestions.live import PairScorer

M = TypeVar("M", bound=SQLModel)

ENGAGEMENT = "engagement"
INTEREST = "interest"


# --- locks and invariant checks -------------------------------------------------------------------------------


def _locked(db_session: Session, model: type[M], ids: Iterable[int]) -> dict[int, M]:
    """Lock rows of one table FOR UPDATE in id order and return them fresh from the database."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    statement = (
        select(model)
        .where(col(model.id).in_(wanted))  # type: ignore[attr-defined]
        .order_by(col(model.id))  # type: ignore[attr-defined]
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {row.id: row for row in db_session.exec(statement).all()}  # type: ignore[attr-defined]


def lock_parties(
    *, db_session: Session, expert_ids: Iterable[int], demand_ids: Iterable[int]
) -> tuple[dict[int, Expert], dict[int, Demand]]:
    """Lock specialists then demands, each in id order: call this first when one transaction opens many engagements."""
    experts = _locked(db_session, Expert, expert_ids)
    demands = _locked(db_session, Demand, demand_ids)
    return experts, demands


def _lock_pair(db_session: Session, *, expert_id: int, demand_id: int) -> tuple[Expert | None, Demand | None]:
    experts, demands = lock_parties(db_session=db_session, expert_ids=[expert_id], demand_ids=[demand_id])
    return experts.get(expert_id), demands.get(demand_id)


def _count(db_session: Session, *conditions: Any) -> int:
    return db_session.exec(select(func.count()).select_from(Engagement).where(*conditions)).one()


def expert_load(*, db_session: Session, expert_id: int) -> int:
    """The specialist's offered + active engagements."""
    return _count(db_session, col(Engagement.expert_id) == expert_id, col(Engagement.status).in_(LIVE_STATUSES))


def demand_filled(*, db_session: Session, demand_id: int, statuses: Iterable[str] = LIVE_STATUSES) -> int:
    """The demand's engagements in these statuses (offered + active unless told otherwise)."""
    return _count(db_session, col(Engagement.demand_id) == demand_id, col(Engagement.status).in_(list(statuses)))


def _live_pair(db_session: Session, *, expert_id: int, demand_id: int) -> Engagement | None:
    """The specialist's live engagement on the demand: their own (solo or as a team's lead) or a team's they are a
    member of (SPEC §8.4: a team's engagement engages every member)."""
    own = db_session.exec(
        select(Engagement).where(
            Engagement.expert_id == expert_id,
            Engagement.demand_id == demand_id,
            col(Engagement.status).in_(LIVE_STATUSES),
        )
    ).first()
    if own is not None:
        return own
    return db_session.exec(
        select(Engagement)
        .join(TeamMember, col(TeamMember.team_id) == col(Engagement.team_id))
        .where(
            TeamMember.expert_id == expert_id,
            Engagement.demand_id == demand_id,
            col(Engagement.status).in_(LIVE_STATUSES),
        )
    ).first()


def _check_eligible(*, expert: Expert, demand: Demand) -> None:
    """The rules that make a pair impossible whatever the load: demand not open, inactive, conflict, origin."""
    if demand.status != DemandStatus.open:
        raise Conflict(
            f"demand {demand.id} is '{demand.status}'; only open demands can be selected",
            code="demand-not-open",
            demand_id=demand.id,
            demand_status=demand.status,
        )
    if not expert.active:
        raise Conflict(f"expert {expert.id} is inactive", code="expert-inactive", expert_id=expert.id)
    if demand.enterprise_id in (expert.conflicts or []):
        raise Conflict(
            f"expert {expert.id} has a conflict of interest with enterprise {demand.enterprise_id}",
            code="conflict-of-interest",
            expert_id=expert.id,
            enterprise_id=demand.enterprise_id,
        )
    if demand.accepted_origins and expert.origin not in demand.accepted_origins:
        raise Conflict(
            f"demand {demand.id} accepts specialists from {', '.join(demand.accepted_origins)}, not '{expert.origin}'",
            code="origin-not-accepted",
            demand_id=demand.id,
            expert_origin=expert.origin,
            accepted_origins=list(demand.accepted_origins),
        )


def _check_pair_free(db_session: Session, *, expert: Expert, demand: Demand) -> None:
    live = _live_pair(db_session, expert_id=expert.id, demand_id=demand.id)  # type: ignore[arg-type]
    if live is not None:
        through = f" through team {live.team_id}" if live.team_id is not None else ""
        raise Conflict(
            f"expert {expert.id} already has a live engagement ({live.id}, '{live.status}'){through} on demand "
            f"{demand.id}",
            code="pair-already-engaged",
            engagement_id=live.id,
            expert_id=expert.id,
            team_id=live.team_id,
        )


def _check_team_eligible(*, team: Team, members: list[Expert], demand: Demand) -> None:
    """A team is selectable when every member is active and none has a conflict with the demand's enterprise (the
    lead's own rules, origin included, are `_check_eligible`'s)."""
    for member in members:
        if not member.active:
            raise Conflict(
                f"expert {member.id}, a member of team {team.id}, is inactive",
                code="expert-inactive",
                expert_id=member.id,
                team_id=team.id,
            )
        if demand.enterprise_id in (member.conflicts or []):
            raise Conflict(
                f"expert {member.id}, a member of team {team.id}, has a conflict of interest with enterprise "
                f"{demand.enterprise_id}",
                code="conflict-of-interest",
                expert_id=member.id,
                team_id=team.id,
                enterprise_id=demand.enterprise_id,
            )


def lock_team(db_session: Session, team_id: int) -> Team | None:
    """Lock the team row FOR UPDATE (before any specialist or demand: the one lock order) and re-read it."""
    return _locked(db_session, Team, [team_id]).get(team_id)


def check_team_members(db_session: Session, *, team: Team, members: list[Expert], demand: Demand) -> None:
    """Every rule a member of a team engaged on the demand must pass: active, no conflict with its enterprise, not
    engaged on it otherwise (409 naming the rule and the member)."""
    _check_team_eligible(team=team, members=members, demand=demand)
    for member in members:
        _check_pair_free(db_session, expert=member, demand=demand)


def team_member_ids(db_session: Session, team_id: int) -> list[int]:
    """The team's members (its lead among them), in id order."""
    return list(
        db_session.exec(
            select(TeamMember.expert_id).where(TeamMember.team_id == team_id).order_by(col(TeamMember.expert_id))
        ).all()
    )


def _check_room(db_session: Session, *, expert: Expert, demand: Demand, adding: int = 1) -> None:
    """Capacity and headcount: `adding` more live engagements must still fit."""
    load = expert_load(db_session=db_session, expert_id=expert.id)  # type: ignore[arg-type]
    if load + adding > expert.capacity:
        raise Conflict(
            f"expert {expert.id} already serves {load} of {expert.capacity} enterprises at once",
            code="expert-capacity-full",
            expert_id=expert.id,
            capacity=expert.capacity,
            load=load,
        )
    filled = demand_filled(db_session=db_session, demand_id=demand.id)  # type: ignore[arg-type]
    if filled + adding > demand.headcount:
        raise Conflict(
            f"demand {demand.id} already has {filled} of {demand.headcount} specialists offered or engaged",
            code="demand-headcount-full",
            demand_id=demand.id,
            headcount=demand.headcount,
            filled=filled,
        )


def check_pair_possible(db_session: Session, *, expert: Expert, demand: Demand) -> None:
    """Every rule an engagement of this pair would have to pass now (409 naming the first that fails)."""
    _check_eligible(expert=expert, demand=demand)
    _check_pair_free(db_session, expert=expert, demand=demand)
    _check_room(db_session, expert=expert, demand=demand)


def follow_engagements(db_session: Session, *, demand: Demand, actor: Principal, may_reopen: bool) -> None:
    """Keep the demand's status in step: `matched` once active engagements fill it, `open` again after a loss."""
    db_session.flush()
    active = demand_filled(
        db_session=db_session,
        demand_id=demand.id,  # type: ignore[arg-type]
        statuses=[EngagementStatus.active.value],
    )
    before = demand.status
    if before == DemandStatus.open and active >= demand.headcount:
        demand.status = DemandStatus.matched.value
        action = "matched"
    elif may_reopen and before == DemandStatus.matched and active < demand.headcount:
        demand.status = DemandStatus.open.value
        action = "reopened"
    else:
        return
    db_session.add(demand)
    audit.record(
        db_session=db_session,
        entity="demand",
        entity_id=demand.id,  # type: ignore[arg-type]
        action=action,
        actor=actor,
        from_status=before,
        to_status=demand.status,
        detail={"active": active, "headcount": demand.headcount},
    )


def announce(db_session: Session, engagement: Engagement, **data: Any) -> None:
    """Record `engagement.<status>` in the outbox for its three parties (one call per status change)."""
    db_session.flush()
    events.record(
        db_session=db_session,
        type=EventType(f"engagement.{engagement.status}"),
        data={"engagement": to_public(engagement).model_dump(mode="json"), **data},
        enterprises=[engagement.enterprise_id],
        experts=[engagement.expert_id],
        units=[engagement.unit_id],
    )


def activation_status(db_session: Session, *, expert: Expert) -> EngagementStatus:
    """`approving` when the specialist's unit must approve a dispatch (SPEC §7.2), else `active`."""
    if requires_approval(db_session=db_session, unit_id=expert.unit_id):
        return EngagementStatus.approving
    return EngagementStatus.active


def close_offers_of_cancelled(db_session: Session, *, demand: Demand, actor: Principal) -> int:
    """Cancelling a demand: refused while specialists are active on it; its pending offers are declined with it."""
    _locked(db_session, Demand, [demand.id])  # type: ignore[list-item]
    active = demand_filled(db_session=db_session, demand_id=demand.id, statuses=[EngagementStatus.active.value])  # type: ignore[arg-type]
    if active:
        raise Conflict(
            f"demand {demand.id} has {active} active engagement(s); complete or terminate them to cancel it",
            code="demand-has-active-engagements",
            demand_id=demand.id,
            active_engagements=active,
        )
    pending = (EngagementStatus.offered.value, EngagementStatus.approving.value)
    offers = db_session.exec(
        select(Engagement)
        .where(Engagement.demand_id == demand.id, col(Engagement.status).in_(pending))
        .with_for_update()
    ).all()
    now = utcnow()
    for engagement in offers:
        before = engagement.status
        engagement.status, engagement.ended_at = EngagementStatus.declined.value, now
        db_session.add(engagement)
        audit.record(
            db_session=db_session,
            entity=ENGAGEMENT,
            entity_id=engagement.id,  # type: ignore[arg-type]
            action="declined",
            actor=actor,
            from_status=before,
            to_status=EngagementStatus.declined.value,
            detail={"reason": "demand cancelled"},
        )
        announce(db_session, engagement, reason="demand cancelled")
    return len(offers)


# --- the core function every workflow calls -------------------------------------------------------------------


def open_engagement(
    *,
    db_session: Session,
    demand_id: int,
    expert_id: int,
    mode: EngagementMode,
    status: EngagementStatus,
    score: float | None,
    actor: Principal,
    round_id: int | None = None,
    assignment_id: int | None = None,
    bid_id: int | None = None,
    team_id: int | None = None,
    commit: bool = True,
) -> Engagement:
    """Create an `offered` or `active` engagement (`approving` when the unit must approve), checking every invariant.

    The caller has already checked that `actor` may do this. Raises NotFound for a missing demand or specialist and
    Conflict (demand-not-open, expert-inactive, pair-already-engaged, conflict-of-interest, origin-not-accepted,
    expert-capacity-full, demand-headcount-full) naming what broke. With `commit=False` the caller commits (and
    rolls back on error); a caller opening several engagements in one transaction calls `lock_parties` for all of
    them first, so that every transaction takes its locks in the same order.

    With `team_id` (SPEC §8.4), the engagement's specialist is the team's lead as read under the lock: the team row
    is locked first, then every member (the specialists, in id order), then the demand; every member must be
    active, free of a conflict with the enterprise and not already engaged on the demand; the lead's capacity and
    the demand's headcount count it once.
    """
    status = EngagementStatus(status)
    if status.value not in LIVE_STATUSES:
        raise ValueError(f"an engagement is opened 'offered' or 'active', not '{status}'")
    team: Team | None = None
    members: list[Expert] = []
    if team_id is not None:
        team = _locked(db_session, Team, [team_id]).get(team_id)
        if team is None:
            raise NotFound(f"team {team_id} does not exist")
        expert_id = team.lead_expert_id  # as it is under the lock (the caller read it before)
        member_ids = team_member_ids(db_session, team_id)
        experts, demands = lock_parties(
            db_session=db_session, expert_ids=[expert_id, *member_ids], demand_ids=[demand_id]
        )
        expert, demand = experts.get(expert_id), demands.get(demand_id)
        members = [experts[m] for m in member_ids if m in experts and m != expert_id]
    else:
        expert, demand = _lock_pair(db_session, expert_id=expert_id, demand_id=demand_id)
    if expert is None:
        raise NotFound(f"expert {expert_id} does not exist")
    if demand is None:
        raise NotFound(f"demand {demand_id} does not exist")
    _check_eligible(expert=expert, demand=demand)
    if team is not None:
        _check_team_eligible(team=team, members=members, demand=demand)
    _check_pair_free(db_session, expert=expert, demand=demand)
    for member in members:
        _check_pair_free(db_session, expert=member, demand=demand)
    _check_room(db_session, expert=expert, demand=demand)
    now = utcnow()
    if status is EngagementStatus.active:
        # Both sides agreed (mutual interest, a round, an award); the unit may still have to approve.
        status = activation_status(db_session, expert=expert)
    engagement = Engagement(
        demand_id=demand_id,
        expert_id=expert_id,
        enterprise_id=demand.enterprise_id,
        mode=EngagementMode(mode).value,
        status=status.value,
        score=score,
        started_at=now if status is EngagementStatus.active else None,
        round_id=round_id,
        assignment_id=assignment_id,
        bid_id=bid_id,
        team_id=team_id,
        unit_id=expert.unit_id,
        # An offer is the demand side's agreement; the specialist's comes with accepting it.
        enterprise_approved_at=now,
        expert_approved_at=None if status is EngagementStatus.offered else now,
    )
    db_session.add(engagement)
    db_session.flush()
    audit.record(
        db_session=db_session,
        entity=ENGAGEMENT,
        entity_id=engagement.id,  # type: ignore[arg-type]
        action="created",
        actor=actor,
        to_status=status.value,
        detail={
            "demand_id": demand_id,
            "expert_id": expert_id,
            "mode": engagement.mode,
            "score": score,
            "round_id": round_id,
            "assignment_id": assignment_id,
            "bid_id": bid_id,
            "team_id": team_id,
        },
    )
    announce(db_session, engagement)
    _settle_interests(db_session, engagement=engagement, actor=actor)
    follow_engagements(db_session, demand=demand, actor=actor, may_reopen=False)
    if commit:
        db_session.commit()
        db_session.refresh(engagement)
    return engagement


def _settle_interests(db_session: Session, *, engagement: Engagement, actor: Principal) -> None:
    """Whatever mode opened it, an engagement answers the pair's pending interests: they become `matched` to it."""
    pending = db_session.exec(
        select(Interest).where(
            Interest.demand_id == engagement.demand_id,
            Interest.expert_id == engagement.expert_id,
            col(Interest.engagement_id).is_(None),
        )
    ).all()
    for interest in pending:
        interest.engagement_id = engagement.id
        db_session.add(interest)
        audit.record(
            db_session=db_session,
            entity=INTEREST,
            entity_id=interest.id,  # type: ignore[arg-type]
            action="matched",
            actor=actor,
            from_status="pending",
            to_status="matched",
            detail={"engagement_id": engagement.id, "mode": engagement.mode},
        )


# --- reading ---------------------------------------------------------------------------------------------------


def get(*, db_session: Session, engagement_id: int) -> Engagement:
    """The engagement, or 404."""
    engagement = db_session.get(Engagement, engagement_id)
    if engagement is None:
        raise NotFound(f"engagement {engagement_id} does not exist")
    return engagement


def is_party(*, principal: Principal, engagement: Engagement) -> bool:
    """Administrators, the specialist and the demand's enterprise."""
    return (
        principal.is_admin
        or principal.is_expert(engagement.expert_id)
        or principal.is_enterprise(engagement.enterprise_id)
        or principal.is_unit(engagement.unit_id)
    )


def get_visible(*, db_session: Session, engagement_id: int, principal: Principal) -> Engagement:
    """The engagement if this caller is one of its parties (or an administrator): 404 when missing, else 403."""
    engagement = get(db_session=db_session, engagement_id=engagement_id)
    if not is_party(principal=principal, engagement=engagement):
        raise Forbidden(f"engagement {engagement_id} belongs to other parties")
    return engagement


def to_public(engagement: Engagement) -> EngagementPublic:
    """The engagement as clients see it (it holds no personal data)."""
    public = EngagementPublic.model_validate(engagement)
    public.approvals = Approvals(
        specialist=engagement.expert_approved_at,
        enterprise=engagement.enterprise_approved_at,
        unit=engagement.unit_approved_at,
    )
    return public


def list_engagements(
    *,
    db_session: Session,
    principal: Principal,
    limit: int,
    offset: int,
    demand_id: int | None = None,
    expert_id: int | None = None,
    enterprise_id: int | None = None,
    status: str | None = None,
    mode: str | None = None,
    round_id: int | None = None,
    assignment_id: int | None = None,
    unit_id: int | None = None,
    team_id: int | None = None,
) -> tuple[list[Engagement], int]:
    """A page of the engagements this caller is party to (administrators: all), in id order, with the total."""
    query = select(Engagement)
    if not principal.is_admin:
        if principal.enterprise_id is not None:
            query = query.where(Engagement.enterprise_id == principal.enterprise_id)
        elif principal.expert_id is not None:
            query = query.where(Engagement.expert_id == principal.expert_id)
        elif principal.unit_id is not None:
            query = query.where(Engagement.unit_id == principal.unit_id)
        else:
            return [], 0
    filters = {
        Engagement.demand_id: demand_id,
        Engagement.expert_id: expert_id,
        Engagement.enterprise_id: enterprise_id,
        Engagement.status: status,
        Engagement.mode: mode,
        Engagement.round_id: round_id,
        Engagement.assignment_id: assignment_id,
        Engagement.unit_id: unit_id,
        Engagement.team_id: team_id,
    }
    for column, value in filters.items():
        if value is not None:
            query = query.where(column == value)
    return fetch_page(db_session, query, order_by=col(Engagement.id), limit=limit, offset=offset)


def list_logs(
    *, db_session: Session, engagement: Engagement, limit: int, offset: int
) -> tuple[list[EngagementLog], int]:
    """A page of the engagement's service log, in the order written, with the total."""
    query = select(EngagementLog).where(EngagementLog.engagement_id == engagement.id)
    return fetch_page(db_session, query, order_by=col(EngagementLog.id), limit=limit, offset=offset)


# --- enterprise selection and the lifecycle --------------------------------------------------------------------


def select_expert(
    *, db_session: Session, demand: Demand, expert_id: int, principal: Principal, scorer: PairScorer | None = None
) -> Engagement:
    """Enterprise selection: offer the demand to a specialist (the owning enterprise or an administrator)."""
    if not (principal.is_admin or principal.is_enterprise(demand.enterprise_id)):
        raise Forbidden("only administrators or the enterprise owning the demand may select specialists for it")
    if db_session.get(Expert, expert_id) is None:
        raise InvalidInput.field("body.expert_id", f"expert {expert_id} does not exist")
    return open_engagement(
        db_session=db_session,
        demand_id=demand.id,  # type: ignore[arg-type]
        expert_id=expert_id,
        mode=EngagementMode.enterprise_selection,
        status=EngagementStatus.offered,
        score=_score(scorer, demand.id, expert_id),  # type: ignore[arg-type]
        actor=principal,
    )


def _score(scorer: PairScorer | None, demand_id: int, expert_id: int) -> float | None:
    """The matcher's score for the pair, recorded with a new engagement (None when the matcher does not know it)."""
    return scorer([(demand_id, expert_id)]).get((demand_id, expert_id)) if scorer is not None else None


# action → (target status, audit action, which parties besides administrators may do it, from which status)
MOVES: dict[str, tuple[EngagementStatus, str, frozenset[str], EngagementStatus]] = {
    "accept": (EngagementStatus.active, "accepted", frozenset({"expert"}), EngagementStatus.offered),
    "decline": (EngagementStatus.declined, "declined", frozenset({"expert"}), EngagementStatus.offered),
    "complete": (EngagementStatus.completed, "completed", frozenset({"enterprise"}), EngagementStatus.active),
    "terminate": (
        EngagementStatus.terminated,
        "terminated",
        frozenset({"expert", "enterprise"}),
        EngagementStatus.active,
    ),
    "approve": (EngagementStatus.active, "approved", frozenset({"unit"}), EngagementStatus.approving),
    "reject": (EngagementStatus.declined, "rejected", frozenset({"unit"}), EngagementStatus.approving),
}


def _may(principal: Principal, engagement: Engagement, parties: frozenset[str]) -> bool:
    return (
        principal.is_admin
        or ("expert" in parties and principal.is_expert(engagement.expert_id))
        or ("enterprise" in parties and principal.is_enterprise(engagement.enterprise_id))
        or ("unit" in parties and principal.is_unit(engagement.unit_id))
    )


def _lock_engagement(db_session: Session, engagement: Engagement) -> tuple[Engagement, Expert, Demand]:
    """Lock the specialist, the demand, then the engagement itself (the one lock order), and re-read all three."""
    expert, demand = _lock_pair(db_session, expert_id=engagement.expert_id, demand_id=engagement.demand_id)
    locked = _locked(db_session, Engagement, [engagement.id]).get(engagement.id)  # type: ignore[arg-type]
    if expert is None or demand is None or locked is None:
        # A concurrent delete of the demand or the specialist took the engagement with it.
        raise NotFound(f"engagement {engagement.id} does not exist")
    return locked, expert, demand


def check_transition(current: str, target: str) -> None:
    """Raise 409 naming both states when the lifecycle does not allow the move."""
    if EngagementStatus(target) not in TRANSITIONS[EngagementStatus(current)]:
        raise Conflict(
            f"an engagement cannot move from '{current}' to '{target}'",
            code="illegal-engagement-transition",
            from_status=current,
            to_status=target,
        )


def move(*, db_session: Session, engagement_id: int, action: str, principal: Principal, reason: str = "") -> Engagement:
    """Accept, decline, complete, terminate, approve or reject an engagement, keeping the demand in step."""
    target, audit_action, parties, source = MOVES[action]
    engagement = get_visible(db_session=db_session, engagement_id=engagement_id, principal=principal)
    if not _may(principal, engagement, parties):
        who = " or ".join(sorted(parties))
        raise Forbidden(f"only administrators or the engagement's {who} may {action} it")
    engagement, expert, demand = _lock_engagement(db_session, engagement)
    current = engagement.status
    check_transition(current, target.value)
    if current != source.value:
        # Accepting cannot skip the unit's approval, nor approving answer a plain offer.
        raise Conflict(
            f"only an '{source.value}' engagement can be {audit_action}; this one is '{current}'",
            code="illegal-engagement-transition",
            from_status=current,
            to_status=target.value,
        )
    now = utcnow()
    if action == "accept":
        target = activation_status(db_session, expert=expert)
    if target is EngagementStatus.active or target is EngagementStatus.approving:
        # The world may have changed since the offer: the demand cancelled, a conflict declared, capacity lowered.
        _check_eligible(expert=expert, demand=demand)
        _check_room(db_session, expert=expert, demand=demand, adding=0)
        if target is EngagementStatus.active:
            engagement.started_at = now
    else:
        engagement.ended_at = now
    # Written after the checks' queries (whose autoflush would count as a change of its own).
    if action == "accept":
        engagement.expert_approved_at = now
    elif action == "approve":
        engagement.unit_approved_at = now
    engagement.status = target.value
    db_session.add(engagement)
    audit.record(
        db_session=db_session,
        entity=ENGAGEMENT,
        entity_id=engagement.id,  # type: ignore[arg-type]
        action=audit_action,
        actor=principal,
        from_status=current,
        to_status=target.value,
        detail={"reason": reason} if reason else {},
    )
    announce(db_session, engagement, **({"reason": reason} if reason else {}))
    follow_engagements(
        db_session,
        demand=demand,
        actor=principal,
        may_reopen=target in (EngagementStatus.declined, EngagementStatus.terminated),
    )
    db_session.commit()
    db_session.refresh(engagement)
    return engagement


def add_log(
    *, db_session: Session, engagement_id: int, log_in: ServiceLogCreate, principal: Principal
) -> EngagementLog:
    """Record a day's service on an active engagement (the specialist or an administrator)."""
    engagement = get_visible(db_session=db_session, engagement_id=engagement_id, principal=principal)
    if not (principal.is_admin or principal.is_expert(engagement.expert_id)):
        raise Forbidden("only administrators or the engagement's specialist may log service")
    engagement = _locked(db_session, Engagement, [engagement_id]).get(engagement_id)
    if engagement is None:
        raise NotFound(f"engagement {engagement_id} does not exist")
    if engagement.status != EngagementStatus.active:
        raise Conflict(
            f"service can be logged only on an active engagement; this one is '{engagement.status}'",
            code="engagement-not-active",
            status_now=engagement.status,
        )
    # One day of slack either way: the service day is local (China) time, timestamps are UTC.
    today = utcnow().date()
    if log_in.date > today + timedelta(days=1):
        raise InvalidInput.field("body.date", "is in the future")
    if engagement.started_at is not None and log_in.date < engagement.started_at.date() - timedelta(days=1):
        raise InvalidInput.field("body.date", f"is before the engagement started ({engagement.started_at.date()})")
    entry = EngagementLog(
        engagement_id=engagement_id,
        date=log_in.date,
        hours=log_in.hours,
        summary=log_in.summary,
        author_role=str(principal.role),
        author_key_id=principal.key_id,
    )
    db_session.add(entry)
    db_session.flush()
    audit.record(
        db_session=db_session,
        entity=ENGAGEMENT,
        entity_id=engagement_id,
        action="logged",
        actor=principal,
        from_status=engagement.status,
        to_status=engagement.status,
        detail={"log_id": entry.id, "date": log_in.date.isoformat(), "hours": log_in.hours},
    )
    db_session.commit()
    db_session.refresh(entry)
    return entry


def rate(*, db_session: Session, engagement_id: int, rating_in: RatingCreate, principal: Principal) -> Engagement:
    """The enterprise's one rating of a completed engagement (or an administrator's on its behalf)."""
    engagement = get_visible(db_session=db_session, engagement_id=engagement_id, principal=principal)
    if not (principal.is_admin or principal.is_enterprise(engagement.enterprise_id)):
        raise Forbidden("only administrators or the demand's enterprise may rate an engagement")
    engagement = _locked(db_session, Engagement, [engagement_id]).get(engagement_id)
    if engagement is None:
        raise NotFound(f"engagement {engagement_id} does not exist")
    if engagement.status != EngagementStatus.completed:
        raise Conflict(
            f"only a completed engagement can be rated; this one is '{engagement.status}'",
            code="engagement-not-completed",
            status_now=engagement.status,
        )
    if engagement.rating is not None:
        raise Conflict(
            f"engagement {engagement_id} was already rated {engagement.rating}",
            code="already-rated",
            rating=engagement.rating,
        )
    engagement.rating = rating_in.rating
    engagement.rating_comment = rating_in.comment
    engagement.rated_at = utcnow()
    db_session.add(engagement)
    audit.record(
        db_session=db_session,
        entity=ENGAGEMENT,
        entity_id=engagement_id,
        action="rated",
        actor=principal,
        from_status=engagement.status,
        to_status=engagement.status,
        detail={"rating": rating_in.rating},
    )
    db_session.commit()
    db_session.refresh(engagement)
    return engagement


# --- mutual selection ------------------------------------------------------------------------------------------


def interest_public(interest: Interest) -> InterestPublic:
    """The interest as clients see it, with its derived status."""
    return InterestPublic(
        id=interest.id,  # type: ignore[arg-type]
        demand_id=interest.demand_id,
        expert_id=interest.expert_id,
        side=InterestSide(interest.side),
        status="matched" if interest.engagement_id is not None else "pending",
        engagement_id=interest.engagement_id,
        created_at=interest.created_at,
    )


def _pending(db_session: Session, *, demand_id: int, expert_id: int, side: InterestSide) -> Interest | None:
    return db_session.exec(
        select(Interest).where(
            Interest.demand_id == demand_id,
            Interest.expert_id == expert_id,
            Interest.side == side.value,
            col(Interest.engagement_id).is_(None),
        )
    ).first()


def _authorise_interest(
    *, db_session: Session, demand_id: int, expert_id: int, side: InterestSide, principal: Principal, missing: str
) -> None:
    """Load the path's record (404), check the caller speaks for that side (403), then the other record.

    `missing` says how an absent other record answers: "body" (422, it was named in the body) or "path" (404).
    """
    if side is InterestSide.enterprise:
        demand = db_session.get(Demand, demand_id)
        if demand is None:
            raise NotFound(f"demand {demand_id} does not exist")
        if not (principal.is_admin or principal.is_enterprise(demand.enterprise_id)):
            raise Forbidden("only administrators or the enterprise owning the demand may act on its interests")
        if db_session.get(Expert, expert_id) is None:
            if missing == "body":
                raise InvalidInput.field("body.expert_id", f"expert {expert_id} does not exist")
            raise NotFound(f"expert {expert_id} does not exist")
    else:
        if db_session.get(Expert, expert_id) is None:
            raise NotFound(f"expert {expert_id} does not exist")
        if not (principal.is_admin or principal.is_expert(expert_id)):
            raise Forbidden("only administrators or the specialist themself may act on their interests")
        if db_session.get(Demand, demand_id) is None:
            if missing == "body":
                raise InvalidInput.field("body.demand_id", f"demand {demand_id} does not exist")
            raise NotFound(f"demand {demand_id} does not exist")


def express_interest(
    *,
    db_session: Session,
    demand_id: int,
    expert_id: int,
    side: InterestSide,
    principal: Principal,
    scorer: PairScorer | None = None,
) -> tuple[Interest, Engagement | None]:
    """Record one side's interest; when the other side's is already there, open an `active` engagement at once."""
    _authorise_interest(
        db_session=db_session, demand_id=demand_id, expert_id=expert_id, side=side, principal=principal, missing="body"
    )
    # The same locks as open_engagement, taken first: two interests from both sides at once never both miss the
    # other, and never both create the engagement.
    expert, demand = _lock_pair(db_session, expert_id=expert_id, demand_id=demand_id)
    if expert is None or demand is None:
        raise NotFound("the demand or the specialist was just deleted")
    _check_eligible(expert=expert, demand=demand)
    _check_pair_free(db_session, expert=expert, demand=demand)
    duplicate = _pending(db_session, demand_id=demand_id, expert_id=expert_id, side=side)
    if duplicate is not None:
        raise Conflict(
            f"the {side.value} side already expressed this interest (interest {duplicate.id})",
            code="duplicate-interest",
            interest_id=duplicate.id,
        )
    interest = Interest(demand_id=demand_id, expert_id=expert_id, side=side.value)
    db_session.add(interest)
    db_session.flush()
    audit.record(
        db_session=db_session,
        entity=INTEREST,
        entity_id=interest.id,  # type: ignore[arg-type]
        action="created",
        actor=principal,
        to_status="pending",
        detail={"demand_id": demand_id, "expert_id": expert_id, "side": side.value},
    )
    events.record(
        db_session=db_session,
        type=EventType.interest_created,
        data={"interest": interest_public(interest).model_dump(mode="json")},
        enterprises=[demand.enterprise_id],
        experts=[expert_id],
    )
    other_side = InterestSide.expert if side is InterestSide.enterprise else InterestSide.enterprise
    other = _pending(db_session, demand_id=demand_id, expert_id=expert_id, side=other_side)
    engagement = None
    if other is not None:
        engagement = open_engagement(
            db_session=db_session,
            demand_id=demand_id,
            expert_id=expert_id,
            mode=EngagementMode.mutual_selection,
            status=EngagementStatus.active,
            score=_score(scorer, demand_id, expert_id),
            actor=principal,
            commit=False,
        )  # which also marks both interests matched
    db_session.commit()
    # Not refreshed: every field of the interest was set here (its engagement_id by _settle_interests), and a
    # pending one may already be withdrawn — deleted — by the time this request reads it back (seen in the race test).
    if engagement is not None:
        db_session.refresh(engagement)
    return interest, engagement


def withdraw_interest(
    *, db_session: Session, demand_id: int, expert_id: int, side: InterestSide, principal: Principal
) -> None:
    """Withdraw a pending interest (it is deleted; the audit trail keeps it): 404 if none, 409 if already matched."""
    _authorise_interest(
        db_session=db_session, demand_id=demand_id, expert_id=expert_id, side=side, principal=principal, missing="path"
    )
    _lock_pair(db_session, expert_id=expert_id, demand_id=demand_id)
    pending = _pending(db_session, demand_id=demand_id, expert_id=expert_id, side=side)
    if pending is None:
        matched = db_session.exec(
            select(Interest)
            .where(Interest.demand_id == demand_id, Interest.expert_id == expert_id, Interest.side == side.value)
            .order_by(col(Interest.id).desc())
        ).first()
        if matched is not None:
            raise Conflict(
                f"this interest already led to engagement {matched.engagement_id}; terminate or decline that instead",
                code="interest-already-matched",
                engagement_id=matched.engagement_id,
            )
        raise NotFound(f"no pending {side.value} interest between demand {demand_id} and expert {expert_id}")
    audit.record(
        db_session=db_session,
        entity=INTEREST,
        entity_id=pending.id,  # type: ignore[arg-type]
        action="withdrawn",
        actor=principal,
        from_status="pending",
        to_status="withdrawn",
        detail={"demand_id": demand_id, "expert_id": expert_id, "side": side.value},
    )
    db_session.delete(pending)
    db_session.commit()


def list_interests(
    *,
    db_session: Session,
    limit: int,
    offset: int,
    demand_id: int | None = None,
    expert_id: int | None = None,
    side: InterestSide | None = None,
    status: str | None = None,
) -> tuple[list[Interest], int]:
    """A page of interests about one demand or one specialist (both directions), in id order, with the total."""
    query = select(Interest)
    if demand_id is not None:
        query = query.where(Interest.demand_id == demand_id)
    if expert_id is not None:
        query = query.where(Interest.expert_id == expert_id)
    if side is not None:
        query = query.where(Interest.side == side.value)
    if status == "pending":
        query = query.where(col(Interest.engagement_id).is_(None))
    elif status == "matched":
        query = query.where(col(Interest.engagement_id).is_not(None))
    return fetch_page(db_session, query, order_by=col(Interest.id), limit=limit, offset=offset)


def ensure_may_read_interests(
    *, db_session: Session, principal: Principal, demand_id: int | None = None, expert_id: int | None = None
) -> None:
    """A demand's interests are for its enterprise, a specialist's for themself; administrators read all (404/403)."""
    if demand_id is not None:
        demand = db_session.get(Demand, demand_id)
        if demand is None:
            raise NotFound(f"demand {demand_id} does not exist")
        if not (principal.is_admin or principal.is_enterprise(demand.enterprise_id)):
            raise Forbidden("only administrators or the enterprise owning the demand may read its interests")
    if expert_id is not None:
        if db_session.get(Expert, expert_id) is None:
            raise NotFound(f"expert {expert_id} does not exist")
        if not (principal.is_admin or principal.is_expert(expert_id)):
            raise Forbidden("only administrators or the specialist themself may read their interests")
