"""Webhook subscriptions and their delivery log (SPEC §7.5)."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, StringConstraints
from pydantic import Field as PydanticField
from sqlalchemy import JSON, BigInteger, Column, DateTime, ForeignKey, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from service.common import NO_NUL_PATTERN, WHITE_SPACE, RequestModel, UtcDateTime, dedupe, utcnow
from service.events.models import EventType


class DeliveryStatus(StrEnum):
    pending = "pending"
    delivered = "delivered"
    failed = "failed"  # gave up after the retry window (24 h by default); a manual retry sends it again


class Webhook(SQLModel, table=True):
    """A subscription: where to POST which events, signed with `secret`, on behalf of one party (or all)."""

    __table_args__ = ({"sqlite_autoincrement": True},)

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(sa_column=Column(String(2000), nullable=False))
    events: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Kept in clear: it signs every delivery; it is never shown again after creation.
    secret: str = Field(sa_column=Column(String(200), nullable=False))
    owner_role: str = Field(sa_column=Column(String(20), nullable=False))
    enterprise_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("enterprise.id", ondelete="CASCADE"), index=True)
    )
    expert_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("expert.id", ondelete="CASCADE"), index=True)
    )
    unit_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("unit.id", ondelete="CASCADE"), index=True)
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True), nullable=False)


class Delivery(SQLModel, table=True):
    """One event for one subscription: attempted until a 2xx answer or the end of the retry window."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index("uq_webhook_delivery_event", "webhook_id", "event_id", unique=True),
        Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    )
    webhook_id: int = Field(
        sa_column=Column(Integer, ForeignKey("webhook.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    event_id: int = Field(sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), nullable=False))
    event_type: str = Field(sa_column=Column(String(40), nullable=False))
    status: str = Field(default="pending", sa_column=Column(String(20), nullable=False))
    attempts: int = Field(default=0, nullable=False)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True), nullable=False)
    # Retries stop after this instant (creation + EXPERTMATCH_WEBHOOK_RETRY_HOURS; a manual retry starts it again).
    retry_until: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    # A worker that claimed the row owns it until then; after a crash another worker takes it over.
    lease_until: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    last_attempt_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    last_status_code: int | None = Field(default=None)
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    delivered_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True), nullable=False)


# Characters a URL may not hold, spelled out rather than as `\s`: ECMA-262 (the schema's clients), Rust (Pydantic) and
# Python draw white space differently (U+0085 is white space only for the last two, U+FEFF only for the first).
_URL_FORBIDDEN = "\\x00-\\x20\\x7f-\\xa0" + "".join(f"\\u{ord(c):04x}" for c in WHITE_SPACE if ord(c) > 0xA0)
_URL_FORBIDDEN_RE = re.compile(f"[{_URL_FORBIDDEN}]")


def _http_url(url: str) -> str:
    if not (url.startswith("http://") or url.startswith("https://")) or len(url) < 11:
        raise ValueError("must be an http:// or https:// URL")
    if _URL_FORBIDDEN_RE.search(url):
        raise ValueError("must not contain white space or control characters")
    return url


# The pattern states in the OpenAPI document what _http_url checks, so a schema-valid URL is never refused.
URL_PATTERN = f"^https?://[^{_URL_FORBIDDEN}]{{4,}}$"
Url = Annotated[str, StringConstraints(min_length=11, max_length=2000, pattern=URL_PATTERN), AfterValidator(_http_url)]
Secret = Annotated[str, StringConstraints(min_length=16, max_length=200, pattern=NO_NUL_PATTERN)]
Events = Annotated[list[EventType], PydanticField(min_length=1, max_length=len(EventType)), AfterValidator(dedupe)]


class WebhookCreate(RequestModel):
    """Subscribe a URL to events; a party's key receives only events about that party."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://erp.example.com/expertmatch/hook",
                    "events": ["engagement.approving", "engagement.active", "call.awarded"],
                    "secret": "a-long-random-shared-secret",
                }
            ]
        },
    )

    url: Url
    events: Events
    secret: Secret


class WebhookPublic(SQLModel):
    id: int
    url: str
    events: list[str]
    owner_role: str
    enterprise_id: int | None
    expert_id: int | None
    unit_id: int | None
    created_at: UtcDateTime


class DeliveryPublic(SQLModel):
    id: int
    webhook_id: int
    event_id: int
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: UtcDateTime | None
    last_attempt_at: UtcDateTime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: UtcDateTime | None
    created_at: UtcDateTime
