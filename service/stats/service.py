"""The programme's figures, computed with a handful of grouped queries.

Choices: demands are counted in every status (cancelled and closed included) so the status split adds up; the
load split covers active specialists only ('full' means live engagements reached capacity, whatever the capacity);
"share of open demands matched" is matched / (open + matched), the demands published and still in play; the time
to first engagement runs from `published_at` to the creation of the demand's earliest engagement of any mode and
status (an offer counts: it is the moment the demand found someone).
"""

from __future__ import annotations

import statistics
from typing import Any

from sqlmodel import Session, col, func, select

from service.assessments import service as assessments_service
from service.common import _as_utc
from service.demands.models import Demand, DemandStatus
from service.engagements.models import LIVE_STATUSES, Engagement
from service.experts.models import Expert
from service.issues import service as issues_service
from service.stats.models import (
    DemandStats,
    EngagementStats,
    ExpertStats,
    MatchedShare,
    ProgrammeStats,
    TimeToFirstEngagement,
    UnitStats,
)
from service.units.models import Unit
from service.vouchers import service as vouchers_service


def _grouped(db_session: Session, column: Any, *where: Any) -> dict[str, int]:
    """Row counts per value of a column, largest first, then by value."""
    rows = db_session.exec(select(column, func.count()).where(*where).group_by(column)).all()
    return dict(sorted(((str(value), int(n)) for value, n in rows), key=lambda kv: (-kv[1], kv[0])))


def _load_split(db_session: Session) -> dict[str, int]:
    live = (
        select(Engagement.expert_id, func.count().label("load"))
        .where(col(Engagement.status).in_(LIVE_STATUSES))
        .group_by(Engagement.expert_id)
        .subquery()
    )
    rows = db_session.exec(
        select(Expert.capacity, live.c.load, func.count())
        .select_from(Expert)
        .outerjoin(live, live.c.expert_id == Expert.id)
        .where(Expert.active == True)  # noqa: E712 - SQL comparison
        .group_by(Expert.capacity, live.c.load)
    ).all()
    split: dict[str, int] = {}
    for capacity, maybe_load, n in rows:
        load = maybe_load or 0  # no live engagement: no row in the subquery
        key = "full" if load >= capacity else str(load)
        split[key] = split.get(key, 0) + int(n)
    numbered = sorted((k for k in split if k != "full"), key=int)
    return {k: split[k] for k in [*numbered, *(["full"] if "full" in split else [])]}


def _time_to_first(db_session: Session) -> TimeToFirstEngagement:
    first = (
        select(Engagement.demand_id, func.min(Engagement.created_at).label("first_at"))
        .group_by(Engagement.demand_id)
        .subquery()
    )
    rows = db_session.exec(
        select(Demand.published_at, first.c.first_at)
        .join(first, first.c.demand_id == Demand.id)
        .where(col(Demand.published_at).is_not(None))
    ).all()
    waits = [max(0.0, (_as_utc(first_at) - _as_utc(published)).total_seconds()) for published, first_at in rows]
    median = statistics.median(waits) if waits else None
    return TimeToFirstEngagement(
        demands=len(waits),
        median_seconds=median,
        median_hours=median / 3600 if median is not None else None,
    )


def _unit_stats(db_session: Session) -> list[UnitStats]:
    """Per unit: its specialists, and the engagements it dispatched (engagement.unit_id, fixed when made)."""
    units = db_session.exec(select(Unit.id, Unit.name).order_by(col(Unit.id))).all()
    if not units:
        return []
    carried = dict(db_session.exec(select(Expert.unit_id, func.count()).group_by(Expert.unit_id)).all())
    by_status: dict[tuple[int, str], int] = {
        (u, s): int(n)
        for u, s, n in db_session.exec(
            select(Engagement.unit_id, Engagement.status, func.count())
            .where(col(Engagement.unit_id).is_not(None))
            .group_by(Engagement.unit_id, Engagement.status)
        ).all()
    }
    went_active = ("active", "completed", "terminated")
    dispatched = dict(
        db_session.exec(
            select(Engagement.unit_id, func.count(func.distinct(Engagement.expert_id)))
            .where(col(Engagement.unit_id).is_not(None), col(Engagement.status).in_(went_active))
            .group_by(Engagement.unit_id)
        ).all()
    )
    ratings = {
        u: (float(mean), int(n))
        for u, mean, n in db_session.exec(
            select(Engagement.unit_id, func.avg(Engagement.rating), func.count(Engagement.rating))
            .where(col(Engagement.unit_id).is_not(None), col(Engagement.rating).is_not(None))
            .group_by(Engagement.unit_id)
        ).all()
    }
    return [
        UnitStats(
            unit_id=uid,
            name=name,
            specialists=int(carried.get(uid, 0)),
            dispatched=int(dispatched.get(uid, 0)),
            approving=by_status.get((uid, "approving"), 0),
            active=by_status.get((uid, "active"), 0),
            completed=by_status.get((uid, "completed"), 0),
            mean_rating=round(ratings[uid][0], 3) if uid in ratings else None,
            ratings=ratings[uid][1] if uid in ratings else 0,
        )
        for uid, name in units
    ]


def programme_stats(*, db_session: Session) -> ProgrammeStats:
    """Demands, specialists and engagements split the ways the programme office reports them."""
    by_status = _grouped(db_session, Demand.status)
    experts_total = db_session.exec(select(func.count()).select_from(Expert)).one()
    experts_active = db_session.exec(
        select(func.count()).select_from(Expert).where(Expert.active == True)  # noqa: E712
    ).one()
    by_mode = _grouped(db_session, Engagement.mode)
    n_open = by_status.get(DemandStatus.open.value, 0)
    n_matched = by_status.get(DemandStatus.matched.value, 0)
    return ProgrammeStats(
        demands=DemandStats(
            total=sum(by_status.values()),
            by_status=by_status,
            by_region=_grouped(db_session, Demand.region),
            by_industry=_grouped(db_session, Demand.industry),
        ),
        experts=ExpertStats(
            total=experts_total,
            active=experts_active,
            by_origin=_grouped(db_session, Expert.origin),
            by_load=_load_split(db_session),
        ),
        engagements=EngagementStats(
            total=sum(by_mode.values()),
            by_mode=by_mode,
            by_status=_grouped(db_session, Engagement.status),
        ),
        open_demands_matched=MatchedShare(
            open=n_open,
            matched=n_matched,
            share=n_matched / (n_open + n_matched) if n_open + n_matched else None,
        ),
        time_to_first_engagement=_time_to_first(db_session),
        issues=issues_service.stats(db_session=db_session),
        vouchers=vouchers_service.stats(db_session=db_session),
        assessment=assessments_service.stats(db_session=db_session),
        units=_unit_stats(db_session),
    )
