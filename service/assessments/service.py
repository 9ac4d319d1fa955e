"""Periodic assessment: the 100-point score of SPEC §8.3, computed only from stored data and the period, so
recomputing over the same data gives the same scores.

An engagement *served in the period* started (was active) before the period's end and had not ended before its
start. The parts, each in points:

- ``ratings`` (35): the mean enterprise rating r of the engagements completed in the period, ``35 × (r − 1) / 4``;
  half (17.5) when none of them was rated (no rating is not the specialist's fault).
- ``service_hours`` (20): hours logged on days in the period against a target of
  ``EXPERTMATCH_ASSESSMENT_HOURS_TARGET`` (default 40) hours per engagement served, ``20 × min(1, hours / target)``.
- ``issues`` (25): of the issues raised in the period on those engagements, the share resolved (resolved or
  confirmed) × 15 plus the share resolved on time (by the due date, or any time when none was set) × 10; full marks
  when no issue was raised.
- ``completion`` (20): engagements completed / (completed + terminated) among those that ended in the period × 20;
  half (10) when none ended.

A specialist who served no engagement in the period is listed, not scored (`assessed: false`, no score or grade).
The total is rounded to one decimal; grades: excellent ≥ 90, good ≥ 75, pass ≥ 60, fail below.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime, time
from datetime import date as CalendarDate
from typing import Any

from sqlmodel import Session, col, func, select

from service import audit
from service.assessments.models import (
    GRADE_ZH,
    Assessment,
    AssessmentCreate,
    AssessmentPublic,
    AssessmentScore,
    AssessmentStats,
    Grade,
    PartDefinition,
    ScoreAdjust,
    ScorePage,
    ScorePublic,
    grade_of,
)
from service.auth import Principal
from service.common import _as_utc, utcnow
from service.engagements.models import Engagement, EngagementLog, EngagementStatus
from service.errors import Forbidden, InvalidInput, NotFound
from service.experts.models import Expert
from service.issues.models import RESOLVED, Issue
from service.pagination import fetch_page

ASSESSMENT = "assessment"

PARTS: list[PartDefinition] = [
    PartDefinition(
        name="ratings",
        max_points=35,
        description="mean enterprise rating r of engagements completed in the period: 35 × (r − 1) / 4; "
        "17.5 when none was rated",
    ),
    PartDefinition(
        name="service_hours",
        max_points=20,
        description="hours logged in the period against the target per engagement served: 20 × min(1, hours / target)",
    ),
    PartDefinition(
        name="issues",
        max_points=25,
        description="issues raised in the period: share resolved × 15 + share resolved by the due date × 10; "
        "25 when none was raised",
    ),
    PartDefinition(
        name="completion",
        max_points=20,
        description="completed / (completed + terminated) among engagements that ended in the period × 20; "
        "10 when none ended",
    ),
]
PART_ZH = {"ratings": "服务评价", "service_hours": "服务时长", "issues": "问题解决", "completion": "服务完成"}


def period_window(period: str) -> tuple[CalendarDate, CalendarDate]:
    """First day of the period and first day after it, from 2025, 2025-H1, 2025-Q3 or 2025-07."""
    match = re.fullmatch(r"(\d{4})(?:-(?:(\d{2})|Q([1-4])|H([12])))?", period)
    if match is None:
        raise InvalidInput.field("body.period", "must be a year (2025), half (2025-H1), quarter (2025-Q3) or month")
    year = int(match.group(1))
    if year < 1900 or year > 9998:
        raise InvalidInput.field("body.period", "year out of range")
    month, quarter, half = match.group(2), match.group(3), match.group(4)
    if month:
        first, months = int(month), 1
    elif quarter:
        first, months = 3 * (int(quarter) - 1) + 1, 3
    elif half:
        first, months = 6 * (int(half) - 1) + 1, 6
    else:
        first, months = 1, 12
    end_month = first + months
    end = CalendarDate(year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1)
    return CalendarDate(year, first, 1), end


def _at(day: CalendarDate) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _round(x: float) -> float:
    return round(x + 0.0, 2)


def score_parts(
    *,
    ratings: list[int],
    hours: float,
    served: int,
    issues: list[tuple[bool, bool]],
    completed: int,
    terminated: int,
    hours_target: float,
) -> dict[str, float]:
    """The four parts, in points, from one specialist's figures (pure: the same figures give the same parts)."""
    rating_points = 35 * (sum(ratings) / len(ratings) - 1) / 4 if ratings else 17.5
    target = hours_target * max(served, 1)
    hour_points = 20 * min(1.0, hours / target) if target > 0 else 20.0
    if issues:
        resolved = sum(1 for r, _ in issues if r) / len(issues)
        on_time = sum(1 for _, t in issues if t) / len(issues)
        issue_points = 15 * resolved + 10 * on_time
    else:
        issue_points = 25.0
    ended = completed + terminated
    completion_points = 20 * completed / ended if ended else 10.0
    return {
        "ratings": _round(rating_points),
        "service_hours": _round(hour_points),
        "issues": _round(issue_points),
        "completion": _round(completion_points),
    }


def _figures(db_session: Session, expert_ids: list[int], start: CalendarDate, end: CalendarDate) -> dict[int, dict]:
    """Each specialist's data for the period, read in a handful of queries."""
    begin, stop = _at(start), _at(end)
    out: dict[int, dict[str, Any]] = {
        x: {"served": 0, "ratings": [], "hours": 0.0, "issues": [], "completed": 0, "terminated": 0} for x in expert_ids
    }
    wanted = set(expert_ids)
    engagements = db_session.exec(
        select(Engagement).where(
            col(Engagement.started_at).is_not(None),
            col(Engagement.started_at) < stop,
            (col(Engagement.ended_at).is_(None)) | (col(Engagement.ended_at) >= begin),
        )
    ).all()
    served: dict[int, int] = {}
    for engagement in engagements:
        if engagement.expert_id not in wanted:
            continue
        figures = out[engagement.expert_id]
        figures["served"] += 1
        served[engagement.id] = engagement.expert_id  # type: ignore[index]
        ended = engagement.ended_at is not None and begin <= _as_utc(engagement.ended_at) < stop
        if ended and engagement.status == EngagementStatus.completed.value:
            figures["completed"] += 1
            if engagement.rating is not None:
                figures["ratings"].append(engagement.rating)
        elif ended and engagement.status == EngagementStatus.terminated.value:
            figures["terminated"] += 1
    if served:
        ids = sorted(served)
        for engagement_id, hours in db_session.exec(
            select(EngagementLog.engagement_id, func.sum(EngagementLog.hours))
            .where(col(EngagementLog.engagement_id).in_(ids), EngagementLog.date >= start, EngagementLog.date < end)
            .group_by(EngagementLog.engagement_id)
        ).all():
            out[served[engagement_id]]["hours"] += float(hours or 0)
        issues = db_session.exec(
            select(Issue)
            .where(col(Issue.engagement_id).in_(ids), col(Issue.created_at) >= begin, col(Issue.created_at) < stop)
            .order_by(col(Issue.id))
        ).all()
        for issue in issues:
            resolved = issue.status in RESOLVED
            on_time = resolved and (
                issue.due_date is None
                or (issue.resolved_at is not None and _as_utc(issue.resolved_at).date() <= issue.due_date)
            )
            out[served[issue.engagement_id]]["issues"].append((resolved, on_time))
    return out


def compute(
    *, db_session: Session, assessment_in: AssessmentCreate, principal: Principal, hours_target: float
) -> Assessment:
    """Compute and store an assessment of the period for these specialists (every specialist when none named)."""
    start, end = period_window(assessment_in.period)
    if assessment_in.expert_ids is not None:
        wanted = sorted(set(assessment_in.expert_ids))
        found = set(db_session.exec(select(Expert.id).where(col(Expert.id).in_(wanted))).all())
        missing = [x for x in wanted if x not in found]
        if missing:
            raise InvalidInput.field("body.expert_ids", f"no such specialist: {', '.join(map(str, missing[:20]))}")
    else:
        wanted = list(db_session.exec(select(Expert.id).order_by(col(Expert.id))).all())  # type: ignore[arg-type]
    assessment = Assessment(
        period=assessment_in.period,
        starts_on=start,
        ends_on=end,
        expert_ids=sorted(set(assessment_in.expert_ids)) if assessment_in.expert_ids is not None else None,
        parameters={"hours_target_per_engagement": hours_target},
    )
    db_session.add(assessment)
    db_session.flush()
    figures = _figures(db_session, wanted, start, end)
    grades: dict[str, int] = defaultdict(int)
    for expert_id in wanted:
        f = figures[expert_id]
        issues = f.pop("issues")
        f["issues_raised"] = len(issues)
        f["issues_resolved"] = sum(1 for r, _ in issues if r)
        f["issues_on_time"] = sum(1 for _, t in issues if t)
        ratings = f.pop("ratings")
        f["ratings"] = len(ratings)
        f["mean_rating"] = round(sum(ratings) / len(ratings), 3) if ratings else None
        f["hours"] = round(f["hours"], 2)
        row = AssessmentScore(assessment_id=assessment.id, expert_id=expert_id, figures=f)  # type: ignore[arg-type]
        if f["served"]:
            row.parts = score_parts(
                ratings=ratings,
                hours=f["hours"],
                served=f["served"],
                issues=issues,
                completed=f["completed"],
                terminated=f["terminated"],
                hours_target=hours_target,
            )
            row.computed_score = row.score = round(sum(row.parts.values()), 1)
            row.grade = grade_of(row.score).value
            grades[row.grade] += 1
        db_session.add(row)
    audit.record(
        db_session=db_session,
        entity=ASSESSMENT,
        entity_id=assessment.id,  # type: ignore[arg-type]
        action="computed",
        actor=principal,
        detail={"period": assessment.period, "experts": len(wanted), "grades": dict(grades)},
    )
    db_session.commit()
    db_session.refresh(assessment)
    return assessment


def get_visible(*, db_session: Session, assessment_id: int, principal: Principal) -> Assessment:
    """The assessment for administrators, or for a specialist it includes: 404 when missing, else 403."""
    assessment = db_session.get(Assessment, assessment_id)
    if assessment is None:
        raise NotFound(f"assessment {assessment_id} does not exist")
    if principal.is_admin:
        return assessment
    if principal.expert_id is not None and _score_row(db_session, assessment_id, principal.expert_id) is not None:
        return assessment
    raise Forbidden("only administrators and the specialists it assesses may read an assessment")


def _score_row(db_session: Session, assessment_id: int, expert_id: int) -> AssessmentScore | None:
    return db_session.exec(
        select(AssessmentScore).where(
            AssessmentScore.assessment_id == assessment_id, AssessmentScore.expert_id == expert_id
        )
    ).first()


def score_public(row: AssessmentScore) -> ScorePublic:
    """One specialist's score as clients see it."""
    return ScorePublic(
        expert_id=row.expert_id,
        assessed=row.computed_score is not None,
        parts=dict(row.parts or {}),
        figures=dict(row.figures or {}),
        computed_score=row.computed_score,
        score=row.score,
        grade=Grade(row.grade) if row.grade else None,
        adjusted=row.adjusted_at is not None,
        adjusted_at=row.adjusted_at,
        adjust_reason=row.adjust_reason,
    )


def grade_counts(db_session: Session, assessment_id: int) -> dict[str, int]:
    """Specialists per grade, every grade named, plus those not assessed."""
    counts = {g.value: 0 for g in Grade} | {"not_assessed": 0}
    for grade, n in db_session.exec(
        select(AssessmentScore.grade, func.count())
        .where(AssessmentScore.assessment_id == assessment_id)
        .group_by(AssessmentScore.grade)
    ).all():
        counts[grade or "not_assessed"] = int(n)
    return counts


def to_public(
    db_session: Session,
    assessment: Assessment,
    *,
    principal: Principal,
    limit: int,
    offset: int,
    grade: Grade | None = None,
    expert_id: int | None = None,
) -> AssessmentPublic:
    """The assessment with a page of its scores (a specialist sees only their own) and, for administrators, the
    grade distribution."""
    query = select(AssessmentScore).where(AssessmentScore.assessment_id == assessment.id)
    if not principal.is_admin:
        query = query.where(AssessmentScore.expert_id == principal.expert_id)
    if grade is not None:
        query = query.where(AssessmentScore.grade == grade.value)
    if expert_id is not None:
        query = query.where(AssessmentScore.expert_id == expert_id)
    rows, total = fetch_page(db_session, query, order_by=col(AssessmentScore.expert_id), limit=limit, offset=offset)
    everyone = db_session.exec(
        select(func.count()).select_from(AssessmentScore).where(AssessmentScore.assessment_id == assessment.id)
    ).one()
    return AssessmentPublic(
        id=assessment.id,  # type: ignore[arg-type]
        external_id=assessment.external_id,
        created_at=assessment.created_at,
        updated_at=assessment.updated_at,
        version=assessment.version,
        period=assessment.period,
        starts_on=assessment.starts_on,
        ends_on=assessment.ends_on,
        experts=int(everyone),
        grades=grade_counts(db_session, assessment.id) if principal.is_admin else None,  # type: ignore[arg-type]
        parts=PARTS,
        parameters=dict(assessment.parameters or {}),
        scores=ScorePage(items=[score_public(r) for r in rows], total=total, limit=limit, offset=offset),
    )


def list_assessments(
    *, db_session: Session, principal: Principal, limit: int, offset: int, period: str | None = None
) -> tuple[list[Assessment], int]:
    """Assessments, newest last: all for administrators, those that include them for specialists."""
    query = select(Assessment)
    if not principal.is_admin:
        if principal.expert_id is None:
            raise Forbidden("only administrators and specialists may list assessments")
        mine = select(AssessmentScore.assessment_id).where(AssessmentScore.expert_id == principal.expert_id)
        query = query.where(col(Assessment.id).in_(mine))
    if period is not None:
        query = query.where(Assessment.period == period)
    return fetch_page(db_session, query, order_by=col(Assessment.id), limit=limit, offset=offset)


def adjust(
    *, db_session: Session, assessment_id: int, expert_id: int, adjust_in: ScoreAdjust, principal: Principal
) -> AssessmentScore:
    """An administrator sets a specialist's score (the grade follows), with a reason kept in the audit trail."""
    if db_session.get(Assessment, assessment_id) is None:
        raise NotFound(f"assessment {assessment_id} does not exist")
    row = db_session.exec(
        select(AssessmentScore)
        .where(AssessmentScore.assessment_id == assessment_id, AssessmentScore.expert_id == expert_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if row is None:
        raise NotFound(f"expert {expert_id} is not in assessment {assessment_id}")
    before_score, before_grade = row.score, row.grade
    row.score = round(adjust_in.score, 1)
    row.grade = grade_of(row.score).value
    row.adjusted_at = utcnow()
    row.adjust_reason = adjust_in.reason
    db_session.add(row)
    audit.record(
        db_session=db_session,
        entity=ASSESSMENT,
        entity_id=assessment_id,
        action="adjusted",
        actor=principal,
        from_status=before_grade,
        to_status=row.grade,
        detail={
            "expert_id": expert_id,
            "from_score": before_score,
            "to_score": row.score,
            "computed_score": row.computed_score,
            "reason": adjust_in.reason,
        },
    )
    db_session.commit()
    db_session.refresh(row)
    return row


def last_grades(db_session: Session, expert_ids: list[int] | None) -> dict[int, str]:
    """Each specialist's grade in the latest assessment that graded them (for the matcher's soft factor)."""
    latest = (
        select(AssessmentScore.expert_id, func.max(AssessmentScore.assessment_id).label("last"))
        .where(col(AssessmentScore.grade).is_not(None))
        .group_by(AssessmentScore.expert_id)
    )
    if expert_ids is not None:
        latest = latest.where(col(AssessmentScore.expert_id).in_(expert_ids))
    sub = latest.subquery()
    rows = db_session.exec(
        select(AssessmentScore.expert_id, AssessmentScore.grade).join(
            sub,
            (sub.c.expert_id == AssessmentScore.expert_id) & (sub.c.last == AssessmentScore.assessment_id),
        )
    ).all()
    return {int(x): str(g) for x, g in rows}


__all__ = ["GRADE_ZH", "PARTS", "PART_ZH"]


def stats(*, db_session: Session) -> AssessmentStats | None:
    """The latest assessment's grade distribution and mean score (None before the first assessment)."""
    latest = db_session.exec(select(Assessment).order_by(col(Assessment.id).desc()).limit(1)).first()
    if latest is None:
        return None
    grades = grade_counts(db_session, latest.id)  # type: ignore[arg-type]
    mean = db_session.exec(
        select(func.avg(AssessmentScore.score)).where(
            AssessmentScore.assessment_id == latest.id, col(AssessmentScore.score).is_not(None)
        )
    ).one()
    return AssessmentStats(
        id=latest.id,  # type: ignore[arg-type]
        period=latest.period,
        created_at=latest.created_at,
        experts=sum(grades.values()),
        grades=grades,
        mean_score=round(float(mean), 2) if mean is not None else None,
    )
