"""Thin HTTP layer for innovation vouchers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.auth import AdminPrincipal, CurrentPrincipal
from service.common import MAX_ID, IdPath
from service.db import SessionDep
from service.pagination import Page, PageDep
from service.vouchers import service
from service.vouchers.models import (
    HolderType,
    RedemptionCreate,
    RedemptionPublic,
    VoucherCreate,
    VoucherPublic,
    VoucherStatus,
)

router = APIRouter()  # mounted at /vouchers


class RedemptionResult(VoucherPublic):
    """The voucher after the redemption, with the redemption made."""

    redemption: RedemptionPublic


@router.post("", status_code=201, response_model=VoucherPublic)
def issue_voucher(db_session: SessionDep, principal: AdminPrincipal, body: VoucherCreate) -> VoucherPublic:
    """Grant a voucher to an enterprise or a specialist (administrators); its `balance_cny` starts at the amount."""
    return service.to_public(service.issue(db_session=db_session, voucher_in=body, principal=principal))


@router.get("", response_model=Page[VoucherPublic])
def list_vouchers(
    db_session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    holder_type: Annotated[HolderType | None, Query()] = None,
    holder_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    status: Annotated[VoucherStatus | None, Query()] = None,
) -> Page[VoucherPublic]:
    """The caller's vouchers (administrators: all), in id order."""
    rows, total = service.list_vouchers(
        db_session=db_session,
        principal=principal,
        limit=page.limit,
        offset=page.offset,
        holder_type=holder_type,
        holder_id=holder_id,
        status=status,
    )
    return Page(items=[service.to_public(v) for v in rows], total=total, limit=page.limit, offset=page.offset)


@router.get("/{voucher_id}", response_model=VoucherPublic)
def read_voucher(db_session: SessionDep, principal: CurrentPrincipal, voucher_id: IdPath) -> VoucherPublic:
    return service.to_public(service.get_visible(db_session=db_session, voucher_id=voucher_id, principal=principal))


@router.post("/{voucher_id}/redeem", status_code=201, response_model=RedemptionResult)
def redeem_voucher(
    db_session: SessionDep, principal: CurrentPrincipal, voucher_id: IdPath, body: RedemptionCreate
) -> RedemptionResult:
    """Redeem part or all of the balance against a completed engagement of the holder (the holder or administrators)."""
    voucher, redemption = service.redeem(
        db_session=db_session, voucher_id=voucher_id, redemption_in=body, principal=principal
    )
    return RedemptionResult(**service.to_public(voucher).model_dump(), redemption=service.redemption_public(redemption))


@router.get("/{voucher_id}/redemptions", response_model=Page[RedemptionPublic])
def list_redemptions(
    db_session: SessionDep, principal: CurrentPrincipal, voucher_id: IdPath, page: PageDep
) -> Page[RedemptionPublic]:
    """The voucher's redemptions, in the order made (the holder or administrators)."""
    voucher = service.get_visible(db_session=db_session, voucher_id=voucher_id, principal=principal)
    rows, total = service.list_redemptions(db_session=db_session, voucher=voucher, limit=page.limit, offset=page.offset)
    return Page(items=[service.redemption_public(r) for r in rows], total=total, limit=page.limit, offset=page.offset)
