"""Teams under concurrency (SPEC §8.4): enterprises racing for a team whose lead has capacity 1, and a team's
selection racing one of its members' own selection on the same demand, against a real server."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from tests.conftest import BACKEND
from tests.factories import ADMIN
from tests.races.conftest import Remote
from tests.races.invariants import print_violations, violations

CONTENDERS = 12
PAIR_ROUNDS = 10


def _team(remote: Remote, lead_id: int, member_id: int, name: str) -> dict:
    response = remote.admin.post(
        "/teams", json={"name": name, "lead_expert_id": lead_id, "member_ids": [lead_id, member_id]}
    )
    assert response.status_code == 201, response.text
    return response.json()


@pytest.mark.slow
def test_enterprises_racing_for_a_team_on_a_capacity_one_lead_get_one_success(remote: Remote, engine) -> None:
    enterprises = [remote.enterprise(name=f"抢团队企业{i}") for i in range(CONTENDERS)]
    keys = [remote.headers("enterprise", enterprise_id=e["id"]) for e in enterprises]
    demands = [remote.demand(e["id"], title="抢同一个团队") for e in enterprises]
    lead = remote.expert(name="团队负责人", capacity=1)
    member = remote.expert(name="团队成员")
    team = _team(remote, lead["id"], member["id"], "唯一团队")
    barrier = threading.Barrier(CONTENDERS)

    def contend(i: int) -> tuple[int, str]:
        client = remote.client()
        client.get("/healthz")
        barrier.wait()
        response = client.post(f"/demands/{demands[i]['id']}/selections", json={"team_id": team["id"]}, headers=keys[i])
        return response.status_code, response.json().get("code", "")

    with ThreadPoolExecutor(max_workers=CONTENDERS) as executor:
        results = Counter(executor.map(contend, range(CONTENDERS)))
    assert results == Counter({(201, ""): 1, (409, "expert-capacity-full"): CONTENDERS - 1}), results
    with engine.connect() as conn:
        live = conn.execute(
            text("SELECT COUNT(*) FROM engagement WHERE team_id = :t AND status IN ('offered', 'active')"),
            {"t": team["id"]},
        ).scalar_one()
    assert live == 1
    found = violations(engine)
    assert not any(found.values()), found
    print(f"\nteam last slot ({BACKEND}): {CONTENDERS} simultaneous selections -> {dict(results)}")


@pytest.mark.slow
def test_a_team_selection_racing_its_members_own_selection_never_engages_the_member_twice(
    remote: Remote, engine
) -> None:
    enterprise = remote.enterprise(name="团队与个人竞争企业")
    lead = remote.expert(name="负责人", capacity=PAIR_ROUNDS)
    member = remote.expert(name="成员", capacity=PAIR_ROUNDS)
    team = _team(remote, lead["id"], member["id"], "竞争团队")
    outcomes: Counter = Counter()
    bodies = [{"team_id": team["id"]}, {"expert_id": member["id"]}]
    for round_number in range(PAIR_ROUNDS):
        demand = remote.demand(enterprise["id"], title=f"团队与个人{round_number}", headcount=2)
        barrier = threading.Barrier(2)

        def contend(
            i: int,
            demand_id: int = demand["id"],
            barrier: threading.Barrier = barrier,
            delay: float = round_number * 0.004,
        ) -> tuple[str, int]:
            client = remote.client()
            client.get("/healthz")
            barrier.wait()
            if i == 1:  # the team's selection scores the team first: stagger the member's so either may win
                time.sleep(delay)
            response = client.post(f"/demands/{demand_id}/selections", json=bodies[i], headers=ADMIN)
            return ("team", "member")[i], response.status_code

        with ThreadPoolExecutor(max_workers=2) as executor:
            results = dict(executor.map(contend, range(2)))
        # Exactly one of the two wins; the other is told the member is already engaged on the demand.
        assert sorted(results.values()) == [201, 409], results
        outcomes[next(k for k, v in results.items() if v == 201)] += 1
        with engine.connect() as conn:
            engaged = conn.execute(
                text(
                    "SELECT COUNT(*) FROM engagement g WHERE g.demand_id = :d AND g.status IN ('offered', 'active') "
                    "AND (g.expert_id = :m OR g.team_id IN (SELECT team_id FROM team_member WHERE expert_id = :m))"
                ),
                {"d": demand["id"], "m": member["id"]},
            ).scalar_one()
        assert engaged == 1, round_number
    found = violations(engine)
    if any(found.values()):
        print_violations(found)
    assert not any(found.values()), found
    print(f"\nteam vs member ({BACKEND}): {PAIR_ROUNDS} races, winners {dict(outcomes)}")
