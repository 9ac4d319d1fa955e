"""Every open-call, bid and webhook route × every kind of caller → the status SPEC §7.3 and §7.5 access rules promise.

The world of tests/access (enterprise A owns the demands, specialist X is 'own') gains two open calls on A's
demands — one without bids, one with a live bid of X — and two webhooks, the administrator's and A's, each with a
delivery to retry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from service.webhooks.worker import DeliveryWorker
from tests.access.conftest import PARTIES, UNIT_PARTY, World
from tests.factories import ADMIN, demand_body

LATER = (datetime.now(UTC) + timedelta(days=30)).isoformat()
HOOK = "https://erp.example.com/expertmatch/hook"

OK, CREATED, GONE, ACCEPTED = 200, 201, 204, 202
DENY, ANON = 403, 401


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    expected: tuple[int, int, int, int, int, int, int, int]  # in PARTIES order, then the unit of X
    body: Callable[[dict[str, int], str], Any] | None = None


def _bid(ids: dict[str, int], party: str) -> dict[str, Any]:
    # An administrator names the specialist; a specialist's own key needs no id.
    on_behalf = {"expert_id": ids["expert_y"]} if party == "admin" else {}
    return {"proposal": "采用激光熔覆修复并建立在线监测", **on_behalf}


ROUTES: list[Case] = [
    # admin, owner ent, other ent, own expert, other expert, no key, revoked key, unit
    Case(
        "POST",
        "/demands/{plain_demand}/call",
        (CREATED, CREATED, DENY, DENY, DENY, ANON, ANON, DENY),
        lambda ids, party: {"goals": "合格率提升到98%", "deadline": LATER, "max_bidders": 2},
    ),
    Case("GET", "/demands/{call_demand}/call", (OK, OK, OK, OK, OK, ANON, ANON, OK)),
    Case("POST", "/demands/{call_demand}/bids", (CREATED, DENY, DENY, CREATED, CREATED, ANON, ANON, DENY), _bid),
    Case("GET", "/demands/{bid_demand}/bids", (OK, OK, DENY, OK, OK, ANON, ANON, DENY)),
    Case("DELETE", "/demands/{bid_demand}/bids/{bid}", (GONE, DENY, DENY, GONE, DENY, ANON, ANON, DENY)),
    Case("POST", "/demands/{bid_demand}/bids/{bid}/award", (CREATED, CREATED, DENY, DENY, DENY, ANON, ANON, DENY)),
    Case(
        "POST",
        "/webhooks",
        (CREATED, CREATED, CREATED, CREATED, CREATED, ANON, ANON, CREATED),
        lambda ids, party: {"url": HOOK, "events": ["engagement.offered"], "secret": "a-long-random-shared-secret"},
    ),
    Case("GET", "/webhooks", (OK, OK, OK, OK, OK, ANON, ANON, OK)),
    Case("GET", "/webhooks/{admin_hook}", (OK, DENY, DENY, DENY, DENY, ANON, ANON, DENY)),
    Case("GET", "/webhooks/{enterprise_hook}", (OK, OK, DENY, DENY, DENY, ANON, ANON, DENY)),
    Case("GET", "/webhooks/{enterprise_hook}/deliveries", (OK, OK, DENY, DENY, DENY, ANON, ANON, DENY)),
    Case(
        "POST",
        "/webhooks/{enterprise_hook}/deliveries/{enterprise_delivery}/retry",
        (ACCEPTED, ACCEPTED, DENY, DENY, DENY, ANON, ANON, DENY),
    ),
    Case("DELETE", "/webhooks/{enterprise_hook}", (GONE, GONE, DENY, DENY, DENY, ANON, ANON, DENY)),
    Case("DELETE", "/webhooks/{admin_hook}", (GONE, DENY, DENY, DENY, DENY, ANON, ANON, DENY)),
]
ALL_PARTIES = (*PARTIES, UNIT_PARTY)


@pytest.fixture
def ids(client, world: World, engine, settings) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """The world's ids plus calls, a bid of X, webhooks of the administrator and of A, and one delivery each."""
    base = world.ids()

    def post(path: str, body: dict[str, Any], headers: dict[str, str] = ADMIN) -> dict[str, Any]:
        response = client.post(path, json=body, headers=headers)
        assert response.status_code == 201, (path, response.text)
        return response.json()

    demands = [post("/demands", demand_body(base["enterprise_a"], title=f"开放需求{i}")) for i in range(3)]
    for demand in demands[1:]:
        post(f"/demands/{demand['id']}/call", {"goals": "合格率提升到98%", "deadline": LATER})
    bid = post(f"/demands/{demands[2]['id']}/bids", {"proposal": "方案"}, world.headers["own_expert"])
    hook = {"url": HOOK, "events": ["engagement.offered"], "secret": "a-long-random-shared-secret"}
    admin_hook = post("/webhooks", hook)
    enterprise_hook = post("/webhooks", hook, world.headers["owner_enterprise"])
    post(f"/demands/{base['open_demand']}/selections", {"expert_id": base["expert_x"]})
    DeliveryWorker(engine, settings).fan_out()  # one delivery per hook, left pending (nothing is sent here)
    delivery = client.get(f"/webhooks/{enterprise_hook['id']}/deliveries", headers=ADMIN).json()["items"][0]
    return {
        **base,
        "plain_demand": demands[0]["id"],
        "call_demand": demands[1]["id"],
        "bid_demand": demands[2]["id"],
        "bid": bid["id"],
        "admin_hook": admin_hook["id"],
        "enterprise_hook": enterprise_hook["id"],
        "enterprise_delivery": delivery["id"],
    }


# A read changes nothing, so one world serves every party; a write gets a fresh world per party.
PARAMS = [
    pytest.param(case, parties, id=f"{case.method} {case.path} as {' '.join(parties)}")
    for case in ROUTES
    for parties in ([ALL_PARTIES] if case.method == "GET" else [(party,) for party in ALL_PARTIES])
]


@pytest.mark.parametrize(("case", "parties"), PARAMS)
def test_lifecycle_route_answers_each_party_as_the_access_rules_say(
    client, world: World, ids: dict[str, int], case: Case, parties: tuple[str, ...]
) -> None:
    path = case.path.format(**ids)
    for party in parties:
        expected = case.expected[ALL_PARTIES.index(party)]
        kwargs: dict[str, Any] = {"headers": world.headers[party]}
        if case.body is not None:
            kwargs["json"] = case.body(ids, party)
        response = client.request(case.method, path, **kwargs)
        assert response.status_code == expected, (party, response.text)
        if expected >= 400:
            problem = response.json()
            assert problem["status"] == expected and problem["type"].startswith("https://")


def test_a_specialist_reads_only_their_own_bid_and_a_party_lists_only_its_own_webhooks(
    client, world: World, ids: dict[str, int]
) -> None:
    bids = f"/demands/{ids['bid_demand']}/bids"
    assert [b["id"] for b in client.get(bids, headers=world.headers["own_expert"]).json()] == [ids["bid"]]
    assert client.get(bids, headers=world.headers["other_expert"]).json() == []
    assert [b["id"] for b in client.get(bids, headers=world.headers["owner_enterprise"]).json()] == [ids["bid"]]
    listed = {p: client.get("/webhooks", headers=world.headers[p]).json() for p in ALL_PARTIES if "key" not in p}
    assert {h["id"] for h in listed["admin"]["items"]} >= {ids["admin_hook"], ids["enterprise_hook"]}
    assert [h["id"] for h in listed["owner_enterprise"]["items"]] == [ids["enterprise_hook"]]
    for party in ("other_enterprise", "own_expert", "other_expert", UNIT_PARTY):
        assert listed[party]["items"] == [], party
