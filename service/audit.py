"""The audit trail: one append-only row per state change, written in the changing transaction, read by admins.

Any workflow records its changes with `record(...)` before it commits, so an audit row exists exactly when the
change it describes does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Integer, String
from sqlmodel import Field, Session, SQLModel, col, select

from service.auth import AdminPrincipal, Principal
from service.common import MAX_ID, QueryText, UtcDateTime, utcnow
from service.db import SessionDep
from service.pagination import Page, PageDep, fetch_page


class AuditEvent(SQLModel, table=True):
    """Who moved which record from which state to which, and when."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_entity", "entity", "entity_id"), {"sqlite_autoincrement": True})

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    )
    entity: str = Field(sa_column=Column(String(30), nullable=False))
    entity_id: int = Field(nullable=False)
    action: str = Field(sa_column=Column(String(30), nullable=False, index=True))
    from_status: str | None = Field(default=None, sa_column=Column(String(20)))
    to_status: str | None = Field(default=None, sa_column=Column(String(20)))
    actor_role: str = Field(sa_column=Column(String(20), nullable=False))
    # No foreign keys: the trail outlives keys, parties and the records it describes.
    actor_key_id: int | None = Field(default=None)
    actor_party_id: int | None = Field(default=None)
    at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True), nullable=False, index=True)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class AuditEventPublic(SQLModel):
    id: int
    entity: str
    entity_id: int
    action: str
    from_status: str | None
    to_status: str | None
    actor_role: str
    actor_key_id: int | None
    actor_party_id: int | None
    at: UtcDateTime
    detail: dict[str, Any]


def record(
    *,
    db_session: Session,
    entity: str,
    entity_id: int,
    action: str,
    actor: Principal,
    from_status: str | None = None,
    to_status: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit row to the caller's transaction (the caller commits)."""
    event = AuditEvent(
        entity=entity,
        entity_id=entity_id,
        action=action,
        from_status=from_status,
        to_status=to_status,
        actor_role=str(actor.role),
        actor_key_id=actor.key_id,
        actor_party_id=next((i for i in (actor.enterprise_id, actor.expert_id, actor.unit_id) if i is not None), None),
        detail=detail or {},
    )
    db_session.add(event)
    return event


def list_events(
    *,
    db_session: Session,
    limit: int,
    offset: int,
    entity: str | None = None,
    entity_id: int | None = None,
    action: str | None = None,
) -> tuple[list[AuditEvent], int]:
    """A page of audit rows, oldest first, filtered, with the total."""
    query = select(AuditEvent)
    if entity:
        query = query.where(AuditEvent.entity == entity)
    if entity_id is not None:
        query = query.where(AuditEvent.entity_id == entity_id)
    if action:
        query = query.where(AuditEvent.action == action)
    return fetch_page(db_session, query, order_by=col(AuditEvent.id), limit=limit, offset=offset)


router = APIRouter()


@router.get("", response_model=Page[AuditEventPublic])
def list_audit_events(
    db_session: SessionDep,
    principal: AdminPrincipal,
    page: PageDep,
    entity: QueryText = None,
    entity_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    action: QueryText = None,
) -> Page[AuditEventPublic]:
    rows, total = list_events(
        db_session=db_session,
        limit=page.limit,
        offset=page.offset,
        entity=entity,
        entity_id=entity_id,
        action=action,
    )
    items = [AuditEventPublic.model_validate(row) for row in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)
