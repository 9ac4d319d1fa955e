"""Subscriptions: who may subscribe to what, the delivery log, manual retry."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, col, select

from service.auth import Principal
from service.common import _as_utc, utcnow
from service.errors import Conflict, Forbidden, NotFound
from service.keys.models import Role
from service.pagination import fetch_page
from service.webhooks.models import Delivery, DeliveryStatus, Webhook, WebhookCreate


def _owns(principal: Principal, webhook: Webhook) -> bool:
    return principal.is_admin or (
        principal.key_id is not None
        and webhook.owner_role == str(principal.role)
        and (webhook.enterprise_id, webhook.expert_id, webhook.unit_id)
        == (principal.enterprise_id, principal.expert_id, principal.unit_id)
    )


def create(*, db_session: Session, webhook_in: WebhookCreate, principal: Principal) -> Webhook:
    """Administrators receive every event they subscribe to; a party's key only events about that party."""
    webhook = Webhook(
        url=webhook_in.url,
        events=[e.value for e in webhook_in.events],
        secret=webhook_in.secret,
        owner_role=Role.admin.value if principal.is_admin else str(principal.role),
        enterprise_id=None if principal.is_admin else principal.enterprise_id,
        expert_id=None if principal.is_admin else principal.expert_id,
        unit_id=None if principal.is_admin else principal.unit_id,
    )
    db_session.add(webhook)
    db_session.commit()
    db_session.refresh(webhook)
    return webhook


def get_visible(*, db_session: Session, webhook_id: int, principal: Principal) -> Webhook:
    """The subscription if the caller owns it (administrators: any): 404 when missing, else 403."""
    webhook = db_session.get(Webhook, webhook_id)
    if webhook is None:
        raise NotFound(f"webhook {webhook_id} does not exist")
    if not _owns(principal, webhook):
        raise Forbidden(f"webhook {webhook_id} belongs to another party")
    return webhook


def list_webhooks(*, db_session: Session, principal: Principal, limit: int, offset: int) -> tuple[list[Webhook], int]:
    """The caller's subscriptions (administrators: all), in id order."""
    query = select(Webhook)
    if not principal.is_admin:
        query = query.where(
            Webhook.owner_role == str(principal.role),
            Webhook.enterprise_id == principal.enterprise_id
            if principal.enterprise_id
            else col(Webhook.enterprise_id).is_(None),
            Webhook.expert_id == principal.expert_id if principal.expert_id else col(Webhook.expert_id).is_(None),
            Webhook.unit_id == principal.unit_id if principal.unit_id else col(Webhook.unit_id).is_(None),
        )
    return fetch_page(db_session, query, order_by=col(Webhook.id), limit=limit, offset=offset)


def delete(*, db_session: Session, webhook: Webhook) -> None:
    """Unsubscribe; its delivery log goes with it."""
    db_session.delete(webhook)
    db_session.commit()


def list_deliveries(
    *, db_session: Session, webhook: Webhook, limit: int, offset: int, status: str | None = None
) -> tuple[list[Delivery], int]:
    """The subscription's deliveries, newest first."""
    query = select(Delivery).where(Delivery.webhook_id == webhook.id)
    if status:
        query = query.where(Delivery.status == status)
    return fetch_page(db_session, query, order_by=col(Delivery.id).desc(), limit=limit, offset=offset)


def retry(*, db_session: Session, webhook: Webhook, delivery_id: int, retry_hours: float) -> Delivery:
    """Send a delivery again now (any status: a receiver may ask for a lost one again), with a fresh retry window."""
    delivery = db_session.exec(
        select(Delivery).where(Delivery.id == delivery_id).with_for_update().execution_options(populate_existing=True)
    ).first()
    if delivery is None or delivery.webhook_id != webhook.id:
        raise NotFound(f"delivery {delivery_id} is not a delivery of webhook {webhook.id}")
    now = utcnow()
    leased = delivery.lease_until is not None and _as_utc(delivery.lease_until) > now
    if delivery.status == DeliveryStatus.pending and leased:
        raise Conflict(f"delivery {delivery_id} is being sent right now", code="delivery-in-flight")
    delivery.status = DeliveryStatus.pending.value
    delivery.next_attempt_at = now
    delivery.retry_until = now + timedelta(hours=retry_hours)  # the retry window starts again
    delivery.lease_until = None
    db_session.add(delivery)
    db_session.commit()
    db_session.refresh(delivery)
    return delivery
