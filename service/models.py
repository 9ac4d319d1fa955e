"""Imports every table model so `SQLModel.metadata` is complete (for Alembic and the schema test)."""

from sqlmodel import SQLModel

from service.assessments.models import Assessment, AssessmentScore
from service.assignments.models import Assignment
from service.audit import AuditEvent
from service.calls.models import Bid, Call
from service.common import RecordChange
from service.demands.models import Demand, DemandReview
from service.engagements.models import Engagement, EngagementLog, Interest
from service.enterprises.models import Enterprise
from service.events.models import Event
from service.experts.models import Expert
from service.issues.models import Issue, IssueResponse
from service.keys.models import ApiKey
from service.rounds.models import Round, RoundMember
from service.teams.models import Team, TeamMember
from service.units.models import Unit
from service.vouchers.models import Redemption, Voucher
from service.webhooks.models import Delivery, Webhook

metadata = SQLModel.metadata

__all__ = [
    "Assessment",
    "AssessmentScore",
    "ApiKey",
    "Assignment",
    "AuditEvent",
    "Bid",
    "Call",
    "Delivery",
    "Demand",
    "DemandReview",
    "Engagement",
    "EngagementLog",
    "Enterprise",
    "Event",
    "Expert",
    "Interest",
    "Issue",
    "IssueResponse",
    "RecordChange",
    "Redemption",
    "Round",
    "RoundMember",
    "Team",
    "TeamMember",
    "Voucher",
    "Webhook",
    "Unit",
    "metadata",
]
