"""Team business rules (SPEC §8.4): who may change a team, its members' rules under locks, and its matching.

A team is matched and selected like one specialist. Its profile text is its own (fields, keywords, bio) plus every
member's; everything else the matcher reads comes from the lead (capacity and load, origin, region, travel,
institution), except that every member's conflicts apply and the team is active only while every member is.
Selecting it (`POST /demands/{id}/selections {"team_id"}`) opens one engagement whose `expert_id` is the lead and
whose `team_id` is the team: it counts once against the lead's capacity and once against the demand's headcount.

Locks: a write to a team locks the team row, then the specialists it touches (in id order), then demands, the order
`engagements.service.open_engagement` uses for a team's selection, so the two never wait on each other in a cycle.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import String, cast, delete, or_
from sqlmodel import Session, col, select

from matching.records import DemandProfile, ExpertProfile
from matching.scoring import Suggestion
from service import audit
from service.auth import Principal
from service.common import apply_patch, dedupe, like_pattern
from service.demands import service as demands_service
from service.demands.models import Demand, DemandStatus
from service.engagements import service as engagements_service
from service.engagements.models import LIVE_STATUSES, Engagement, EngagementMode, EngagementStatus
from service.enterprises.models import Enterprise
from service.errors import Conflict, Forbidden, InvalidInput, NotFound
from service.experts.models import Expert
from service.pagination import fetch_page
from service.suggestions.live import LiveMatcher
from service.suggestions.models import DemandSummary, Evidence, Reason
from service.suggestions.profiles import load_experts, load_open_demands
from service.teams.models import (
    ADMIN_ONLY_FIELDS,
    MemberMatch,
    Team,
    TeamCreate,
    TeamDemandSuggestion,
    TeamMember,
    TeamMemberPublic,
    TeamPublic,
    TeamSuggestion,
    TeamSummary,
    TeamUpdate,
)

TEAM = "team"


# --- reading ---------------------------------------------------------------------------------------------------


def get(*, db_session: Session, team_id: int) -> Team:
    """The team, or 404."""
    team = db_session.get(Team, team_id)
    if team is None:
        raise NotFound(f"team {team_id} does not exist")
    return team


def member_ids(db_session: Session, team_id: int) -> list[int]:
    """The team's members (its lead among them) in the order they were listed."""
    return list(
        db_session.exec(
            select(TeamMember.expert_id)
            .where(TeamMember.team_id == team_id)
            .order_by(col(TeamMember.position), col(TeamMember.expert_id))
        ).all()
    )


def to_public(*, db_session: Session, team: Team) -> TeamPublic:
    """The team with its members' public summaries and the lead's capacity and load (no personal data)."""
    ids = member_ids(db_session, team.id)  # type: ignore[arg-type]
    experts = {e.id: e for e in db_session.exec(select(Expert).where(col(Expert.id).in_(ids))).all()}
    members = [
        TeamMemberPublic(
            expert_id=e.id,  # type: ignore[arg-type]
            name=e.name,
            institution=e.institution,
            institution_type=e.institution_type,  # type: ignore[arg-type]
            title=e.title,
            region=e.region,
            origin=e.origin,  # type: ignore[arg-type]
            active=e.active,
            is_lead=e.id == team.lead_expert_id,
        )
        for e in (experts[i] for i in ids if i in experts)
    ]
    lead = experts.get(team.lead_expert_id)
    return TeamPublic(
        id=team.id,  # type: ignore[arg-type]
        external_id=team.external_id,
        created_at=team.created_at,
        updated_at=team.updated_at,
        version=team.version,
        name=team.name,
        lead_expert_id=team.lead_expert_id,
        member_ids=ids,
        members=members,
        fields=list(team.fields or []),
        keywords=list(team.keywords or []),
        bio=team.bio,
        capacity=lead.capacity if lead is not None else 0,
        load=engagements_service.expert_load(db_session=db_session, expert_id=team.lead_expert_id),
        active=bool(members) and all(m.active for m in members),
    )


def list_teams(
    *,
    db_session: Session,
    limit: int,
    offset: int,
    expert_id: int | None = None,
    lead_expert_id: int | None = None,
    q: str | None = None,
    external_id: str | None = None,
) -> tuple[list[Team], int]:
    """A page of teams in id order, filtered (a member, the lead, free text), with the total."""
    query = select(Team)
    if expert_id is not None:
        query = query.where(col(Team.id).in_(select(TeamMember.team_id).where(TeamMember.expert_id == expert_id)))
    if lead_expert_id is not None:
        query = query.where(Team.lead_expert_id == lead_expert_id)
    if external_id:
        query = query.where(Team.external_id == external_id)
    if q:
        pattern = like_pattern(q)
        query = query.where(
            or_(
                col(Team.name).ilike(pattern, escape="\\"),
                col(Team.bio).ilike(pattern, escape="\\"),
                cast(Team.fields, String).ilike(pattern, escape="\\"),
                cast(Team.keywords, String).ilike(pattern, escape="\\"),
            )
        )
    return fetch_page(db_session, query, order_by=col(Team.id), limit=limit, offset=offset)


# --- writing ---------------------------------------------------------------------------------------------------


def _check_membership(*, db_session: Session, lead_expert_id: int, ids: list[int]) -> None:
    """The lead is one of the members, and every member exists (422 naming the field)."""
    if lead_expert_id not in ids:
        raise InvalidInput.field(
            "body.lead_expert_id",
            f"expert {lead_expert_id} is not one of member_ids; the lead is a member of their team",
            code="team-lead-not-member",
        )
    found = set(db_session.exec(select(Expert.id).where(col(Expert.id).in_(ids))).all())
    missing = [i for i in ids if i not in found]
    if missing:
        raise InvalidInput.field("body.member_ids", f"no expert with id {', '.join(map(str, missing))}")


def _write_members(db_session: Session, team: Team, ids: list[int]) -> None:
    db_session.exec(delete(TeamMember).where(col(TeamMember.team_id) == team.id))  # type: ignore[call-overload]
    for position, expert_id in enumerate(ids):
        db_session.add(TeamMember(team_id=team.id, expert_id=expert_id, position=position))  # type: ignore[arg-type]


def create(*, db_session: Session, team_in: TeamCreate, principal: Principal) -> Team:
    """Form a team (administrators): a lead among at least two existing specialists."""
    _check_membership(db_session=db_session, lead_expert_id=team_in.lead_expert_id, ids=team_in.member_ids)
    team = Team.model_validate(team_in.model_dump(mode="json", exclude={"member_ids"}))
    db_session.add(team)
    db_session.flush()
    _write_members(db_session, team, team_in.member_ids)
    audit.record(
        db_session=db_session,
        entity=TEAM,
        entity_id=team.id,  # type: ignore[arg-type]
        action="created",
        actor=principal,
        detail={"lead_expert_id": team.lead_expert_id, "member_ids": team_in.member_ids},
    )
    db_session.commit()
    db_session.refresh(team)
    return team


def _live_engagements(db_session: Session, team_id: int) -> list[Engagement]:
    return list(
        db_session.exec(
            select(Engagement)
            .where(Engagement.team_id == team_id, col(Engagement.status).in_(LIVE_STATUSES))
            .order_by(col(Engagement.id))
        ).all()
    )


def _check_joiners(db_session: Session, *, team: Team, joiners: list[int], live: list[Engagement]) -> None:
    """New members of a team with live engagements must pass every member's rule on each engagement's demand."""
    if not joiners or not live:
        return
    experts, demands = engagements_service.lock_parties(
        db_session=db_session, expert_ids=joiners, demand_ids=[e.demand_id for e in live]
    )
    for engagement in live:
        engagements_service.check_team_members(
            db_session,
            team=team,
            members=[experts[i] for i in joiners if i in experts],
            demand=demands[engagement.demand_id],
        )


def update(*, db_session: Session, team: Team, team_in: TeamUpdate, principal: Principal) -> Team:
    """Change a team: administrators anything; its lead the team's own name and profile text, not who is in it.

    While the team has live engagements its lead cannot change (the engagements use the lead's capacity), and a
    new member must be active, free of conflicts with those engagements' enterprises and not engaged on their
    demands already (409 naming the rule).
    """
    changes = team_in.model_dump(mode="json", exclude_unset=True)
    if not principal.is_admin:
        if not principal.is_expert(team.lead_expert_id):
            raise Forbidden("only administrators or the team's lead may change this team")
        locked = sorted(ADMIN_ONLY_FIELDS & changes.keys())
        if locked:
            raise Forbidden(
                f"only administrators may change {', '.join(locked)}",
                errors=[
                    {"field": f"body.{name}", "message": "set by administrators", "type": "forbidden"}
                    for name in locked
                ],
            )
    locked_team = engagements_service.lock_team(db_session, team.id)  # type: ignore[arg-type]
    if locked_team is None:
        raise NotFound(f"team {team.id} does not exist")
    team = locked_team
    before = member_ids(db_session, team.id)  # type: ignore[arg-type]
    lead = changes.get("lead_expert_id", team.lead_expert_id)
    ids = changes.get("member_ids", before)
    if "lead_expert_id" in changes or "member_ids" in changes:
        _check_membership(db_session=db_session, lead_expert_id=lead, ids=ids)
    live = _live_engagements(db_session, team.id)  # type: ignore[arg-type]
    if lead != team.lead_expert_id and live:
        raise Conflict(
            f"team {team.id} has live engagement(s) ({', '.join(str(e.id) for e in live)}) on its lead's capacity; "
            "end them before naming another lead",
            code="team-has-live-engagements",
            errors=[{"field": "body.lead_expert_id", "message": "the team has live engagements", "type": "conflict"}],
            team_id=team.id,
            engagement_ids=[e.id for e in live],
        )
    joiners = [i for i in ids if i not in before]
    _check_joiners(db_session, team=team, joiners=joiners, live=live)
    apply_patch(team, {k: v for k, v in changes.items() if k != "member_ids"})
    db_session.add(team)
    if "member_ids" in changes and ids != before:
        _write_members(db_session, team, ids)
        team.version = Team.version + 1  # type: ignore[assignment,operator]
        db_session.add(team)
    audit.record(
        db_session=db_session,
        entity=TEAM,
        entity_id=team.id,  # type: ignore[arg-type]
        action="updated",
        actor=principal,
        detail={"changed": sorted(changes), "member_ids": ids, "lead_expert_id": lead},
    )
    db_session.commit()
    db_session.refresh(team)
    return team


def delete_team(*, db_session: Session, team: Team, principal: Principal) -> None:
    """Dissolve a team (administrators), refused while it has live engagements; past ones keep its id."""
    locked = engagements_service.lock_team(db_session, team.id)  # type: ignore[arg-type]
    if locked is None:
        raise NotFound(f"team {team.id} does not exist")
    live = _live_engagements(db_session, team.id)  # type: ignore[arg-type]
    if live:
        raise Conflict(
            f"team {team.id} has {len(live)} live engagement(s); decline, complete or terminate them first",
            code="team-has-live-engagements",
            team_id=team.id,
            engagement_ids=[e.id for e in live],
        )
    audit.record(
        db_session=db_session,
        entity=TEAM,
        entity_id=team.id,  # type: ignore[arg-type]
        action="deleted",
        actor=principal,
        detail={"lead_expert_id": locked.lead_expert_id},
    )
    db_session.delete(locked)
    db_session.commit()


# --- matching --------------------------------------------------------------------------------------------------


def _join(parts: Iterable[str]) -> str:
    return "\n".join(p for p in parts if p)


def team_profile(team: Team, members: list[ExpertProfile]) -> ExpertProfile:
    """The team as the matcher sees one specialist: its text and every member's; the lead's capacity, load, origin,
    region and travel; every member's conflicts and live demands; active only while every member is.

    `members` is in the team's order and holds the lead. The profile carries the lead's id: the matcher's hard
    rules and load are the lead's, and a team's engagement is the lead's engagement."""
    lead = next(m for m in members if m.id == team.lead_expert_id)
    return ExpertProfile(
        id=lead.id,
        name=team.name,
        title=lead.title,
        institution=lead.institution,
        institution_type=lead.institution_type,
        origin=lead.origin,
        region=lead.region,
        fields=tuple(dedupe([*(team.fields or []), *(f for m in members for f in m.fields)])),
        keywords=tuple(dedupe([*(team.keywords or []), *(k for m in members for k in m.keywords)])),
        bio=_join([team.bio, *(m.bio for m in members)]),
        achievements=_join(m.achievements for m in members),
        capacity=lead.capacity,
        load=lead.load,
        travels=lead.travels,
        active=all(m.active for m in members),
        conflicts=frozenset().union(*(m.conflicts for m in members)),
        mean_rating=lead.mean_rating,
        engaged=frozenset().union(*(m.engaged for m in members)),
        last_grade=lead.last_grade,
    )


def _teams_with_members(
    db_session: Session, team_ids: list[int] | None = None
) -> list[tuple[Team, list[ExpertProfile]]]:
    """Teams (all, or these) with their members' fresh profiles, in team id order; a team whose lead is gone is
    left out (it cannot happen while the lead's foreign key holds)."""
    query = select(Team).order_by(col(Team.id))
    if team_ids is not None:
        query = query.where(col(Team.id).in_(team_ids))
    teams = list(db_session.exec(query).all())
    if not teams:
        return []
    rows = db_session.exec(
        select(TeamMember.team_id, TeamMember.expert_id)
        .where(col(TeamMember.team_id).in_([t.id for t in teams]))
        .order_by(col(TeamMember.team_id), col(TeamMember.position), col(TeamMember.expert_id))
    ).all()
    by_team: dict[int, list[int]] = {}
    for team_id, expert_id in rows:
        by_team.setdefault(team_id, []).append(expert_id)
    profiles = load_experts(db_session, sorted({e for _, e in rows}))
    out = []
    for team in teams:
        members = [profiles[i] for i in by_team.get(team.id, []) if i in profiles]  # type: ignore[arg-type]
        if any(m.id == team.lead_expert_id for m in members):
            out.append((team, members))
    return out


def _evidence(s: Suggestion) -> Evidence | None:
    e = s.evidence
    return None if e is None else Evidence(field=e.field, index=e.index, text=e.text, score=e.score)


def _reasons(reasons: list[Any]) -> list[Reason]:
    return [Reason(code=r.code, zh=r.zh, en=r.en) for r in reasons]


def _fields(s: Suggestion) -> dict[str, Any]:
    exclusions = _reasons(s.exclusions)
    return {
        "score": s.score,
        "components": s.components,
        "matched_terms": s.matched_terms,
        "missing_keywords": s.missing_keywords,
        "evidence": _evidence(s),
        "reasons": [*exclusions, *_reasons(s.reasons)],
        "excluded": s.excluded,
        "exclusions": exclusions,
    }


def _member_matches(
    matcher: Any, demand: int | DemandProfile, members: list[ExpertProfile]
) -> tuple[list[MemberMatch], int | None]:
    """Each member's own text relevance to the demand (best first, ties by id) and the best member's id (None when
    no member's own profile matches: the team's own text did)."""
    matches = []
    for member in members:
        s = matcher.score_pair(demand, member.id if member is matcher.experts_.get(member.id) else member)
        matches.append(
            MemberMatch(
                expert_id=member.id,
                name=member.name,
                is_lead=False,
                text=s.components.get("text", 0.0),
                matched_terms=s.matched_terms,
                evidence=_evidence(s) if s.components.get("text", 0.0) > 0 else None,
            )
        )
    matches.sort(key=lambda m: (-m.text, m.expert_id))
    best = matches[0].expert_id if matches and matches[0].text > 0 else None
    return matches, best


def _summary(team: Team, members: list[ExpertProfile]) -> TeamSummary:
    return TeamSummary(
        id=team.id,  # type: ignore[arg-type]
        name=team.name,
        lead_expert_id=team.lead_expert_id,
        member_ids=[m.id for m in members],
    )


def _ranked(scored: list[tuple[Any, Suggestion]], limit: int, offset: int, include_excluded: bool) -> tuple[list, int]:
    """Eligible pairs by score (ties by id), then excluded ones when asked; one page and the listing's total."""
    eligible = sorted((x for x in scored if not x[1].excluded), key=lambda x: (-x[1].score, x[0]))
    excluded = (
        sorted((x for x in scored if x[1].excluded), key=lambda x: (-x[1].score, x[0])) if include_excluded else []
    )
    listing = [*eligible, *excluded]
    return listing[offset : offset + limit], len(listing)


def team_suggestions(
    *,
    db_session: Session,
    live: LiveMatcher,
    demand_id: int,
    principal: Principal,
    limit: int,
    offset: int,
    include_excluded: bool,
    wait: float = 0.0,
) -> tuple[list[TeamSuggestion], int]:
    """Teams ranked for an open demand as one specialist each, with which member's profile matched (administrators
    and the owning enterprise). A team with no text relevance at all is not a suggestion."""
    demand = demands_service.get(db_session=db_session, demand_id=demand_id)
    if not (principal.is_admin or principal.is_enterprise(demand.enterprise_id)):
        raise Forbidden("only administrators or the enterprise owning the demand may see its suggestions")
    if demand.status != DemandStatus.open:
        raise Conflict(
            f"demand {demand_id} is '{demand.status}'; only open demands have suggestions",
            code="demand-not-open",
            demand_id=demand_id,
            demand_status=demand.status,
        )
    record = load_open_demands(db_session, [demand_id]).get(demand_id)
    teams = _teams_with_members(db_session)
    db_session.rollback()
    live.catch_up(db_session, wait=wait)
    if record is None:
        raise Conflict(f"demand {demand_id} is no longer open", code="demand-not-open", demand_id=demand_id)
    with live.locked():
        matcher = live.matcher
        if matcher is None or not teams:
            return [], 0
        query: int | DemandProfile = demand_id if demand_id in matcher.demands_ else record
        scored = []
        for team, members in teams:
            s = matcher.score_pair(query, team_profile(team, members))
            if s.components.get("text", 0.0) > 0:
                scored.append((team.id, s, team, members))
        page, total = _ranked([(x[0], x[1]) for x in scored], limit, offset, include_excluded)
        found = {x[0]: x for x in scored}
        items = []
        for team_id, s in page:
            _, _, team, members = found[team_id]
            matches, best = _member_matches(matcher, query, members)
            for m in matches:
                m.is_lead = m.expert_id == team.lead_expert_id
            items.append(
                TeamSuggestion(
                    team_id=team_id,
                    expert_id=team.lead_expert_id,
                    matched_member_id=best,
                    members=matches,
                    team=_summary(team, members),
                    **_fields(s),
                )
            )
    return items, total


def demand_suggestions(
    *,
    db_session: Session,
    live: LiveMatcher,
    team: Team,
    principal: Principal,
    limit: int,
    offset: int,
    include_excluded: bool,
    wait: float = 0.0,
) -> tuple[list[TeamDemandSuggestion], int]:
    """Open demands ranked for a team (administrators and the team's members), with which member's profile
    matched each."""
    found = _teams_with_members(db_session, [team.id])  # type: ignore[list-item]
    if not found:
        raise NotFound(f"team {team.id} does not exist")
    team, members = found[0]
    if not (principal.is_admin or any(principal.is_expert(m.id) for m in members)):
        raise Forbidden("only administrators or the team's members may see its suggestions")
    db_session.rollback()
    live.catch_up(db_session, wait=wait)
    with live.locked():
        matcher = live.matcher
        if matcher is None:
            return [], 0
        profile = team_profile(team, members)
        ranked, total = matcher.suggest_demands(profile, limit=limit, offset=offset, include_excluded=include_excluded)
        pages = []
        for s in ranked:
            matches, best = _member_matches(matcher, s.demand_id, members)
            for m in matches:
                m.is_lead = m.expert_id == team.lead_expert_id
            pages.append((s, matches, best, matcher.demands_[s.demand_id]))
    names = _enterprise_names(db_session, {d.enterprise_id for *_, d in pages})
    items = [
        TeamDemandSuggestion(
            demand_id=s.demand_id,
            team_id=team.id,  # type: ignore[arg-type]
            matched_member_id=best,
            members=matches,
            demand=DemandSummary(
                id=d.id,
                title=d.title,
                enterprise_id=d.enterprise_id,
                enterprise_name=names.get(d.enterprise_id, ""),
                region=d.region,
                industry=d.industry,
                on_site=d.on_site,
                headcount=d.headcount,
            ),
            **_fields(s),
        )
        for s, matches, best, d in pages
    ]
    return items, total


def _enterprise_names(db_session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = db_session.exec(select(Enterprise.id, Enterprise.name).where(col(Enterprise.id).in_(sorted(ids)))).all()
    return {int(i): name for i, name in rows}


def _team_score(live: LiveMatcher | None, db_session: Session, team_id: int, demand_id: int) -> float | None:
    """The matcher's score of the team for the demand, recorded with its engagement (None without a matcher)."""
    if live is None:
        return None
    found = _teams_with_members(db_session, [team_id])
    record = load_open_demands(db_session, [demand_id]).get(demand_id)
    if not found or record is None:
        return None
    live.sync(db_session)
    team, members = found[0]
    with live.locked():
        matcher = live.matcher
        if matcher is None:
            return None
        query: int | DemandProfile = demand_id if demand_id in matcher.demands_ else record
        return matcher.score_pair(query, team_profile(team, members), explain=False).score


def select_team(
    *, db_session: Session, demand: Demand, team_id: int, principal: Principal, live: LiveMatcher | None = None
) -> Engagement:
    """Enterprise selection of a team (the owning enterprise or an administrator): one `offered` engagement with the
    team, its lead as the engagement's specialist."""
    if not (principal.is_admin or principal.is_enterprise(demand.enterprise_id)):
        raise Forbidden("only administrators or the enterprise owning the demand may select specialists for it")
    team = db_session.get(Team, team_id)
    if team is None:
        raise InvalidInput.field("body.team_id", f"team {team_id} does not exist")
    score = _team_score(live, db_session, team_id, demand.id)  # type: ignore[arg-type]
    return engagements_service.open_engagement(
        db_session=db_session,
        demand_id=demand.id,  # type: ignore[arg-type]
        expert_id=team.lead_expert_id,  # read again under the team's lock
        team_id=team_id,
        mode=EngagementMode.enterprise_selection,
        status=EngagementStatus.offered,
        score=score,
        actor=principal,
    )
