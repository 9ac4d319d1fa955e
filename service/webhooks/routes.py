"""Thin HTTP layer for webhook subscriptions and their delivery log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from service.auth import CurrentPrincipal
from service.common import IdPath
from service.db import SessionDep
from service.pagination import Page, PageDep
from service.webhooks import service
from service.webhooks.models import DeliveryPublic, DeliveryStatus, WebhookCreate, WebhookPublic

router = APIRouter()


@router.post("", status_code=201, response_model=WebhookPublic)
def create_webhook(db_session: SessionDep, principal: CurrentPrincipal, body: WebhookCreate) -> WebhookPublic:
    """Subscribe: administrators to any event, a party's key to events about itself. The secret is not shown again.

    Each delivery POSTs `{"id", "type", "created_at", "data"}` with `X-Expertmatch-Event`, `X-Expertmatch-Delivery`
    and `X-Expertmatch-Signature: sha256=<hex HMAC-SHA256 of the body with the secret>`; a 2xx answer ends it.
    """
    webhook = service.create(db_session=db_session, webhook_in=body, principal=principal)
    return WebhookPublic.model_validate(webhook)


@router.get("", response_model=Page[WebhookPublic])
def list_webhooks(db_session: SessionDep, principal: CurrentPrincipal, page: PageDep) -> Page[WebhookPublic]:
    rows, total = service.list_webhooks(
        db_session=db_session, principal=principal, limit=page.limit, offset=page.offset
    )
    return Page(
        items=[WebhookPublic.model_validate(w) for w in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.get("/{webhook_id}", response_model=WebhookPublic)
def read_webhook(db_session: SessionDep, principal: CurrentPrincipal, webhook_id: IdPath) -> WebhookPublic:
    return WebhookPublic.model_validate(
        service.get_visible(db_session=db_session, webhook_id=webhook_id, principal=principal)
    )


@router.delete("/{webhook_id}", status_code=204)
def delete_webhook(db_session: SessionDep, principal: CurrentPrincipal, webhook_id: IdPath) -> Response:
    webhook = service.get_visible(db_session=db_session, webhook_id=webhook_id, principal=principal)
    service.delete(db_session=db_session, webhook=webhook)
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries", response_model=Page[DeliveryPublic])
def list_deliveries(
    db_session: SessionDep,
    principal: CurrentPrincipal,
    webhook_id: IdPath,
    page: PageDep,
    status: Annotated[DeliveryStatus | None, Query()] = None,
) -> Page[DeliveryPublic]:
    """The delivery log, newest first: attempts, last answer, when it was delivered or when it is tried next."""
    webhook = service.get_visible(db_session=db_session, webhook_id=webhook_id, principal=principal)
    rows, total = service.list_deliveries(
        db_session=db_session,
        webhook=webhook,
        limit=page.limit,
        offset=page.offset,
        status=status.value if status else None,
    )
    items = [DeliveryPublic.model_validate(d) for d in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.post("/{webhook_id}/deliveries/{delivery_id}/retry", status_code=202, response_model=DeliveryPublic)
def retry_delivery(
    request: Request, db_session: SessionDep, principal: CurrentPrincipal, webhook_id: IdPath, delivery_id: IdPath
) -> DeliveryPublic:
    """Send a delivery again as soon as the worker's next pass (any status), with a fresh retry window."""
    webhook = service.get_visible(db_session=db_session, webhook_id=webhook_id, principal=principal)
    delivery = service.retry(
        db_session=db_session,
        webhook=webhook,
        delivery_id=delivery_id,
        retry_hours=request.app.state.settings.webhook_retry_hours,
    )
    return DeliveryPublic.model_validate(delivery)
