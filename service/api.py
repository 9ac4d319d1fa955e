"""Every router with its prefix and tag, in one place."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.routing import Match
from starlette.types import Scope

from service import audit, health, observability
from service.assessments.routes import router as assessments_router
from service.assignments.routes import router as assignments_router
from service.body import guard_json_body
from service.calls.routes import router as calls_router
from service.demands.routes import router as demands_router
from service.engagements.routes import demand_router as selections_router
from service.engagements.routes import expert_router as expert_interests_router
from service.engagements.routes import router as engagements_router
from service.enterprises.routes import router as enterprises_router
from service.errors import problem_responses
from service.experts.routes import router as experts_router
from service.issues.routes import engagement_router as engagement_issues_router
from service.issues.routes import router as issues_router
from service.keys.routes import router as keys_router
from service.rounds.routes import router as rounds_router
from service.settings.routes import router as settings_router
from service.stats.routes import router as stats_router
from service.suggestions.routes import demand_router as demand_suggestions_router
from service.suggestions.routes import expert_router as expert_suggestions_router
from service.teams.routes import demand_router as team_suggestions_router
from service.teams.routes import router as teams_router
from service.transfer.routes import router as imports_router
from service.units.routes import router as units_router
from service.vouchers.routes import router as vouchers_router
from service.webhooks.routes import router as webhooks_router

# Every route's JSON body passes one guard (clean text, strict types): see service.body.
api_router = APIRouter(responses=problem_responses, dependencies=[Depends(guard_json_body)])


class _PrefixGroup(APIRouter):
    """The routers mounted under one path prefix, declining any other path at once.

    FastAPI (0.165) matches a request by asking every included router, and each asks every one of its routes, twice
    a request (to match, then to handle): about 1 ms of a worker's time for the routes listed last, as much as a
    bare endpoint's whole request. A group skips all of its routes when the path lacks its prefix. Routes of two
    prefixes never match the same path, so the groups can come in any order; inside a group the order is the
    routers' own, but for the suggestion routes, which go first: no other route of theirs matches their paths
    (`tests/hardening/test_routing.py` checks that every route answers its own paths).
    """

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.mount_prefix = prefix

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """No match, without trying a route, for a path without the prefix (every path one of its routes matches
        holds it, after any root path)."""
        if self.mount_prefix not in scope["path"]:
            return Match.NONE, {}
        return super().matches(scope)


_ROUTERS: list[tuple[str, APIRouter, str]] = [
    # the busiest first: probes, then suggestions (see _PrefixGroup)
    ("", health.router, "health"),
    ("", observability.router, "health"),
    ("/demands", demand_suggestions_router, "suggestions"),
    ("/demands", demands_router, "demands"),
    ("/demands", calls_router, "open calls"),
    ("/demands", selections_router, "engagements"),
    ("/demands", team_suggestions_router, "teams"),
    ("/experts", expert_suggestions_router, "suggestions"),
    ("/experts", experts_router, "experts"),
    ("/experts", expert_interests_router, "engagements"),
    ("/enterprises", enterprises_router, "enterprises"),
    ("/keys", keys_router, "keys"),
    ("/units", units_router, "units"),
    ("/webhooks", webhooks_router, "webhooks"),
    ("/engagements", engagements_router, "engagements"),
    ("/engagements", engagement_issues_router, "issues"),
    ("/teams", teams_router, "teams"),
    ("/issues", issues_router, "issues"),
    ("/assessments", assessments_router, "assessments"),
    ("/vouchers", vouchers_router, "vouchers"),
    ("/rounds", rounds_router, "rounds"),
    ("/assignments", assignments_router, "assignments"),
    ("/stats", stats_router, "stats"),
    ("/settings", settings_router, "stats"),
    ("/imports", imports_router, "imports"),
    ("/audit", audit.router, "audit"),
]

OPENAPI_TAGS = [
    {"name": name}
    for name in (
        "enterprises",
        "demands",
        "experts",
        "keys",
        "units",
        "open calls",
        "webhooks",
        "engagements",
        "suggestions",
        "teams",
        "issues",
        "assessments",
        "vouchers",
        "rounds",
        "assignments",
        "stats",
        "imports",
        "audit",
        "health",
    )
]
"""The order the documentation lists the tags in (the routes' order puts the busiest first)."""

_groups: dict[str, APIRouter] = {}
for _prefix, _router, _tag in _ROUTERS:
    if _prefix not in _groups:
        _groups[_prefix] = _PrefixGroup(_prefix) if _prefix else APIRouter()
    _groups[_prefix].include_router(_router, prefix=_prefix, tags=[_tag])
for _group in _groups.values():
    api_router.include_router(_group)
