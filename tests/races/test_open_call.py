"""Open calls under concurrency (SPEC §7.3): bids racing for the last place, and two awards at once."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from tests.conftest import BACKEND
from tests.races.conftest import Remote

BIDDERS = 12
ROUNDS = 3


def _call(remote: Remote, demand_id: int, max_bidders: int) -> None:
    deadline = (datetime.now(UTC) + timedelta(days=5)).isoformat()
    response = remote.admin.post(
        f"/demands/{demand_id}/call", json={"goals": "攻关目标", "deadline": deadline, "max_bidders": max_bidders}
    )
    assert response.status_code == 201, response.text


@pytest.mark.slow
def test_specialists_racing_for_the_last_bidder_place_get_exactly_the_limit(remote: Remote, engine) -> None:
    enterprise = remote.enterprise(name="揭榜企业")
    experts = [remote.expert(name=f"揭榜专家{i}", keywords=["焊接机器人"]) for i in range(BIDDERS)]
    keys = [remote.headers("expert", expert_id=x["id"]) for x in experts]
    totals: Counter = Counter()
    for round_number in range(ROUNDS):
        limit = round_number + 1  # 1, 2, 3 places
        demand = remote.demand(enterprise["id"], title=f"焊接机器人攻关{round_number}", keywords=["焊接机器人"])
        _call(remote, demand["id"], limit)
        barrier = threading.Barrier(BIDDERS)

        def bid(i: int, demand_id: int = demand["id"], barrier: threading.Barrier = barrier) -> tuple[int, str]:
            client = remote.client()
            client.get("/healthz")
            barrier.wait()
            response = client.post(f"/demands/{demand_id}/bids", json={"proposal": f"方案{i}"}, headers=keys[i])
            return response.status_code, response.json().get("code", "")

        with ThreadPoolExecutor(max_workers=BIDDERS) as executor:
            results = Counter(executor.map(bid, range(BIDDERS)))
        totals.update(results)
        assert results == Counter({(201, ""): limit, (409, "call-full"): BIDDERS - limit}), results
        with engine.connect() as conn:
            live = conn.execute(
                text("SELECT COUNT(*) FROM bid WHERE demand_id = :d AND status = 'submitted'"), {"d": demand["id"]}
            ).scalar_one()
        assert live == limit
    print(f"\nlast bidder place ({BACKEND}): {ROUNDS} calls x {BIDDERS} simultaneous bids -> {dict(totals)}")


@pytest.mark.slow
def test_two_awards_at_once_give_one_engagement_and_one_409(remote: Remote, engine) -> None:
    enterprise = remote.enterprise(name="授榜企业")
    e = remote.headers("enterprise", enterprise_id=enterprise["id"])
    totals: Counter = Counter()
    for round_number in range(ROUNDS * 2):
        demand = remote.demand(enterprise["id"], title=f"授榜需求{round_number}", keywords=["焊接机器人"])
        _call(remote, demand["id"], 2)
        bids = []
        for i in range(2):
            expert = remote.expert(name=f"竞榜专家{round_number}-{i}", keywords=["焊接机器人"])
            response = remote.admin.post(
                f"/demands/{demand['id']}/bids", json={"proposal": "方案", "expert_id": expert["id"]}
            )
            assert response.status_code == 201, response.text
            bids.append(response.json()["id"])
        barrier = threading.Barrier(2)

        def award(bid_id: int, demand_id: int = demand["id"], barrier: threading.Barrier = barrier) -> tuple[int, str]:
            client = remote.client()
            client.get("/healthz")
            barrier.wait()
            response = client.post(f"/demands/{demand_id}/bids/{bid_id}/award", headers=e)
            return response.status_code, response.json().get("code", "")

        with ThreadPoolExecutor(max_workers=2) as executor:
            results = Counter(executor.map(award, bids))
        totals.update(results)
        assert results == Counter({(201, ""): 1, (409, "call-awarded"): 1}), results
        with engine.connect() as conn:
            made = conn.execute(
                text("SELECT COUNT(*) FROM engagement WHERE demand_id = :d AND mode = 'open_call'"), {"d": demand["id"]}
            ).scalar_one()
            awarded = conn.execute(
                text("SELECT COUNT(*) FROM bid WHERE demand_id = :d AND status = 'awarded'"), {"d": demand["id"]}
            ).scalar_one()
        assert (made, awarded) == (1, 1)
    print(f"\ntwo awards at once ({BACKEND}): {ROUNDS * 2} calls -> {dict(totals)}")
