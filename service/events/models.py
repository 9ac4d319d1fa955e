"""The outbox: one row per domain event, written in the transaction of the change it describes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Integer, String
from sqlmodel import Field, SQLModel

from service.common import utcnow


class EventType(StrEnum):
    """Every event a subscriber may ask for (SPEC §7.5)."""

    demand_published = "demand.published"
    demand_returned = "demand.returned"
    suggestion_new = "suggestion.new"
    interest_created = "interest.created"
    engagement_offered = "engagement.offered"
    engagement_approving = "engagement.approving"
    engagement_active = "engagement.active"
    engagement_declined = "engagement.declined"
    engagement_completed = "engagement.completed"
    engagement_terminated = "engagement.terminated"
    bid_created = "bid.created"
    call_awarded = "call.awarded"
    round_closed = "round.closed"
    deadline_approaching = "deadline.approaching"


class Event(SQLModel, table=True):
    """An outbox row: what happened, to whom it matters (`parties`), and whether the worker has fanned it out."""

    __tablename__ = "outbox_event"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    )
    type: str = Field(sa_column=Column(String(40), nullable=False, index=True))
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True), nullable=False)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # {"enterprise": [ids], "expert": [ids], "unit": [ids]}: the parties whose subscriptions receive it.
    parties: dict[str, list[int]] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Scheduled events (deadline.approaching) are produced at most once per subject, whichever worker scans.
    dedupe_key: str | None = Field(default=None, sa_column=Column(String(100), unique=True))
    # Set once the worker has turned the event into deliveries; NULL rows are the worker's queue.
    dispatched_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), index=True))
