"""Both sides of a pair express interest at the same instant: always exactly one engagement."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from tests.conftest import BACKEND
from tests.races.conftest import Remote

PAIRS = 30


@pytest.mark.slow
def test_simultaneous_interests_from_both_sides_open_exactly_one_engagement(remote: Remote, engine) -> None:
    enterprises = [remote.enterprise(name=f"互选企业{i}") for i in range(5)]
    enterprise_keys = {e["id"]: remote.headers("enterprise", enterprise_id=e["id"]) for e in enterprises}
    pairs = []
    for i in range(PAIRS):
        demand = remote.demand(enterprises[i % 5]["id"], title=f"互选需求{i}")
        expert = remote.expert(name=f"互选专家{i}", capacity=1)
        pairs.append((demand, expert, remote.headers("expert", expert_id=expert["id"])))

    engagements_made = 0
    with ThreadPoolExecutor(max_workers=2) as executor:
        for demand, expert, expert_key in pairs:
            barrier = threading.Barrier(2)
            enterprise_key = enterprise_keys[demand["enterprise_id"]]

            def side(
                which: str,
                demand=demand,
                expert=expert,
                expert_key=expert_key,
                barrier=barrier,
                enterprise_key=enterprise_key,
            ):  # type: ignore[no-untyped-def]
                client = remote.client()
                client.get("/healthz")
                barrier.wait()
                if which == "enterprise":
                    return client.post(
                        f"/demands/{demand['id']}/interests", json={"expert_id": expert["id"]}, headers=enterprise_key
                    )
                return client.post(
                    f"/experts/{expert['id']}/interests", json={"demand_id": demand["id"]}, headers=expert_key
                )

            responses = list(executor.map(side, ["enterprise", "expert"]))
            assert [r.status_code for r in responses] == [201, 201], [r.text for r in responses]
            opened = [r.json()["engagement"] for r in responses if r.json()["engagement"] is not None]
            assert len(opened) == 1, [r.json() for r in responses]
            assert opened[0]["status"] == "active" and opened[0]["mode"] == "mutual_selection"
            with engine.connect() as conn:
                count = conn.execute(
                    text("SELECT COUNT(*) FROM engagement WHERE demand_id = :d AND expert_id = :x"),
                    {"d": demand["id"], "x": expert["id"]},
                ).scalar_one()
            assert count == 1
            engagements_made += count
    print(f"\nmutual interest ({BACKEND}): {PAIRS} pairs, both sides at once -> {engagements_made} engagements")
    assert engagements_made == PAIRS
