"""Open-call rules (SPEC §7.3): publishing, bidding under the bidder limit and deadline, withdrawal, the award.

Concurrency. A bid locks the call row (`SELECT … FOR UPDATE`) and only then counts the live bids, so two bids for
the last place get one success and one 409 `call-full`. An award takes the engagements' lock order (specialist,
demand) through `open_engagement`'s `lock_parties`, then the call, and checks the call is still open: of two awards
at once one wins and the other answers 409 `call-awarded`. A bid never locks a specialist or a demand, so the two
workflows never wait on each other in a cycle. On SQLite every writer is serialised (BEGIN IMMEDIATE).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import Any

from sqlmodel import Session, col, func, select

from matching.scoring import Suggestion
from service import audit
from service.auth import Principal
from service.calls.models import Bid, BidCreate, BidPublic, BidStatus, Call, CallCreate, CallPublic, CallStatus
from service.common import _as_utc, utcnow
from service.demands.models import Demand, DemandStatus
from service.engagements import service as engagements
from service.engagements.models import EngagementMode, EngagementStatus
from service.errors import Conflict, Forbidden, InvalidInput, NotFound
from service.events import service as events
from service.events.models import EventType
from service.experts.models import Expert

Explainer = Callable[[int, int], Suggestion | None]
"""The live matcher's explained score of a (demand_id, expert_id) pair (None when it does not know both)."""

CALL = "call"
BID = "bid"
MATCHER_RULES = frozenset({"on_site_no_travel"})


def _bidders(db_session: Session, call_id: int) -> int:
    return db_session.exec(
        select(func.count()).select_from(Bid).where(Bid.call_id == call_id, Bid.status == BidStatus.submitted.value)
    ).one()


def call_public(db_session: Session, call: Call) -> CallPublic:
    """The call with its live bidder count."""
    return CallPublic(
        id=call.id,  # type: ignore[arg-type]
        demand_id=call.demand_id,
        goals=call.goals,
        budget_cny=call.budget_cny,
        deadline=call.deadline,
        max_bidders=call.max_bidders,
        status=CallStatus(call.status),
        bidders=_bidders(db_session, call.id),  # type: ignore[arg-type]
        awarded_bid_id=call.awarded_bid_id,
        awarded_at=call.awarded_at,
        created_at=call.created_at,
        updated_at=call.updated_at,
        version=call.version,
    )


def bid_public(bid: Bid) -> BidPublic:
    """The bid as clients see it."""
    return BidPublic.model_validate(bid)


def _call_of(db_session: Session, demand_id: int, *, lock: bool = False) -> Call:
    query = select(Call).where(Call.demand_id == demand_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    call = db_session.exec(query).first()
    if call is None:
        raise NotFound(f"demand {demand_id} has no open call")
    return call


def get_call(*, db_session: Session, demand: Demand) -> Call:
    """The demand's call, or 404."""
    return _call_of(db_session, demand.id)  # type: ignore[arg-type]


def _closed(call: Call) -> bool:
    return _as_utc(call.deadline) <= utcnow()


def publish(*, db_session: Session, demand: Demand, call_in: CallCreate, principal: Principal) -> Call:
    """Publish an open demand as an open call (its enterprise or an administrator)."""
    if not (principal.is_admin or principal.is_enterprise(demand.enterprise_id)):
        raise Forbidden("only administrators or the enterprise owning the demand may publish it as an open call")
    if call_in.deadline.tzinfo is None:
        raise InvalidInput.field("body.deadline", "give a time zone (for example 2027-03-31T16:00:00Z)")
    deadline = call_in.deadline.astimezone(UTC)
    if deadline <= utcnow():
        raise InvalidInput.field("body.deadline", "must be in the future")
    engagements.lock_parties(db_session=db_session, expert_ids=[], demand_ids=[demand.id])  # type: ignore[list-item]
    db_session.refresh(demand)
    if demand.status != DemandStatus.open:
        raise Conflict(
            f"demand {demand.id} is '{demand.status}'; only an open demand can be published as an open call",
            code="demand-not-open",
            demand_id=demand.id,
            demand_status=demand.status,
        )
    existing = db_session.exec(select(Call).where(Call.demand_id == demand.id)).first()
    if existing is not None:
        raise Conflict(
            f"demand {demand.id} already has open call {existing.id}", code="call-exists", call_id=existing.id
        )
    call = Call(
        demand_id=demand.id,  # type: ignore[arg-type]
        goals=call_in.goals,
        budget_cny=call_in.budget_cny,
        deadline=deadline,
        max_bidders=call_in.max_bidders,
    )
    db_session.add(call)
    db_session.flush()
    audit.record(
        db_session=db_session,
        entity=CALL,
        entity_id=call.id,  # type: ignore[arg-type]
        action="published",
        actor=principal,
        to_status=CallStatus.open.value,
        detail={"demand_id": demand.id, "max_bidders": call.max_bidders, "deadline": deadline.isoformat()},
    )
    db_session.commit()
    db_session.refresh(call)
    return call


def _reasons(suggestion: Suggestion | None) -> list[dict[str, Any]]:
    if suggestion is None:
        return []
    return [{"code": r.code, "zh": r.zh, "en": r.en} for r in suggestion.reasons]


def place_bid(
    *,
    db_session: Session,
    demand: Demand,
    bid_in: BidCreate,
    principal: Principal,
    explain: Explainer | None = None,
) -> Bid:
    """A specialist bids (an administrator on their behalf); the hard rules of SPEC §3 apply, 409 naming the rule."""
    if principal.is_admin:
        if bid_in.expert_id is None:
            raise InvalidInput.field("body.expert_id", "administrators name the specialist they bid for")
        expert_id = bid_in.expert_id
    elif principal.expert_id is not None:
        if bid_in.expert_id is not None and bid_in.expert_id != principal.expert_id:
            raise Forbidden("a specialist bids only for themself")
        expert_id = principal.expert_id
    else:
        raise Forbidden("only specialists (or administrators on their behalf) bid on open calls")
    if db_session.get(Expert, expert_id) is None:
        raise InvalidInput.field("body.expert_id", f"expert {expert_id} does not exist")
    # The explanation is computed before any lock: the matcher is caught up already and scoring takes a while.
    suggestion = explain(demand.id, expert_id) if explain is not None else None  # type: ignore[arg-type]
    call = _call_of(db_session, demand.id, lock=True)  # type: ignore[arg-type]
    if call.status != CallStatus.open or _closed(call):
        raise Conflict(
            f"the open call on demand {demand.id} is closed (deadline {_as_utc(call.deadline).isoformat()})",
            code="call-closed",
            call_id=call.id,
            call_status=call.status,
        )
    expert = db_session.get(Expert, expert_id)
    fresh = db_session.get(Demand, demand.id)
    if expert is None or fresh is None:
        raise NotFound("the demand or the specialist was just deleted")
    db_session.refresh(fresh)
    db_session.refresh(expert)
    mine = db_session.exec(
        select(Bid).where(Bid.call_id == call.id, Bid.expert_id == expert_id, Bid.status == BidStatus.submitted.value)
    ).first()
    if mine is not None:
        raise Conflict(
            f"expert {expert_id} already has live bid {mine.id} on this call", code="duplicate-bid", bid_id=mine.id
        )
    bidders = _bidders(db_session, call.id)  # type: ignore[arg-type]
    if bidders >= call.max_bidders:
        raise Conflict(
            f"the open call on demand {demand.id} already has {bidders} of {call.max_bidders} bidders",
            code="call-full",
            call_id=call.id,
            max_bidders=call.max_bidders,
        )
    engagements.check_pair_possible(db_session, expert=expert, demand=fresh)
    # The database answered the other hard rules just above, under the call's lock; the matcher's view may lag, so
    # only the rule the database cannot judge (on-site work with a specialist who does not travel) is taken from it.
    matcher_only = [r for r in (suggestion.exclusions if suggestion is not None else []) if r.code in MATCHER_RULES]
    if matcher_only:
        rule = matcher_only[0]
        raise Conflict(
            f"hard rule '{rule.code}': {rule.en}",
            code=rule.code.replace("_", "-"),
            rule=rule.code,
            reasons=[{"code": r.code, "zh": r.zh, "en": r.en} for r in matcher_only],
        )
    bid = Bid(
        call_id=call.id,  # type: ignore[arg-type]
        demand_id=demand.id,  # type: ignore[arg-type]
        expert_id=expert_id,
        proposal=bid_in.proposal,
        price_cny=bid_in.price_cny,
        months=bid_in.months,
        score=suggestion.score if suggestion is not None else None,
        components=dict(suggestion.components) if suggestion is not None else {},
        matched_terms=list(suggestion.matched_terms) if suggestion is not None else [],
        reasons=_reasons(suggestion),
    )
    db_session.add(bid)
    db_session.flush()
    audit.record(
        db_session=db_session,
        entity=BID,
        entity_id=bid.id,  # type: ignore[arg-type]
        action="created",
        actor=principal,
        to_status=BidStatus.submitted.value,
        detail={"call_id": call.id, "demand_id": demand.id, "expert_id": expert_id, "score": bid.score},
    )
    events.record(
        db_session=db_session,
        type=EventType.bid_created,
        data={"bid": bid_public(bid).model_dump(mode="json")},
        enterprises=[fresh.enterprise_id],
        experts=[expert_id],
    )
    db_session.commit()
    db_session.refresh(bid)
    return bid


def list_bids(*, db_session: Session, demand: Demand, principal: Principal) -> list[Bid]:
    """The call's bids in id order: all for the enterprise and administrators, a specialist's own for them."""
    call = _call_of(db_session, demand.id)  # type: ignore[arg-type]
    query = select(Bid).where(Bid.call_id == call.id)
    if principal.is_admin or principal.is_enterprise(demand.enterprise_id):
        pass
    elif principal.expert_id is not None:
        query = query.where(Bid.expert_id == principal.expert_id)
    else:
        raise Forbidden("only administrators, the demand's enterprise and bidders read an open call's bids")
    return list(db_session.exec(query.order_by(col(Bid.id))).all())


def _bid_of(db_session: Session, call: Call, bid_id: int) -> Bid:
    bid = db_session.exec(
        select(Bid).where(Bid.id == bid_id).with_for_update().execution_options(populate_existing=True)
    ).first()
    if bid is None or bid.call_id != call.id:
        raise NotFound(f"bid {bid_id} is not a bid on this demand's open call")
    return bid


def withdraw(*, db_session: Session, demand: Demand, bid_id: int, principal: Principal) -> Bid:
    """The bidder (or an administrator) withdraws a live bid while the call is open; its place becomes free."""
    call = _call_of(db_session, demand.id, lock=True)  # type: ignore[arg-type]
    bid = _bid_of(db_session, call, bid_id)
    if not (principal.is_admin or principal.is_expert(bid.expert_id)):
        raise Forbidden("only the bidder (or an administrator) may withdraw a bid")
    if bid.status != BidStatus.submitted:
        raise Conflict(f"bid {bid_id} is '{bid.status}'; only a submitted bid can be withdrawn", code="bid-not-live")
    if call.status != CallStatus.open:
        raise Conflict("the call was already awarded", code="call-awarded", call_id=call.id)
    bid.status, bid.updated_at = BidStatus.withdrawn.value, utcnow()
    db_session.add(bid)
    audit.record(
        db_session=db_session,
        entity=BID,
        entity_id=bid.id,  # type: ignore[arg-type]
        action="withdrawn",
        actor=principal,
        from_status=BidStatus.submitted.value,
        to_status=BidStatus.withdrawn.value,
    )
    db_session.commit()
    db_session.refresh(bid)
    return bid


def award(*, db_session: Session, demand: Demand, bid_id: int, principal: Principal) -> tuple[Bid, Any]:
    """The enterprise (or an administrator) awards one bid: an `open_call` engagement, the other bids not awarded."""
    if not (principal.is_admin or principal.is_enterprise(demand.enterprise_id)):
        raise Forbidden("only administrators or the enterprise owning the demand may award its open call")
    peek = db_session.get(Bid, bid_id)
    if peek is None:
        raise NotFound(f"bid {bid_id} does not exist")
    # The engagements' lock order first (specialist, demand), then the call, then the bid.
    engagements.lock_parties(db_session=db_session, expert_ids=[peek.expert_id], demand_ids=[demand.id])  # type: ignore[list-item]
    call = _call_of(db_session, demand.id, lock=True)  # type: ignore[arg-type]
    bid = _bid_of(db_session, call, bid_id)
    if call.status != CallStatus.open:
        raise Conflict(
            f"the open call on demand {demand.id} was already awarded (bid {call.awarded_bid_id})",
            code="call-awarded",
            call_id=call.id,
            awarded_bid_id=call.awarded_bid_id,
        )
    if bid.status != BidStatus.submitted:
        raise Conflict(f"bid {bid_id} is '{bid.status}'; only a submitted bid can be awarded", code="bid-not-live")
    engagement = engagements.open_engagement(
        db_session=db_session,
        demand_id=demand.id,  # type: ignore[arg-type]
        expert_id=bid.expert_id,
        mode=EngagementMode.open_call,
        status=EngagementStatus.active,
        score=bid.score,
        actor=principal,
        bid_id=bid.id,
        commit=False,
    )
    now = utcnow()
    others = db_session.exec(
        select(Bid).where(Bid.call_id == call.id, Bid.id != bid.id, Bid.status == BidStatus.submitted.value)
    ).all()
    for other in others:
        other.status, other.updated_at = BidStatus.not_awarded.value, now
        db_session.add(other)
    bid.status, bid.updated_at, bid.engagement_id = BidStatus.awarded.value, now, engagement.id
    call.status, call.awarded_bid_id, call.awarded_at = CallStatus.awarded.value, bid.id, now
    db_session.add_all([bid, call])
    audit.record(
        db_session=db_session,
        entity=CALL,
        entity_id=call.id,  # type: ignore[arg-type]
        action="awarded",
        actor=principal,
        from_status=CallStatus.open.value,
        to_status=CallStatus.awarded.value,
        detail={"bid_id": bid.id, "engagement_id": engagement.id, "not_awarded": [o.id for o in others]},
    )
    events.record(
        db_session=db_session,
        type=EventType.call_awarded,
        data={
            "call_id": call.id,
            "demand_id": demand.id,
            "bid_id": bid.id,
            "expert_id": bid.expert_id,
            "engagement_id": engagement.id,
            "not_awarded_bid_ids": [o.id for o in others],
        },
        enterprises=[demand.enterprise_id],
        experts=[bid.expert_id, *(o.expert_id for o in others)],
        units=[engagement.unit_id],
    )
    db_session.commit()
    db_session.refresh(bid)
    db_session.refresh(engagement)
    return bid, engagement
