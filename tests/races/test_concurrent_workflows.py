"""1,000 selections, interests, accepts, declines and withdrawals fired at once at a small pool: SPEC §2 holds.

Terminations are mixed in so that places keep freeing up and the pool stays contested to the end.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import BACKEND
from tests.races.conftest import WORKERS, Remote
from tests.races.invariants import print_violations, violations

REQUESTS = 1000
THREADS = 16
OPERATIONS = ["select"] * 28 + ["ent_interest"] * 17 + ["exp_interest"] * 17 + ["accept"] * 12 + ["decline"] * 10
OPERATIONS += ["terminate"] * 10 + ["withdraw"] * 6


class Pool:
    """Four enterprises with two demands each, eight specialists, their keys, and what the race has made so far."""

    def __init__(self, remote: Remote, rng: random.Random) -> None:
        enterprises = [remote.enterprise(name=f"竞态企业{i}") for i in range(4)]
        self.enterprise_keys = {e["id"]: remote.headers("enterprise", enterprise_id=e["id"]) for e in enterprises}
        origins = ["in_province", "in_province", "out_of_province", "foreign"]
        self.experts = []
        for i in range(8):
            conflicts = [enterprises[i % 4]["id"]] if i in (0, 3, 5) else []
            expert = remote.expert(
                name=f"竞态专家{i}", capacity=rng.choice([1, 2]), origin=origins[i % 4], conflicts=conflicts
            )
            self.experts.append(expert)
        self.expert_keys = {x["id"]: remote.headers("expert", expert_id=x["id"]) for x in self.experts}
        self.demands = []
        for i in range(8):
            accepted = ["in_province"] if i == 7 else []
            self.demands.append(
                remote.demand(
                    enterprises[i % 4]["id"],
                    title=f"竞态需求{i}",
                    headcount=rng.choice([1, 2]),
                    accepted_origins=accepted,
                )
            )
        self.lock = threading.Lock()
        self.offered: list[tuple[int, int]] = []  # (engagement id, expert id)
        self.active: list[tuple[int, int]] = []  # (engagement id, expert id)
        self.pending: list[tuple[str, int, int]] = []  # (side, demand id, expert id)


def fire(remote: Remote, pool: Pool, operation: str, rng: random.Random) -> tuple[str, int, str]:
    """One request of the race; returns (operation, status, problem code)."""
    client = remote.client()
    demand = rng.choice(pool.demands)
    expert = rng.choice(pool.experts)
    enterprise_key = pool.enterprise_keys[demand["enterprise_id"]]
    expert_key = pool.expert_keys[expert["id"]]
    target = None
    if operation in ("accept", "decline", "terminate"):
        with pool.lock:
            candidates = pool.active if operation == "terminate" else pool.offered
            target = rng.choice(candidates) if candidates else None
        if target is None:
            operation = "select"
    if operation == "withdraw":
        with pool.lock:
            target = pool.pending.pop(rng.randrange(len(pool.pending))) if pool.pending else None
        if target is None:
            operation = "exp_interest"
    if operation == "select":
        response = client.post(
            f"/demands/{demand['id']}/selections", json={"expert_id": expert["id"]}, headers=enterprise_key
        )
        if response.status_code == 201:
            with pool.lock:
                pool.offered.append((response.json()["id"], expert["id"]))
    elif operation in ("ent_interest", "exp_interest"):
        if operation == "ent_interest":
            path, body, headers = f"/demands/{demand['id']}/interests", {"expert_id": expert["id"]}, enterprise_key
        else:
            path, body, headers = f"/experts/{expert['id']}/interests", {"demand_id": demand["id"]}, expert_key
        response = client.post(path, json=body, headers=headers)
        if response.status_code == 201:
            opened = response.json()["engagement"]
            side = "enterprise" if operation == "ent_interest" else "expert"
            with pool.lock:
                if opened is None:
                    pool.pending.append((side, demand["id"], expert["id"]))
                else:
                    pool.active.append((opened["id"], expert["id"]))
    elif operation in ("accept", "decline", "terminate"):
        engagement_id, expert_id = target  # type: ignore[misc]
        response = client.post(f"/engagements/{engagement_id}/{operation}", headers=pool.expert_keys[expert_id])
        if response.status_code == 200:
            with pool.lock:
                source = pool.active if operation == "terminate" else pool.offered
                if target in source:
                    source.remove(target)
                if operation == "accept":
                    pool.active.append(target)  # type: ignore[arg-type]
    else:
        side, demand_id, expert_id = target  # type: ignore[misc]
        if side == "enterprise":
            owner = next(d["enterprise_id"] for d in pool.demands if d["id"] == demand_id)
            path, headers = f"/demands/{demand_id}/interests/{expert_id}", pool.enterprise_keys[owner]
        else:
            path, headers = f"/experts/{expert_id}/interests/{demand_id}", pool.expert_keys[expert_id]
        response = client.delete(path, headers=headers)
    code = response.json().get("code", "") if response.status_code >= 400 else ""
    return operation, response.status_code, code


@pytest.mark.slow
def test_a_thousand_concurrent_workflow_calls_never_break_an_invariant(remote: Remote, engine) -> None:
    rng = random.Random(20241122)
    pool = Pool(remote, rng)
    plan = [(rng.choice(OPERATIONS), random.Random(rng.random())) for _ in range(REQUESTS)]
    with ThreadPoolExecutor(max_workers=THREADS) as executor:
        outcomes = list(executor.map(lambda item: fire(remote, pool, *item), plan))

    table = Counter(outcomes)
    print(f"\n{REQUESTS} requests, {THREADS} client threads, {BACKEND} with {WORKERS} server worker(s)")
    print(f"  {'operation':<13} {'status':>6}  {'code':<30} {'count':>5}")
    for (operation, status, code), count in sorted(table.items()):
        print(f"  {operation:<13} {status:>6}  {code:<30} {count:>5}")
    by_status = Counter(status for _, status, _ in outcomes)
    print("  by status: " + ", ".join(f"{status}: {count}" for status, count in sorted(by_status.items())))
    found = violations(engine)
    print_violations(found)

    assert len(outcomes) == REQUESTS
    unexpected = {key: n for key, n in table.items() if not (200 <= key[1] < 300 or key[1] == 409)}
    assert unexpected == {}, f"answers other than 2xx or 409: {unexpected}"
    assert all(rows == [] for rows in found.values()), found
    assert by_status[201] > 50 and by_status[409] > 50, "the race exercised both successes and refusals"
