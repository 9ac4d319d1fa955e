"""Suggestions: who may ask for whose, the matcher's ranked pairs, and the other party's public summary.

A demand's suggestions are for administrators and the owning enterprise; a specialist's for administrators and the
specialist. Only an `open` demand has suggestions: any other status answers 409 `demand-not-open` (nobody can be
selected for it, so a ranking would mislead). Specialists are suggested only open demands. Contact details in the
summaries follow SPEC 6.3: administrators, and the other side of a live or past engagement.

Cost of a request (README "Serving under load"): the key (none for the administrator key of the environment), one
read of the change log, and for an enterprise or a specialist one query naming the parties they are or were engaged
with. The demand or specialist, its owner and every name in the answer come from the worker's index state; the
database connection is given back before ranking. A record the index does not hold yet (a change-log gap, or not
open) is looked up in the database, which also tells 404 from 409.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlmodel import Session, select

from matching.records import DemandProfile, ExpertProfile
from service.auth import Principal
from service.demands import service as demands_service
from service.demands.models import DemandStatus
from service.engagements.models import Engagement
from service.errors import Conflict, Forbidden
from service.experts import service as experts_service
from service.observability import suggestion_latency_seconds
from service.suggestions.live import LiveMatcher
from service.suggestions.pages import render_demands, render_experts
from service.suggestions.profiles import load_experts, load_open_demands


def _everyone(_: int) -> bool:
    return True


def _engaged_with(db_session: Session, column: Any, party_column: Any, party_id: int | None) -> Callable[[int], bool]:
    """Whether a party (in `column`) has or had an engagement with the caller: they may see its contact."""
    if party_id is None:
        return lambda _: False
    parties = set(db_session.exec(select(column).where(party_column == party_id).distinct()).all())
    db_session.rollback()
    return parties.__contains__


def expert_suggestions(
    *,
    db_session: Session,
    live: LiveMatcher,
    demand_id: int,
    principal: Principal,
    limit: int,
    offset: int,
    include_excluded: bool,
    wait: float = 0.0,
) -> bytes:
    """Ranked specialists for an open demand (administrators and the owning enterprise), as the response body."""
    live.catch_up(db_session, wait=wait)
    with live.locked():
        matcher = live.matcher
        indexed: DemandProfile | None = None if matcher is None else matcher.demands_.get(demand_id)
    demand = indexed
    if demand is None:  # not there, not open, or not indexed yet: the database says which
        record = demands_service.get(db_session=db_session, demand_id=demand_id)
        owner = record.enterprise_id
    else:
        owner = demand.enterprise_id
    if not (principal.is_admin or principal.is_enterprise(owner)):
        raise Forbidden("only administrators or the enterprise owning the demand may see its suggestions")
    if demand is None:
        if record.status != DemandStatus.open:
            raise Conflict(
                f"demand {demand_id} is '{record.status}'; only open demands have suggestions",
                code="demand-not-open",
                demand_id=demand_id,
                demand_status=record.status,
            )
        demand = load_open_demands(db_session, [demand_id]).get(demand_id)
        if demand is None:  # closed since
            raise Conflict(f"demand {demand_id} is no longer open", code="demand-not-open", demand_id=demand_id)
    entitled = (
        _everyone
        if principal.is_admin
        else _engaged_with(db_session, Engagement.expert_id, Engagement.enterprise_id, owner)
    )
    db_session.rollback()
    query = demand
    paging = {"limit": limit, "offset": offset, "include_excluded": include_excluded}

    def compute(matcher: Any) -> Any:
        # By id when indexed (its stored vectors), else the record as read.
        return matcher.suggest_experts(query.id if query.id in matcher.demands_ else query, **paging)

    key = None if indexed is None else ("experts", demand_id, limit, offset, include_excluded)
    with suggestion_latency_seconds.time():
        page = live.page(key, compute, render_experts)
    return page.body(limit=limit, offset=offset, entitled=entitled)


def demand_suggestions(
    *,
    db_session: Session,
    live: LiveMatcher,
    expert_id: int,
    principal: Principal,
    limit: int,
    offset: int,
    include_excluded: bool,
    wait: float = 0.0,
) -> bytes:
    """Ranked open demands for a specialist (administrators and the specialist), as the response body."""
    live.catch_up(db_session, wait=wait)
    with live.locked():
        matcher = live.matcher
        indexed = matcher is not None and expert_id in matcher.experts_
    profile: ExpertProfile | None = None
    if not indexed:
        experts_service.get(db_session=db_session, expert_id=expert_id)  # 404 when there is no such specialist
    if not (principal.is_admin or principal.is_expert(expert_id)):
        raise Forbidden("only administrators or the specialist themself may see their suggestions")
    if not indexed:
        profile = load_experts(db_session, [expert_id]).get(expert_id)
    entitled = (
        _everyone
        if principal.is_admin
        else _engaged_with(db_session, Engagement.enterprise_id, Engagement.expert_id, expert_id)
    )
    db_session.rollback()
    paging = {"limit": limit, "offset": offset, "include_excluded": include_excluded}

    def compute(matcher: Any) -> Any:
        if expert_id in matcher.experts_:
            return matcher.suggest_demands(expert_id, **paging)
        return matcher.suggest_demands(profile, **paging) if profile is not None else ([], 0)

    key = ("demands", expert_id, limit, offset, include_excluded) if indexed else None
    with suggestion_latency_seconds.time():
        page = live.page(key, compute, render_demands)
    return page.body(limit=limit, offset=offset, entitled=entitled)
