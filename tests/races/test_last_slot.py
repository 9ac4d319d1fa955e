"""Twenty enterprises select the same capacity-1 specialist at one instant: one 201, nineteen 409."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from tests.conftest import BACKEND
from tests.races.conftest import Remote

CONTENDERS = 20
ROUNDS = 3


@pytest.mark.slow
def test_twenty_enterprises_racing_for_the_last_slot_get_one_success(remote: Remote, engine) -> None:
    enterprises = [remote.enterprise(name=f"抢位企业{i}") for i in range(CONTENDERS)]
    keys = [remote.headers("enterprise", enterprise_id=e["id"]) for e in enterprises]
    demands = [remote.demand(e["id"], title="抢同一位专家", headcount=ROUNDS) for e in enterprises]
    totals: Counter = Counter()
    for round_number in range(ROUNDS):
        expert = remote.expert(name=f"唯一专家{round_number}", capacity=1)
        barrier = threading.Barrier(CONTENDERS)

        def contend(i: int, expert_id: int = expert["id"], barrier: threading.Barrier = barrier) -> tuple[int, str]:
            client = remote.client()
            client.get("/healthz")  # open the connection before the start line
            barrier.wait()
            response = client.post(
                f"/demands/{demands[i]['id']}/selections", json={"expert_id": expert_id}, headers=keys[i]
            )
            return response.status_code, response.json().get("code", "")

        with ThreadPoolExecutor(max_workers=CONTENDERS) as executor:
            results = Counter(executor.map(contend, range(CONTENDERS)))
        totals.update(results)
        assert results == Counter({(201, ""): 1, (409, "expert-capacity-full"): CONTENDERS - 1}), results
        with engine.connect() as conn:
            live = conn.execute(
                text("SELECT COUNT(*) FROM engagement WHERE expert_id = :x AND status IN ('offered', 'active')"),
                {"x": expert["id"]},
            ).scalar_one()
        assert live == 1
    print(f"\nlast slot ({BACKEND}): {ROUNDS} rounds x {CONTENDERS} simultaneous selections -> {dict(totals)}")
