"""Mutual-selection rounds: opening, rank lists, closing with a stable matching, and who may see what.

Closing runs in one transaction: it locks the round (so no rank list slips in), then every member specialist and
demand in the engagements' lock order, reads what is free at that moment (capacity less live engagements, open
headcount), treats a mutually ranked pair that breaks a hard rule (conflict of interest, origin, inactive, a live
engagement already) as unacceptable and reports it, runs capacitated deferred acceptance, and opens one `active`
engagement per matched pair through `open_engagement` (each in a savepoint, so a pair that still fails is reported
and the others stand). The result is checked for blocking pairs against the rank lists as used.

Who may do what: administrators open, close and read every round; a demand's enterprise ranks specialists for it
and a specialist ranks demands, each while the round is open and before its deadline; a member party reads the
round with its own rank lists and its own pairs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, func, select

from matching.stable import blocking_pairs, stable_matching
from service import audit
from service.auth import Principal
from service.common import _as_utc, utcnow
from service.demands.models import Demand, DemandStatus
from service.engagements import service as engagements
from service.engagements.models import LIVE_STATUSES, Engagement, EngagementMode, EngagementStatus
from service.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from service.events import service as events
from service.events.models import EventType
from service.experts.models import Expert
from service.observability import round_solve_seconds
from service.pagination import fetch_page
from service.rounds.models import (
    Proposing,
    Round,
    RoundCreate,
    RoundMember,
    RoundPreferences,
    RoundPublic,
    RoundResult,
    RoundSide,
    RoundStatus,
)
from service.suggestions.live import PairScorer

ROUND = "round"

"""Scores for (demand_id, expert_id) pairs, for the engagements a round creates (missing pairs get none)."""


# --- reading ---------------------------------------------------------------------------------------------------


def get(*, db_session: Session, round_id: int) -> Round:
    """The round, or 404."""
    found = db_session.get(Round, round_id)
    if found is None:
        raise NotFound(f"round {round_id} does not exist")
    return found


def _lock_round(db_session: Session, round_id: int) -> Round:
    found = db_session.exec(
        select(Round).where(Round.id == round_id).with_for_update().execution_options(populate_existing=True)
    ).first()
    if found is None:
        raise NotFound(f"round {round_id} does not exist")
    return found


def members(*, db_session: Session, round_ids: Iterable[int]) -> dict[int, list[RoundMember]]:
    """Members of each round, in id order."""
    wanted = sorted(set(round_ids))
    out: dict[int, list[RoundMember]] = {rid: [] for rid in wanted}
    if not wanted:
        return out
    rows = db_session.exec(
        select(RoundMember).where(col(RoundMember.round_id).in_(wanted)).order_by(col(RoundMember.id))
    ).all()
    for row in rows:
        out[row.round_id].append(row)
    return out


def _own_demand_ids(db_session: Session, principal: Principal, demand_ids: Iterable[int]) -> set[int]:
    """Which of these demands belong to the calling enterprise."""
    ids = list(demand_ids)
    if principal.enterprise_id is None or not ids:
        return set()
    return set(
        db_session.exec(
            select(Demand.id).where(col(Demand.id).in_(ids), Demand.enterprise_id == principal.enterprise_id)
        ).all()
    )


def _viewer_scope(
    db_session: Session, principal: Principal, round_members: list[RoundMember]
) -> tuple[set[int], set[int]] | None:
    """The demands and specialists of the round the caller speaks for; None for administrators (everything)."""
    if principal.is_admin:
        return None
    demand_ids = {m.demand_id for m in round_members if m.demand_id is not None}
    expert_ids = {m.expert_id for m in round_members if m.expert_id is not None}
    own_demands = _own_demand_ids(db_session, principal, demand_ids)
    own_experts = {principal.expert_id} & expert_ids if principal.expert_id is not None else set()
    return own_demands, own_experts  # type: ignore[return-value]


def to_public(
    *, db_session: Session, rnd: Round, principal: Principal, round_members: list[RoundMember]
) -> RoundPublic:
    """The round as this caller may see it: 403 unless an administrator or a member party."""
    scope = _viewer_scope(db_session, principal, round_members)
    if scope is not None and not (scope[0] or scope[1]):
        raise Forbidden(f"round {rnd.id} has none of your demands or profile in it")
    prefs = RoundPreferences(demands={}, experts={})
    for m in round_members:
        if m.ranking is None:
            continue
        if m.demand_id is not None and (scope is None or m.demand_id in scope[0]):
            prefs.demands[m.demand_id] = list(m.ranking)
        if m.expert_id is not None and (scope is None or m.expert_id in scope[1]):
            prefs.experts[m.expert_id] = list(m.ranking)
    result = None
    if rnd.result is not None:
        result = RoundResult.model_validate(rnd.result)
        if scope is not None:
            result = _scoped_result(result, *scope)
    return RoundPublic(
        id=rnd.id,  # type: ignore[arg-type]
        created_at=rnd.created_at,
        updated_at=rnd.updated_at,
        version=rnd.version,
        name=rnd.name,
        status=RoundStatus(rnd.status),
        proposing=Proposing(rnd.proposing),
        deadline=rnd.deadline,
        closed_at=rnd.closed_at,
        supplementary_of=rnd.supplementary_of,
        demand_ids=sorted(m.demand_id for m in round_members if m.demand_id is not None),
        expert_ids=sorted(m.expert_id for m in round_members if m.expert_id is not None),
        preferences=prefs,
        result=result,
    )


def _scoped_result(result: RoundResult, demands: set[int], experts: set[int]) -> RoundResult:
    """Only the pairs, problems and capacities that involve the caller's own demands or profile."""

    def mine(pair: Any) -> bool:
        return pair.demand_id in demands or pair.expert_id in experts

    return result.model_copy(
        update={
            "pairs": [p for p in result.pairs if mine(p)],
            "blocking_pairs": [p for p in result.blocking_pairs if mine(p)],
            "ineligible_pairs": [p for p in result.ineligible_pairs if mine(p)],
            "failed_pairs": [p for p in result.failed_pairs if mine(p)],
            "unmatched_demands": [d for d in result.unmatched_demands if d in demands],
            "unmatched_experts": [e for e in result.unmatched_experts if e in experts],
            "demand_capacity": {d: n for d, n in result.demand_capacity.items() if d in demands},
            "expert_capacity": {e: n for e, n in result.expert_capacity.items() if e in experts},
        }
    )


def list_rounds(
    *, db_session: Session, principal: Principal, limit: int, offset: int, status: RoundStatus | None = None
) -> tuple[list[Round], int]:
    """A page of the rounds this caller may read (administrators: all; parties: those they are in), newest last."""
    query = select(Round)
    if not principal.is_admin:
        conditions = []
        if principal.expert_id is not None:
            conditions.append(
                col(Round.id).in_(select(RoundMember.round_id).where(RoundMember.expert_id == principal.expert_id))
            )
        if principal.enterprise_id is not None:
            conditions.append(
                col(Round.id).in_(
                    select(RoundMember.round_id)
                    .join(Demand, col(Demand.id) == col(RoundMember.demand_id))
                    .where(Demand.enterprise_id == principal.enterprise_id)
                )
            )
        if not conditions:
            return [], 0
        query = query.where(or_(*conditions))
    if status is not None:
        query = query.where(Round.status == status.value)
    return fetch_page(db_session, query, order_by=col(Round.id), limit=limit, offset=offset)


# --- opening and ranking ---------------------------------------------------------------------------------------


def _check_exist(db_session: Session, model: type, ids: list[int], field: str) -> dict[int, Any]:
    rows = {row.id: row for row in db_session.exec(select(model).where(col(model.id).in_(ids))).all()}  # type: ignore[attr-defined]
    missing = [i for i in ids if i not in rows]
    if missing:
        raise InvalidInput.field(field, f"no record with id {', '.join(map(str, missing[:20]))}")
    return rows


def _leftovers(db_session: Session, original_id: int) -> tuple[list[int], list[int]]:
    """A closed round's demands still open with open headcount, and its active specialists with free capacity."""
    original = db_session.get(Round, original_id)
    if original is None:
        raise InvalidInput.field("body.supplementary_of", f"round {original_id} does not exist")
    if original.status != RoundStatus.closed:
        raise Conflict(
            f"round {original_id} is '{original.status}'; a supplementary round follows a closed one",
            code="round-not-closed",
            round_id=original_id,
        )
    rows = members(db_session=db_session, round_ids=[original_id])[original_id]
    demand_ids = [m.demand_id for m in rows if m.demand_id is not None]
    expert_ids = [m.expert_id for m in rows if m.expert_id is not None]
    filled = _live_counts(db_session, col(Engagement.demand_id), demand_ids)
    load = _live_counts(db_session, col(Engagement.expert_id), expert_ids)
    demands = db_session.exec(select(Demand).where(col(Demand.id).in_(demand_ids))).all() if demand_ids else []
    experts = db_session.exec(select(Expert).where(col(Expert.id).in_(expert_ids))).all() if expert_ids else []
    open_demands = sorted(
        d.id
        for d in demands
        if d.status == DemandStatus.open and d.headcount > filled.get(d.id, 0)  # type: ignore[misc]
    )
    free_experts = sorted(x.id for x in experts if x.active and x.capacity > load.get(x.id, 0))  # type: ignore[misc]
    if not open_demands or not free_experts:
        raise Conflict(
            f"round {original_id} left {len(open_demands)} demand(s) with open headcount and "
            f"{len(free_experts)} specialist(s) with free capacity: nothing to offer again",
            code="nothing-left-over",
            demand_ids=open_demands,
            expert_ids=free_experts,
        )
    return open_demands, free_experts


def create(*, db_session: Session, round_in: RoundCreate, principal: Principal) -> Round:
    """Open a round over open demands and existing specialists, or over a closed round's leftovers (administrators)."""
    if round_in.supplementary_of is not None:
        demand_ids, expert_ids = _leftovers(db_session, round_in.supplementary_of)
        round_in = round_in.model_copy(update={"demand_ids": demand_ids, "expert_ids": expert_ids})
    assert round_in.demand_ids is not None and round_in.expert_ids is not None  # the model's validator saw to it
    demands = _check_exist(db_session, Demand, round_in.demand_ids, "body.demand_ids")
    _check_exist(db_session, Expert, round_in.expert_ids, "body.expert_ids")
    not_open = [d for d in round_in.demand_ids if demands[d].status != DemandStatus.open]
    if not_open:
        raise Conflict(
            f"only open demands can enter a round; not open: {', '.join(map(str, not_open[:20]))}",
            code="demand-not-open",
            demand_ids=not_open,
        )
    if round_in.deadline is not None and round_in.deadline <= utcnow():
        raise InvalidInput.field("body.deadline", "is in the past")
    rnd = Round(
        name=round_in.name,
        proposing=round_in.proposing.value,
        deadline=round_in.deadline,
        supplementary_of=round_in.supplementary_of,
    )
    db_session.add(rnd)
    db_session.flush()
    db_session.add_all([RoundMember(round_id=rnd.id, demand_id=d) for d in round_in.demand_ids])  # type: ignore[arg-type]
    db_session.add_all([RoundMember(round_id=rnd.id, expert_id=e) for e in round_in.expert_ids])  # type: ignore[arg-type]
    audit.record(
        db_session=db_session,
        entity=ROUND,
        entity_id=rnd.id,  # type: ignore[arg-type]
        action="created",
        actor=principal,
        to_status=RoundStatus.open.value,
        detail={
            "demand_ids": round_in.demand_ids,
            "expert_ids": round_in.expert_ids,
            "proposing": round_in.proposing.value,
            "deadline": round_in.deadline.isoformat() if round_in.deadline else None,
            "supplementary_of": round_in.supplementary_of,
        },
    )
    db_session.commit()
    db_session.refresh(rnd)
    return rnd


def _authorise_ranking(db_session: Session, *, side: RoundSide, party_id: int, principal: Principal) -> None:
    """404 for a missing party, 403 unless the caller speaks for it."""
    if side is RoundSide.demand:
        demand = db_session.get(Demand, party_id)
        if demand is None:
            raise NotFound(f"demand {party_id} does not exist")
        if not (principal.is_admin or principal.is_enterprise(demand.enterprise_id)):
            raise Forbidden("only administrators or the enterprise owning the demand may rank for it")
    else:
        if db_session.get(Expert, party_id) is None:
            raise NotFound(f"expert {party_id} does not exist")
        if not (principal.is_admin or principal.is_expert(party_id)):
            raise Forbidden("only administrators or the specialist themself may submit their rank list")


def set_ranking(
    *, db_session: Session, round_id: int, side: RoundSide, party_id: int, ranking: list[int], principal: Principal
) -> RoundMember:
    """Replace a member's rank list (ids of the other side, most preferred first) while the round is open."""
    get(db_session=db_session, round_id=round_id)
    _authorise_ranking(db_session, side=side, party_id=party_id, principal=principal)
    # The round's row lock orders rank lists against closing: none lands after the round closed.
    rnd = _lock_round(db_session, round_id)
    round_members = members(db_session=db_session, round_ids=[round_id])[round_id]
    own = col(RoundMember.demand_id) if side is RoundSide.demand else col(RoundMember.expert_id)
    member = db_session.exec(select(RoundMember).where(RoundMember.round_id == round_id, own == party_id)).first()
    if member is None:
        raise NotFound(f"{side.value} {party_id} is not in round {round_id}")
    if rnd.status != RoundStatus.open:
        raise Conflict(f"round {round_id} is closed; rank lists can no longer change", code="round-closed")
    if rnd.deadline is not None and utcnow() > _as_utc(rnd.deadline):
        raise Conflict(
            f"round {round_id}'s deadline ({_as_utc(rnd.deadline).isoformat()}) has passed",
            code="round-deadline-passed",
            deadline=_as_utc(rnd.deadline).isoformat(),
        )
    other = {m.expert_id for m in round_members} if side is RoundSide.demand else {m.demand_id for m in round_members}
    other.discard(None)
    seen: set[int] = set()
    repeated = sorted({i for i in ranking if i in seen or seen.add(i)})  # type: ignore[func-returns-value]
    if repeated:
        raise InvalidInput.field("body", f"names {', '.join(map(str, repeated))} more than once", code="repeated-id")
    outside = [i for i in ranking if i not in other]
    if outside:
        kind = "specialists" if side is RoundSide.demand else "demands"
        raise InvalidInput.field(
            "body", f"{', '.join(map(str, outside[:20]))} are not among the round's {kind}", code="not-in-round"
        )
    member.ranking = list(ranking)
    member.ranked_at = utcnow()
    db_session.add(member)
    audit.record(
        db_session=db_session,
        entity=ROUND,
        entity_id=round_id,
        action="ranked",
        actor=principal,
        from_status=rnd.status,
        to_status=rnd.status,
        detail={"side": side.value, "party_id": party_id, "ranking": list(ranking)},
    )
    db_session.commit()
    db_session.refresh(member)
    return member


# --- closing ---------------------------------------------------------------------------------------------------


def _live_counts(db_session: Session, column: Any, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    rows = db_session.exec(
        select(column, func.count()).where(column.in_(ids), col(Engagement.status).in_(LIVE_STATUSES)).group_by(column)
    ).all()
    return {int(k): int(n) for k, n in rows}


def _ineligibility(db_session: Session, expert: Expert, demand: Demand) -> DomainError | None:
    """Why the pair cannot be engaged whatever the load (the engagements' own checks), or None."""
    try:
        engagements._check_eligible(expert=expert, demand=demand)
        engagements._check_pair_free(db_session, expert=expert, demand=demand)
    except Conflict as exc:
        return exc
    return None


def close(*, db_session: Session, round_id: int, principal: Principal, scorer: PairScorer | None = None) -> Round:
    """Run the stable matching over the round's rank lists and open its engagements; closing twice is a 409."""
    rnd = _lock_round(db_session, round_id)
    if rnd.status != RoundStatus.open:
        raise Conflict(f"round {round_id} is already closed", code="round-closed")
    round_members = members(db_session=db_session, round_ids=[round_id])[round_id]
    demand_ids = sorted(m.demand_id for m in round_members if m.demand_id is not None)
    expert_ids = sorted(m.expert_id for m in round_members if m.expert_id is not None)
    experts, demands = engagements.lock_parties(db_session=db_session, expert_ids=expert_ids, demand_ids=demand_ids)
    load = _live_counts(db_session, col(Engagement.expert_id), expert_ids)
    filled = _live_counts(db_session, col(Engagement.demand_id), demand_ids)
    e_cap = {e: max(0, x.capacity - load.get(e, 0)) if x.active else 0 for e, x in experts.items()}
    d_cap = {
        d: max(0, x.headcount - filled.get(d, 0)) if x.status == DemandStatus.open else 0 for d, x in demands.items()
    }
    d_rank = {m.demand_id: m.ranking or [] for m in round_members if m.demand_id is not None}
    e_rank = {m.expert_id: m.ranking or [] for m in round_members if m.expert_id is not None}

    # Mutually ranked pairs that break a hard rule become unacceptable (and are reported).
    ineligible: list[dict[str, Any]] = []
    banned: set[tuple[int, int]] = set()
    for e, ranked in e_rank.items():
        if e not in experts:
            continue
        for d in ranked:
            if d in demands and e in d_rank.get(d, ()):
                problem = _ineligibility(db_session, experts[e], demands[d])
                if problem is not None:
                    banned.add((d, e))
                    ineligible.append({"demand_id": d, "expert_id": e, "code": problem.code, "detail": problem.detail})

    e_list = [e for e in expert_ids if e in experts]
    d_list = [d for d in demand_ids if d in demands]
    e_pos = {e: i for i, e in enumerate(e_list)}
    d_pos = {d: i for i, d in enumerate(d_list)}
    expert_prefs = [[d_pos[d] for d in e_rank.get(e, []) if d in d_pos and (d, e) not in banned] for e in e_list]
    demand_prefs = [[e_pos[e] for e in d_rank.get(d, []) if e in e_pos and (d, e) not in banned] for d in d_list]
    expert_capacity = [e_cap[e] for e in e_list]
    demand_capacity = [d_cap[d] for d in d_list]
    with round_solve_seconds.time():
        matching = stable_matching(
            expert_prefs, demand_prefs, expert_capacity, demand_capacity, proposing=rnd.proposing, check=True
        )
    matched = [
        (d_list[di], e_list[ei])
        for di, ei in zip(matching.demand_idx.tolist(), matching.expert_idx.tolist(), strict=True)
    ]
    scores = scorer(matched) if scorer is not None and matched else {}

    pairs: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    kept_idx: list[tuple[int, int]] = []
    for d, e in matched:
        try:
            with db_session.begin_nested():
                engagement = engagements.open_engagement(
                    db_session=db_session,
                    demand_id=d,
                    expert_id=e,
                    mode=EngagementMode.round,
                    status=EngagementStatus.active,
                    score=scores.get((d, e)),
                    actor=principal,
                    round_id=round_id,
                    commit=False,
                )
        except DomainError as exc:
            failed.append({"demand_id": d, "expert_id": e, "code": exc.code, "detail": exc.detail})
            continue
        kept_idx.append((d_pos[d], e_pos[e]))
        pairs.append(
            {
                "demand_id": d,
                "expert_id": e,
                "engagement_id": engagement.id,
                "demand_rank": d_rank[d].index(e) + 1,
                "expert_rank": e_rank[e].index(d) + 1,
                "score": scores.get((d, e)),
            }
        )

    blocking = blocking_pairs(
        expert_prefs,
        demand_prefs,
        expert_capacity,
        demand_capacity,
        [di for di, _ in kept_idx],
        [ei for _, ei in kept_idx],
    )
    matched_demands = {p["demand_id"] for p in pairs}
    matched_experts = {p["expert_id"] for p in pairs}
    result = RoundResult.model_validate(
        {
            "proposing": rnd.proposing,
            "pairs": pairs,
            "unmatched_demands": [d for d in demand_ids if d not in matched_demands],
            "unmatched_experts": [e for e in expert_ids if e not in matched_experts],
            "stable": blocking.shape[0] == 0,
            "blocking_pairs": [{"demand_id": d_list[di], "expert_id": e_list[ei]} for di, ei in blocking.tolist()],
            "ineligible_pairs": ineligible,
            "failed_pairs": failed,
            "demand_capacity": d_cap,
            "expert_capacity": e_cap,
        }
    )
    rnd.result = result.model_dump(mode="json")
    rnd.status = RoundStatus.closed.value
    rnd.closed_at = utcnow()
    db_session.add(rnd)
    audit.record(
        db_session=db_session,
        entity=ROUND,
        entity_id=round_id,
        action="closed",
        actor=principal,
        from_status=RoundStatus.open.value,
        to_status=RoundStatus.closed.value,
        detail={
            "pairs": len(pairs),
            "failed": len(failed),
            "ineligible": len(ineligible),
            "stable": result.stable,
            "proposing": rnd.proposing,
        },
    )
    member_rows = members(db_session=db_session, round_ids=[round_id])[round_id]
    member_demands = [m.demand_id for m in member_rows if m.demand_id is not None]
    enterprise_ids = (
        db_session.exec(select(Demand.enterprise_id).where(col(Demand.id).in_(member_demands))).all()
        if member_demands
        else []
    )
    events.record(
        db_session=db_session,
        type=EventType.round_closed,
        data={
            "round_id": round_id,
            "name": rnd.name,
            "stable": result.stable,
            "pairs": result.model_dump(mode="json")["pairs"],
        },
        enterprises=enterprise_ids,
        experts=[m.expert_id for m in member_rows if m.expert_id is not None],
    )
    db_session.commit()
    db_session.refresh(rnd)
    return rnd
