"""Issue ledger rules: who raises, answers, confirms and reopens, and the state machine of SPEC §8.1.

States: ``open → answered → resolved → confirmed`` and ``resolved → open`` on reopen. A response with
``resolved: false`` moves an open issue to ``answered`` (further answers keep it there); one with ``resolved: true``
moves an open or answered issue to ``resolved``. Only the enterprise confirms (``resolved → confirmed``, with a
satisfaction score) or reopens (``resolved → open``). Every change locks the issue row first, so two racing moves
never both pass the state check.

Who may do what (administrators may do everything, on anyone's behalf):
- raise an issue: the demand's enterprise, on an `active` engagement (one in service);
- answer: the engagement's specialist, while the issue is open or answered (also after the engagement ended:
  a problem raised during service is still owed an answer);
- confirm or reopen: the enterprise;
- read: the engagement's two parties.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import date as CalendarDate

from sqlmodel import Session, col, func, select

from service import audit
from service.auth import Principal
from service.common import _as_utc, utcnow
from service.engagements import service as engagements_service
from service.engagements.models import Engagement, EngagementStatus
from service.errors import Conflict, Forbidden, InvalidInput, NotFound
from service.issues.models import (
    RESOLVED,
    UNRESOLVED,
    Issue,
    IssueConfirm,
    IssueCreate,
    IssuePublic,
    IssueReopen,
    IssueResponse,
    IssueResponseCreate,
    IssueResponsePublic,
    IssueStats,
    IssueStatus,
)
from service.pagination import fetch_page

ISSUE = "issue"


def today() -> CalendarDate:
    """The date overdue is judged against (UTC)."""
    return utcnow().date()


def is_overdue(issue: Issue, *, on: CalendarDate | None = None) -> bool:
    """Past its due date and not yet resolved."""
    return issue.due_date is not None and issue.status in UNRESOLVED and issue.due_date < (on or today())


def to_public(issue: Issue, responses: Sequence[IssueResponse]) -> IssuePublic:
    """The issue as clients see it, with its answers in the order written."""
    data = issue.model_dump()
    data["overdue"] = is_overdue(issue)
    data["responses"] = [IssueResponsePublic.model_validate(r) for r in responses]
    return IssuePublic.model_validate(data)


def responses_of(db_session: Session, issue_ids: Sequence[int]) -> dict[int, list[IssueResponse]]:
    """The answers of these issues, each list in the order written."""
    out: dict[int, list[IssueResponse]] = {i: [] for i in issue_ids}
    if not issue_ids:
        return out
    rows = db_session.exec(
        select(IssueResponse).where(col(IssueResponse.issue_id).in_(list(issue_ids))).order_by(col(IssueResponse.id))
    ).all()
    for row in rows:
        out[row.issue_id].append(row)
    return out


def public(db_session: Session, issue: Issue) -> IssuePublic:
    """One issue with its answers."""
    return to_public(issue, responses_of(db_session, [issue.id])[issue.id])  # type: ignore[index,list-item]


def _is_party(principal: Principal, issue: Issue) -> bool:
    return principal.is_admin or principal.is_enterprise(issue.enterprise_id) or principal.is_expert(issue.expert_id)


def get_visible(*, db_session: Session, issue_id: int, principal: Principal) -> Issue:
    """The issue if the caller is a party of its engagement or an administrator: 404 when missing, else 403."""
    issue = db_session.get(Issue, issue_id)
    if issue is None:
        raise NotFound(f"issue {issue_id} does not exist")
    if not _is_party(principal, issue):
        raise Forbidden(f"issue {issue_id} belongs to another engagement's parties")
    return issue


def _locked(db_session: Session, issue_id: int) -> Issue:
    issue = db_session.exec(
        select(Issue).where(Issue.id == issue_id).with_for_update().execution_options(populate_existing=True)
    ).first()
    if issue is None:
        raise NotFound(f"issue {issue_id} does not exist")
    return issue


def _illegal(issue: Issue, action: str, allowed: str) -> Conflict:
    return Conflict(
        f"issue {issue.id} is '{issue.status}'; it can be {action} only when {allowed}",
        code="illegal-issue-transition",
        issue_id=issue.id,
        status_now=issue.status,
    )


def raise_issue(*, db_session: Session, engagement_id: int, issue_in: IssueCreate, principal: Principal) -> Issue:
    """The enterprise raises a problem on an active engagement."""
    engagement = engagements_service.get_visible(
        db_session=db_session, engagement_id=engagement_id, principal=principal
    )
    if not (principal.is_admin or principal.is_enterprise(engagement.enterprise_id)):
        raise Forbidden("only administrators or the demand's enterprise may raise an issue on an engagement")
    if issue_in.due_date is not None and issue_in.due_date < today():
        raise InvalidInput.field("body.due_date", f"is in the past (today is {today().isoformat()} UTC)")
    # Lock the engagement so that an issue never slips in after a concurrent complete/terminate.
    locked = db_session.exec(
        select(Engagement)
        .where(Engagement.id == engagement_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if locked is None:
        raise NotFound(f"engagement {engagement_id} does not exist")
    if locked.status != EngagementStatus.active.value:
        raise Conflict(
            f"issues are raised on an active engagement; engagement {engagement_id} is '{locked.status}'",
            code="engagement-not-active",
            status_now=locked.status,
        )
    issue = Issue(
        engagement_id=engagement_id,
        enterprise_id=locked.enterprise_id,
        expert_id=locked.expert_id,
        demand_id=locked.demand_id,
        title=issue_in.title,
        description=issue_in.description,
        due_date=issue_in.due_date,
        status=IssueStatus.open.value,
    )
    db_session.add(issue)
    db_session.flush()
    audit.record(
        db_session=db_session,
        entity=ISSUE,
        entity_id=issue.id,  # type: ignore[arg-type]
        action="raised",
        actor=principal,
        to_status=issue.status,
        detail={
            "engagement_id": engagement_id,
            "due_date": issue_in.due_date.isoformat() if issue_in.due_date else None,
        },
    )
    db_session.commit()
    db_session.refresh(issue)
    return issue


def respond(*, db_session: Session, issue_id: int, response_in: IssueResponseCreate, principal: Principal) -> Issue:
    """The specialist answers an open or answered issue; `resolved: true` marks it resolved."""
    issue = get_visible(db_session=db_session, issue_id=issue_id, principal=principal)
    if not (principal.is_admin or principal.is_expert(issue.expert_id)):
        raise Forbidden("only administrators or the engagement's specialist may answer an issue")
    issue = _locked(db_session, issue_id)
    if issue.status not in UNRESOLVED:
        raise _illegal(issue, "answered", "open or answered (reopen a resolved issue first)")
    before = issue.status
    now = utcnow()
    db_session.add(
        IssueResponse(
            issue_id=issue_id,
            summary=response_in.summary,
            resolved=response_in.resolved,
            author_role=str(principal.role),
            author_key_id=principal.key_id,
            created_at=now,
        )
    )
    if issue.answered_at is None:
        issue.answered_at = now
    if response_in.resolved:
        issue.status, issue.resolved_at = IssueStatus.resolved.value, now
    else:
        issue.status = IssueStatus.answered.value
    db_session.add(issue)
    audit.record(
        db_session=db_session,
        entity=ISSUE,
        entity_id=issue_id,
        action="resolved" if response_in.resolved else "answered",
        actor=principal,
        from_status=before,
        to_status=issue.status,
    )
    db_session.commit()
    db_session.refresh(issue)
    return issue


def _enterprise_only(principal: Principal, issue: Issue, action: str) -> None:
    if not (principal.is_admin or principal.is_enterprise(issue.enterprise_id)):
        raise Forbidden(f"only administrators or the demand's enterprise may {action} an issue")


def confirm(*, db_session: Session, issue_id: int, confirm_in: IssueConfirm, principal: Principal) -> Issue:
    """The enterprise confirms a resolved issue with its satisfaction."""
    issue = get_visible(db_session=db_session, issue_id=issue_id, principal=principal)
    _enterprise_only(principal, issue, "confirm")
    issue = _locked(db_session, issue_id)
    if issue.status != IssueStatus.resolved.value:
        raise _illegal(issue, "confirmed", "resolved")
    issue.status = IssueStatus.confirmed.value
    issue.confirmed_at = utcnow()
    issue.satisfaction = confirm_in.satisfaction
    issue.confirm_comment = confirm_in.comment
    db_session.add(issue)
    audit.record(
        db_session=db_session,
        entity=ISSUE,
        entity_id=issue_id,
        action="confirmed",
        actor=principal,
        from_status=IssueStatus.resolved.value,
        to_status=issue.status,
        detail={"satisfaction": confirm_in.satisfaction},
    )
    db_session.commit()
    db_session.refresh(issue)
    return issue


def reopen(*, db_session: Session, issue_id: int, reopen_in: IssueReopen, principal: Principal) -> Issue:
    """The enterprise reopens a resolved issue: it is open again and the resolution time is cleared."""
    issue = get_visible(db_session=db_session, issue_id=issue_id, principal=principal)
    _enterprise_only(principal, issue, "reopen")
    issue = _locked(db_session, issue_id)
    if issue.status != IssueStatus.resolved.value:
        raise _illegal(issue, "reopened", "resolved")
    issue.status = IssueStatus.open.value
    issue.resolved_at = None
    issue.reopened = issue.reopened + 1
    db_session.add(issue)
    audit.record(
        db_session=db_session,
        entity=ISSUE,
        entity_id=issue_id,
        action="reopened",
        actor=principal,
        from_status=IssueStatus.resolved.value,
        to_status=issue.status,
        detail={"reason": reopen_in.reason} if reopen_in.reason else {},
    )
    db_session.commit()
    db_session.refresh(issue)
    return issue


def list_issues(
    *,
    db_session: Session,
    principal: Principal,
    limit: int,
    offset: int,
    enterprise_id: int | None = None,
    expert_id: int | None = None,
    engagement_id: int | None = None,
    status: IssueStatus | None = None,
    overdue: bool | None = None,
) -> tuple[list[Issue], int]:
    """A page of the issues this caller is party to (administrators: all), oldest first, with the total."""
    query = select(Issue)
    if not principal.is_admin:
        if principal.enterprise_id is not None:
            query = query.where(Issue.enterprise_id == principal.enterprise_id)
        elif principal.expert_id is not None:
            query = query.where(Issue.expert_id == principal.expert_id)
        else:
            return [], 0
    for column, value in (
        (Issue.enterprise_id, enterprise_id),
        (Issue.expert_id, expert_id),
        (Issue.engagement_id, engagement_id),
        (Issue.status, status.value if status else None),
    ):
        if value is not None:
            query = query.where(column == value)
    if overdue is not None:
        late = col(Issue.due_date).is_not(None) & (col(Issue.due_date) < today()) & col(Issue.status).in_(UNRESOLVED)
        query = query.where(late if overdue else ~late)
    return fetch_page(db_session, query, order_by=col(Issue.id), limit=limit, offset=offset)


def stats(*, db_session: Session) -> IssueStats:
    """Issues raised, resolved and overdue, the median days to resolve, and the mean satisfaction."""
    counts = db_session.exec(select(Issue.status, func.count()).group_by(Issue.status)).all()
    by_status = {status.value: 0 for status in IssueStatus}
    by_status.update({str(s): int(n) for s, n in counts})
    overdue = db_session.exec(
        select(func.count())
        .select_from(Issue)
        .where(col(Issue.due_date).is_not(None), col(Issue.due_date) < today(), col(Issue.status).in_(UNRESOLVED))
    ).one()
    spans = db_session.exec(
        select(Issue.created_at, Issue.resolved_at).where(
            col(Issue.status).in_(RESOLVED), col(Issue.resolved_at).is_not(None)
        )
    ).all()
    days = [max(0.0, (_as_utc(end) - _as_utc(start)).total_seconds() / 86400) for start, end in spans]
    satisfaction = db_session.exec(
        select(func.avg(Issue.satisfaction)).where(col(Issue.satisfaction).is_not(None))
    ).one()
    return IssueStats(
        raised=sum(by_status.values()),
        by_status=by_status,
        resolved=sum(by_status[s] for s in RESOLVED),
        overdue=int(overdue),
        median_days_to_resolve=round(statistics.median(days), 3) if days else None,
        mean_satisfaction=round(float(satisfaction), 3) if satisfaction is not None else None,
    )
