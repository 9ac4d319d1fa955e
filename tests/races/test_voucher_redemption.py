"""Thirty redemptions of one voucher at one instant, against a running server: they never exceed the balance.

Each round issues a fresh 1,000-yuan voucher to an enterprise with a completed engagement; thirty threads (two worker
processes on PostgreSQL) redeem at once, from the enterprise's key, amounts that together ask for far more than the
balance. Every success must be paid from the balance, every refusal must be `voucher-insufficient-balance`, and the
database's redemptions must add up to exactly what the voucher lost.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from tests.conftest import BACKEND
from tests.races.conftest import Remote

CONTENDERS = 30
AMOUNT_FEN = 100_000  # 1,000 yuan
# Round 1: equal asks (exactly ten fit); round 2: uneven asks (which ones fit depends on arrival order).
ASKS_FEN = [[10_000] * CONTENDERS, [3_300 + 997 * i for i in range(CONTENDERS)]]


def _completed_engagement(remote: Remote, enterprise_id: int) -> int:
    demand = remote.demand(enterprise_id, title="创新券核销竞争")
    expert = remote.expert(name="核销专家")
    offer = remote.admin.post(f"/demands/{demand['id']}/selections", json={"expert_id": expert["id"]})
    assert offer.status_code == 201, offer.text
    for action in ("accept", "complete"):
        assert remote.admin.post(f"/engagements/{offer.json()['id']}/{action}").status_code == 200
    return offer.json()["id"]


@pytest.mark.slow
def test_parallel_redemptions_never_exceed_the_balance(remote: Remote, engine) -> None:
    enterprise = remote.enterprise(name="创新券企业")
    key = remote.headers("enterprise", enterprise_id=enterprise["id"])
    engagement_id = _completed_engagement(remote, enterprise["id"])
    valid_until = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
    report = []
    for asks in ASKS_FEN:
        voucher = remote.admin.post(
            "/vouchers",
            json={
                "holder_type": "enterprise",
                "holder_id": enterprise["id"],
                "amount_cny": AMOUNT_FEN / 100,
                "valid_until": valid_until,
            },
        ).json()
        barrier = threading.Barrier(CONTENDERS)

        def contend(i: int, voucher_id: int = voucher["id"], asks: list[int] = asks, barrier=barrier) -> tuple:  # type: ignore[no-untyped-def]
            client = remote.client()
            client.get("/healthz")  # open the connection before the start line
            barrier.wait()
            response = client.post(
                f"/vouchers/{voucher_id}/redeem",
                json={"engagement_id": engagement_id, "amount_cny": asks[i] / 100},
                headers=key,
            )
            return i, response.status_code, response.json().get("code", "")

        with ThreadPoolExecutor(max_workers=CONTENDERS) as executor:
            results = list(executor.map(contend, range(CONTENDERS)))
        codes = Counter((status, code) for _, status, code in results)
        assert set(codes) <= {(201, ""), (409, "voucher-insufficient-balance")}, codes
        granted = sum(asks[i] for i, status, _ in results if status == 201)
        with engine.connect() as conn:
            balance = conn.execute(
                text("SELECT balance_fen FROM voucher WHERE id = :v"), {"v": voucher["id"]}
            ).scalar_one()
            stored = conn.execute(
                text("SELECT COALESCE(SUM(amount_fen), 0), COUNT(*) FROM voucher_redemption WHERE voucher_id = :v"),
                {"v": voucher["id"]},
            ).one()
        assert balance >= 0 and granted <= AMOUNT_FEN
        assert (int(stored[0]), int(stored[1])) == (granted, codes[(201, "")])
        assert balance == AMOUNT_FEN - granted
        # Every refusal was right: the ask did not fit what was left when it was refused, at the latest the end.
        refused = [asks[i] for i, status, _ in results if status == 409]
        assert all(ask > balance for ask in refused)
        if len(set(asks)) == 1:
            assert codes[(201, "")] == AMOUNT_FEN // asks[0] and balance == 0
        report.append(
            f"{sum(asks) / 100:.0f} yuan asked by {CONTENDERS} -> {codes[(201, '')]} granted "
            f"({granted / 100:.2f} yuan), {codes[(409, 'voucher-insufficient-balance')]} refused, "
            f"balance left {balance / 100:.2f}"
        )
    print(f"\nvoucher race ({BACKEND}): " + "; ".join(report))
