"""Every router with its prefix and tag, in one place."""

from __future__ import annotations

from fastapi import APIRouter, Depends

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
api_router.include_router(enterprises_router, prefix="/enterprises", tags=["enterprises"])
api_router.include_router(demands_router, prefix="/demands", tags=["demands"])
api_router.include_router(experts_router, prefix="/experts", tags=["experts"])
api_router.include_router(keys_router, prefix="/keys", tags=["keys"])
api_router.include_router(units_router, prefix="/units", tags=["units"])
api_router.include_router(calls_router, prefix="/demands", tags=["open calls"])
api_router.include_router(webhooks_router, prefix="/webhooks", tags=["webhooks"])
api_router.include_router(engagements_router, prefix="/engagements", tags=["engagements"])
api_router.include_router(selections_router, prefix="/demands", tags=["engagements"])
api_router.include_router(expert_interests_router, prefix="/experts", tags=["engagements"])
api_router.include_router(demand_suggestions_router, prefix="/demands", tags=["suggestions"])
api_router.include_router(expert_suggestions_router, prefix="/experts", tags=["suggestions"])
api_router.include_router(teams_router, prefix="/teams", tags=["teams"])
api_router.include_router(team_suggestions_router, prefix="/demands", tags=["teams"])
api_router.include_router(engagement_issues_router, prefix="/engagements", tags=["issues"])
api_router.include_router(issues_router, prefix="/issues", tags=["issues"])
api_router.include_router(assessments_router, prefix="/assessments", tags=["assessments"])
api_router.include_router(vouchers_router, prefix="/vouchers", tags=["vouchers"])
api_router.include_router(rounds_router, prefix="/rounds", tags=["rounds"])
api_router.include_router(assignments_router, prefix="/assignments", tags=["assignments"])
api_router.include_router(stats_router, prefix="/stats", tags=["stats"])
api_router.include_router(settings_router, prefix="/settings", tags=["stats"])
api_router.include_router(imports_router, prefix="/imports", tags=["imports"])
api_router.include_router(audit.router, prefix="/audit", tags=["audit"])
api_router.include_router(health.router, tags=["health"])
api_router.include_router(observability.router, tags=["health"])
