"""Voucher rules: issue (administrators), redeem (the holder or an administrator) against a completed engagement,
never beyond the balance and never after expiry, whatever the concurrency.

Concurrency. A redemption locks the voucher row (`SELECT … FOR UPDATE` on PostgreSQL; SQLite serialises writers with
BEGIN IMMEDIATE), re-reads the balance, checks and writes in the same transaction; a CHECK constraint
(`0 <= balance_fen <= amount_fen`) is the database's backstop. Any number of partial redemptions may be made against
the same engagement; together with every other redemption they never exceed the voucher's amount.

Expiry: a voucher is valid through its `valid_until` date (UTC) and refused from the next day (`409 voucher-expired`).
"""

from __future__ import annotations

from datetime import date as CalendarDate

from sqlmodel import Session, col, func, select

from service import audit
from service.auth import Principal
from service.common import utcnow
from service.engagements.models import Engagement, EngagementStatus
from service.enterprises.models import Enterprise
from service.errors import Conflict, Forbidden, InvalidInput, NotFound
from service.experts.models import Expert
from service.pagination import fetch_page
from service.vouchers.models import (
    HolderType,
    Redemption,
    RedemptionCreate,
    RedemptionPublic,
    Voucher,
    VoucherCreate,
    VoucherPublic,
    VoucherStats,
    VoucherStatus,
    to_cny,
    to_fen,
)

VOUCHER = "voucher"


def today() -> CalendarDate:
    """The date expiry is judged against (UTC)."""
    return utcnow().date()


def status_of(voucher: Voucher, *, on: CalendarDate | None = None) -> VoucherStatus:
    """Exhausted when nothing is left, else expired after its last valid day, else active."""
    if voucher.balance_fen <= 0:
        return VoucherStatus.exhausted
    if voucher.valid_until < (on or today()):
        return VoucherStatus.expired
    return VoucherStatus.active


def to_public(voucher: Voucher) -> VoucherPublic:
    """The voucher as clients see it, amounts in yuan."""
    return VoucherPublic(
        id=voucher.id,  # type: ignore[arg-type]
        external_id=voucher.external_id,
        created_at=voucher.created_at,
        updated_at=voucher.updated_at,
        version=voucher.version,
        holder_type=HolderType(voucher.holder_type),
        holder_id=voucher.holder_id,
        amount_cny=to_cny(voucher.amount_fen),
        balance_cny=to_cny(voucher.balance_fen),
        redeemed_cny=to_cny(voucher.amount_fen - voucher.balance_fen),
        valid_until=voucher.valid_until,
        purpose=voucher.purpose,
        status=status_of(voucher),
    )


def redemption_public(row: Redemption) -> RedemptionPublic:
    """A redemption as clients see it, its amount in yuan."""
    return RedemptionPublic(**row.model_dump(exclude={"amount_fen", "actor_key_id"}), amount_cny=to_cny(row.amount_fen))


def _is_holder(principal: Principal, voucher: Voucher) -> bool:
    if voucher.holder_type == HolderType.enterprise:
        return principal.is_enterprise(voucher.holder_id)
    return principal.is_expert(voucher.holder_id)


def get_visible(*, db_session: Session, voucher_id: int, principal: Principal) -> Voucher:
    """The voucher if the caller is its holder or an administrator: 404 when missing, else 403."""
    voucher = db_session.get(Voucher, voucher_id)
    if voucher is None:
        raise NotFound(f"voucher {voucher_id} does not exist")
    if not (principal.is_admin or _is_holder(principal, voucher)):
        raise Forbidden(f"voucher {voucher_id} belongs to another holder")
    return voucher


def issue(*, db_session: Session, voucher_in: VoucherCreate, principal: Principal) -> Voucher:
    """Grant a voucher (administrators) to an existing enterprise or specialist, valid through a future date."""
    holder_model = Enterprise if voucher_in.holder_type is HolderType.enterprise else Expert
    if db_session.get(holder_model, voucher_in.holder_id) is None:
        raise InvalidInput.field(
            "body.holder_id", f"{voucher_in.holder_type.value} {voucher_in.holder_id} does not exist"
        )
    if voucher_in.valid_until < today():
        raise InvalidInput.field("body.valid_until", f"is in the past (today is {today().isoformat()} UTC)")
    fen = to_fen(voucher_in.amount_cny)
    voucher = Voucher(
        holder_type=voucher_in.holder_type.value,
        holder_id=voucher_in.holder_id,
        amount_fen=fen,
        balance_fen=fen,
        valid_until=voucher_in.valid_until,
        purpose=voucher_in.purpose,
    )
    db_session.add(voucher)
    db_session.flush()
    audit.record(
        db_session=db_session,
        entity=VOUCHER,
        entity_id=voucher.id,  # type: ignore[arg-type]
        action="issued",
        actor=principal,
        to_status=VoucherStatus.active.value,
        detail={
            "holder_type": voucher.holder_type,
            "holder_id": voucher.holder_id,
            "amount_cny": to_cny(fen),
            "valid_until": voucher.valid_until.isoformat(),
        },
    )
    db_session.commit()
    db_session.refresh(voucher)
    return voucher


def redeem(
    *, db_session: Session, voucher_id: int, redemption_in: RedemptionCreate, principal: Principal
) -> tuple[Voucher, Redemption]:
    """Take `amount_cny` off the voucher for a completed engagement of its holder, under the voucher's row lock."""
    get_visible(db_session=db_session, voucher_id=voucher_id, principal=principal)
    voucher = db_session.exec(
        select(Voucher).where(Voucher.id == voucher_id).with_for_update().execution_options(populate_existing=True)
    ).first()
    if voucher is None:
        raise NotFound(f"voucher {voucher_id} does not exist")
    engagement = db_session.get(Engagement, redemption_in.engagement_id)
    if engagement is None:
        raise InvalidInput.field("body.engagement_id", f"engagement {redemption_in.engagement_id} does not exist")
    holder_side = engagement.enterprise_id if voucher.holder_type == HolderType.enterprise else engagement.expert_id
    if holder_side != voucher.holder_id:
        raise Conflict(
            f"engagement {engagement.id} is not one of the voucher holder's ({voucher.holder_type} "
            f"{voucher.holder_id}) engagements",
            code="voucher-holder-mismatch",
            engagement_id=engagement.id,
        )
    if engagement.status != EngagementStatus.completed.value:
        raise Conflict(
            f"a voucher is redeemed against a completed engagement; "
            f"engagement {engagement.id} is '{engagement.status}'",
            code="engagement-not-completed",
            status_now=engagement.status,
        )
    if voucher.valid_until < today():
        raise Conflict(
            f"voucher {voucher_id} expired after {voucher.valid_until.isoformat()}",
            code="voucher-expired",
            valid_until=voucher.valid_until.isoformat(),
        )
    fen = to_fen(redemption_in.amount_cny)
    if fen > voucher.balance_fen:
        raise Conflict(
            f"voucher {voucher_id} has {to_cny(voucher.balance_fen):.2f} yuan left; "
            f"{to_cny(fen):.2f} cannot be redeemed",
            code="voucher-insufficient-balance",
            balance_cny=to_cny(voucher.balance_fen),
        )
    before = status_of(voucher)
    voucher.balance_fen -= fen
    redemption = Redemption(
        voucher_id=voucher_id,
        engagement_id=engagement.id,  # type: ignore[arg-type]
        demand_id=engagement.demand_id,
        expert_id=engagement.expert_id,
        enterprise_id=engagement.enterprise_id,
        amount_fen=fen,
        actor_role=str(principal.role),
        actor_key_id=principal.key_id,
    )
    db_session.add(voucher)
    db_session.add(redemption)
    db_session.flush()
    audit.record(
        db_session=db_session,
        entity=VOUCHER,
        entity_id=voucher_id,
        action="redeemed",
        actor=principal,
        from_status=before.value,
        to_status=status_of(voucher).value,
        detail={
            "redemption_id": redemption.id,
            "engagement_id": engagement.id,
            "amount_cny": to_cny(fen),
            "balance_cny": to_cny(voucher.balance_fen),
        },
    )
    db_session.commit()
    db_session.refresh(voucher)
    db_session.refresh(redemption)
    return voucher, redemption


def list_vouchers(
    *,
    db_session: Session,
    principal: Principal,
    limit: int,
    offset: int,
    holder_type: HolderType | None = None,
    holder_id: int | None = None,
    status: VoucherStatus | None = None,
) -> tuple[list[Voucher], int]:
    """A page of the vouchers this caller holds (administrators: all), in id order, with the total."""
    query = select(Voucher)
    if not principal.is_admin:
        if principal.enterprise_id is not None:
            query = query.where(
                Voucher.holder_type == HolderType.enterprise.value, Voucher.holder_id == principal.enterprise_id
            )
        elif principal.expert_id is not None:
            query = query.where(
                Voucher.holder_type == HolderType.expert.value, Voucher.holder_id == principal.expert_id
            )
        else:
            return [], 0
    if holder_type is not None:
        query = query.where(Voucher.holder_type == holder_type.value)
    if holder_id is not None:
        query = query.where(Voucher.holder_id == holder_id)
    now = today()
    if status is VoucherStatus.exhausted:
        query = query.where(Voucher.balance_fen <= 0)
    elif status is VoucherStatus.expired:
        query = query.where(Voucher.balance_fen > 0, col(Voucher.valid_until) < now)
    elif status is VoucherStatus.active:
        query = query.where(Voucher.balance_fen > 0, col(Voucher.valid_until) >= now)
    return fetch_page(db_session, query, order_by=col(Voucher.id), limit=limit, offset=offset)


def list_redemptions(*, db_session: Session, voucher: Voucher, limit: int, offset: int) -> tuple[list[Redemption], int]:
    """A page of one voucher's redemptions, in the order made, with the total."""
    query = select(Redemption).where(Redemption.voucher_id == voucher.id)
    return fetch_page(db_session, query, order_by=col(Redemption.id), limit=limit, offset=offset)


def stats(*, db_session: Session) -> VoucherStats:
    """Issued, redeemed, outstanding and expired sums (yuan), and the counts."""
    now = today()
    count, issued, balance = db_session.exec(
        select(
            func.count(),
            func.coalesce(func.sum(Voucher.amount_fen), 0),
            func.coalesce(func.sum(Voucher.balance_fen), 0),
        )
    ).one()
    expired = db_session.exec(
        select(func.coalesce(func.sum(Voucher.balance_fen), 0)).where(col(Voucher.valid_until) < now)
    ).one()
    redemptions, redeemed = db_session.exec(
        select(func.count(), func.coalesce(func.sum(Redemption.amount_fen), 0)).select_from(Redemption)
    ).one()
    return VoucherStats(
        issued=int(count),
        issued_cny=to_cny(int(issued)),
        redeemed_cny=to_cny(int(redeemed)),
        outstanding_cny=to_cny(int(balance) - int(expired)),
        expired_cny=to_cny(int(expired)),
        redemptions=int(redemptions),
    )
