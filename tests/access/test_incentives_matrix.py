"""Every issue-ledger, voucher and assessment route × every kind of caller → the status SPEC §8 access rules promise.

The world of tests/access (enterprise A owns the demands, specialist X is 'own') gains an active engagement of X on
A's open demand with an open issue, and a resolved issue for confirm/reopen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.access.conftest import PARTIES, World
from tests.factories import ADMIN, demand_body

LATER = (datetime.now(UTC).date() + timedelta(days=60)).isoformat()

OK, CREATED = 200, 201
DENY, ANON = 403, 401


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    expected: tuple[int, int, int, int, int, int, int]  # in PARTIES order
    body: Callable[[dict[str, int]], Any] | None = None


ROUTES: list[Case] = [
    # admin, owner ent, other ent, own expert, other expert, no key, revoked key
    Case(
        "POST",
        "/engagements/{engagement}/issues",
        (CREATED, CREATED, DENY, DENY, DENY, ANON, ANON),
        lambda ids: {"title": "问题", "description": "描述"},
    ),
    Case("GET", "/engagements/{engagement}/issues", (OK, OK, DENY, OK, DENY, ANON, ANON)),
    Case("GET", "/issues", (OK, OK, OK, OK, OK, ANON, ANON)),
    Case("GET", "/issues/{issue}", (OK, OK, DENY, OK, DENY, ANON, ANON)),
    Case(
        "POST",
        "/issues/{issue}/responses",
        (CREATED, DENY, DENY, CREATED, DENY, ANON, ANON),
        lambda ids: {"summary": "已处理", "resolved": False},
    ),
    Case(
        "POST",
        "/issues/{resolved_issue}/confirm",
        (OK, OK, DENY, DENY, DENY, ANON, ANON),
        lambda ids: {"satisfaction": 5},
    ),
    Case("POST", "/issues/{resolved_issue}/reopen", (OK, OK, DENY, DENY, DENY, ANON, ANON), lambda ids: {}),
    Case(
        "POST",
        "/vouchers",
        (CREATED, DENY, DENY, DENY, DENY, ANON, ANON),
        lambda ids: {"holder_type": "expert", "holder_id": ids["expert_x"], "amount_cny": 10, "valid_until": LATER},
    ),
    Case("GET", "/vouchers", (OK, OK, OK, OK, OK, ANON, ANON)),
    Case("GET", "/vouchers/{voucher}", (OK, OK, DENY, DENY, DENY, ANON, ANON)),
    Case("GET", "/vouchers/{expert_voucher}", (OK, DENY, DENY, OK, DENY, ANON, ANON)),
    Case("GET", "/vouchers/{voucher}/redemptions", (OK, OK, DENY, DENY, DENY, ANON, ANON)),
    Case(
        "POST",
        "/vouchers/{voucher}/redeem",
        (CREATED, CREATED, DENY, DENY, DENY, ANON, ANON),
        lambda ids: {"engagement_id": ids["completed"], "amount_cny": 5},
    ),
    Case("POST", "/assessments", (CREATED, DENY, DENY, DENY, DENY, ANON, ANON), lambda ids: {"period": "2026"}),
    Case("GET", "/assessments", (OK, DENY, DENY, OK, OK, ANON, ANON)),
    Case("GET", "/assessments/{assessment}", (OK, DENY, DENY, OK, DENY, ANON, ANON)),
    Case(
        "PATCH",
        "/assessments/{assessment}/scores/{expert_x}",
        (OK, DENY, DENY, DENY, DENY, ANON, ANON),
        lambda ids: {"score": 80, "reason": "调整"},
    ),
]


@pytest.fixture
def ids(client, world: World) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """The world's ids plus an active engagement of X on A's open demand with one open and one resolved issue."""
    base = world.ids()
    engagement = client.post(
        f"/demands/{base['open_demand']}/selections", json={"expert_id": base["expert_x"]}, headers=ADMIN
    ).json()
    assert client.post(f"/engagements/{engagement['id']}/accept", headers=ADMIN).status_code == 200
    issue = client.post(
        f"/engagements/{engagement['id']}/issues", json={"title": "问题", "description": "描述"}, headers=ADMIN
    ).json()
    resolved = client.post(
        f"/engagements/{engagement['id']}/issues", json={"title": "已解决", "description": "描述"}, headers=ADMIN
    ).json()
    answer = client.post(f"/issues/{resolved['id']}/responses", json={"summary": "好", "resolved": True}, headers=ADMIN)
    assert answer.status_code == 201
    second = client.post("/demands", json=demand_body(base["enterprise_a"], title="已完成需求"), headers=ADMIN).json()
    completed = client.post(
        f"/demands/{second['id']}/selections", json={"expert_id": base["expert_y"]}, headers=ADMIN
    ).json()
    for action in ("accept", "complete"):
        assert client.post(f"/engagements/{completed['id']}/{action}", headers=ADMIN).status_code == 200
    vouchers = [
        client.post(
            "/vouchers",
            json={"holder_type": kind, "holder_id": base[holder], "amount_cny": 100, "valid_until": LATER},
            headers=ADMIN,
        ).json()
        for kind, holder in (("enterprise", "enterprise_a"), ("expert", "expert_x"))
    ]
    assessment = client.post(
        "/assessments", json={"period": "2026", "expert_ids": [base["expert_x"]]}, headers=ADMIN
    ).json()
    return {
        **base,
        "assessment": assessment["id"],
        "engagement": engagement["id"],
        "issue": issue["id"],
        "resolved_issue": resolved["id"],
        "completed": completed["id"],
        "voucher": vouchers[0]["id"],
        "expert_voucher": vouchers[1]["id"],
    }


# A read changes nothing, so one world serves every party; a write gets a fresh world per party.
PARAMS = [
    pytest.param(
        case, parties, id=f"{case.method} {case.path} as {' '.join(parties) if len(parties) > 1 else parties[0]}"
    )
    for case in ROUTES
    for parties in ([PARTIES] if case.method == "GET" else [(party,) for party in PARTIES])
]


@pytest.mark.parametrize(("case", "parties"), PARAMS)
def test_incentive_route_answers_each_party_as_the_access_rules_say(
    client, world: World, ids: dict[str, int], case: Case, parties: tuple[str, ...]
) -> None:
    path = case.path.format(**ids)
    for party in parties:
        expected = case.expected[PARTIES.index(party)]
        kwargs: dict[str, Any] = {"headers": world.headers[party]}
        if case.body is not None:
            kwargs["json"] = case.body(ids)
        response = client.request(case.method, path, **kwargs)
        assert response.status_code == expected, (party, response.text)
        if expected >= 400:
            problem = response.json()
            assert problem["status"] == expected and problem["type"].startswith("https://")
