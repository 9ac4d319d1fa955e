"""The finance office's exports: every voucher and every redemption, as CSV, XLSX or JSON Lines, with English field
names or Chinese headers, through the same writers as the record exports (service/transfer/exporter.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.engine import Engine

from service.demands.models import Demand
from service.enterprises.models import Enterprise
from service.experts.models import Expert
from service.transfer.columns import Column
from service.transfer.exporter import WRITERS
from service.transfer.readers import Format
from service.vouchers.models import Redemption, Voucher, VoucherStatus, to_cny
from service.vouchers.service import status_of, today

HOLDER_ZH = {"enterprise": "企业", "expert": "专家"}
STATUS_ZH = {VoucherStatus.active: "有效", VoucherStatus.exhausted: "已用完", VoucherStatus.expired: "已过期"}

VOUCHER_COLUMNS = [
    Column("id", "券号", "int"),
    Column("holder_type", "持有人类型"),
    Column("holder_id", "持有人ID", "int"),
    Column("holder", "持有人"),
    Column("amount_cny", "面额（元）", "float"),
    Column("redeemed_cny", "已核销（元）", "float"),
    Column("balance_cny", "余额（元）", "float"),
    Column("valid_until", "有效期至", "date"),
    Column("status", "状态"),
    Column("purpose", "用途"),
    Column("issued_at", "发放时间", "datetime"),
]
REDEMPTION_COLUMNS = [
    Column("id", "核销编号", "int"),
    Column("voucher_id", "券号", "int"),
    Column("holder_type", "持有人类型"),
    Column("holder", "持有人"),
    Column("engagement_id", "服务编号", "int"),
    Column("demand", "需求"),
    Column("enterprise", "企业"),
    Column("expert", "专家"),
    Column("amount_cny", "核销金额（元）", "float"),
    Column("balance_after_cny", "核销后余额（元）", "float"),
    Column("redeemed_at", "核销时间", "datetime"),
    Column("actor_role", "操作人角色"),
]


def _names(conn: Any, model: Any, column: str) -> dict[int, str]:
    table = model.__table__
    return dict(conn.execute(select(table.c.id, table.c[column])).all())


def _holder(names: dict[str, dict[int, str]], holder_type: str, holder_id: int) -> str | None:
    return names[holder_type].get(holder_id)


def _zh(value: str, table: dict, headers: str) -> str:
    return table.get(value, value) if headers == "zh" else value


def voucher_records(conn: Any, headers: str) -> Iterator[dict[str, Any]]:
    """Every voucher, in id order."""
    names = {"enterprise": _names(conn, Enterprise, "name"), "expert": _names(conn, Expert, "name")}
    on = today()
    for row in conn.execute(select(Voucher.__table__).order_by(Voucher.__table__.c.id)).mappings():
        voucher = Voucher.model_validate(dict(row))
        yield {
            "id": voucher.id,
            "holder_type": _zh(voucher.holder_type, HOLDER_ZH, headers),
            "holder_id": voucher.holder_id,
            "holder": _holder(names, voucher.holder_type, voucher.holder_id),
            "amount_cny": to_cny(voucher.amount_fen),
            "redeemed_cny": to_cny(voucher.amount_fen - voucher.balance_fen),
            "balance_cny": to_cny(voucher.balance_fen),
            "valid_until": voucher.valid_until,
            "status": _zh(status_of(voucher, on=on), STATUS_ZH, headers),
            "purpose": voucher.purpose,
            "issued_at": voucher.created_at,
        }


def redemption_records(conn: Any, headers: str) -> Iterator[dict[str, Any]]:
    """Every redemption, in the order made, with the voucher's balance right after it."""
    names = {"enterprise": _names(conn, Enterprise, "name"), "expert": _names(conn, Expert, "name")}
    demands = _names(conn, Demand, "title")
    vouchers = {
        r.id: (r.holder_type, r.holder_id, r.amount_fen)
        for r in conn.execute(select(Voucher.__table__.c.id, Voucher.__table__.c.holder_type,
                                     Voucher.__table__.c.holder_id, Voucher.__table__.c.amount_fen))
    }  # fmt: skip
    spent: dict[int, int] = {}
    table = Redemption.__table__  # type: ignore[attr-defined]
    for r in conn.execute(select(table).order_by(table.c.id)).mappings():
        holder_type, holder_id, amount = vouchers[r["voucher_id"]]
        spent[r["voucher_id"]] = spent.get(r["voucher_id"], 0) + r["amount_fen"]
        yield {
            "id": r["id"],
            "voucher_id": r["voucher_id"],
            "holder_type": _zh(holder_type, HOLDER_ZH, headers),
            "holder": _holder(names, holder_type, holder_id),
            "engagement_id": r["engagement_id"],
            "demand": demands.get(r["demand_id"]),
            "enterprise": names["enterprise"].get(r["enterprise_id"]),
            "expert": names["expert"].get(r["expert_id"]),
            "amount_cny": to_cny(r["amount_fen"]),
            "balance_after_cny": to_cny(amount - spent[r["voucher_id"]]),
            "redeemed_at": r["created_at"],
            "actor_role": r["actor_role"],
        }


EXPORTS = {
    "vouchers": (voucher_records, VOUCHER_COLUMNS),
    "redemptions": (redemption_records, REDEMPTION_COLUMNS),
}


def export(engine: Engine, what: str, fmt: Format | str, out: BinaryIO, *, headers: str = "en") -> int:
    """Write every voucher or redemption to `out`; the number of rows written."""
    records, columns = EXPORTS[what]
    fmt = Format(fmt)
    if fmt is Format.auto:
        fmt = Format.csv
    with engine.connect() as conn:
        return WRITERS[fmt](records(conn, headers), columns, out, headers)
