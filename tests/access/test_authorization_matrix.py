"""Every route × every kind of caller → the status the access rules of SPEC §6.2 promise."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.access.conftest import PARTIES, UNIT_PARTY, World
from tests.factories import credit_code, demand_body, enterprise_body, expert_body

Body = Callable[[World], Any] | None


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    expected: tuple[int, int, int, int, int, int, int]  # in PARTIES order
    body: Body = None
    unit: int | None = None  # the unit key's answer when it differs from other_expert's


def _new_enterprise(w: World) -> dict:
    return enterprise_body(credit_code=credit_code(900_001))


OK, CREATED, GONE = 200, 201, 204
DENY, ANON = 403, 401

ROUTES: list[Case] = [
    # admin, owner ent, other ent, own expert, other expert, no key, revoked key
    Case("POST", "/enterprises", (CREATED, DENY, DENY, DENY, DENY, ANON, ANON), _new_enterprise),
    Case("GET", "/enterprises", (OK, OK, OK, OK, OK, ANON, ANON)),
    Case("GET", "/enterprises/{enterprise_a}", (OK, OK, OK, OK, OK, ANON, ANON)),
    Case("PATCH", "/enterprises/{enterprise_a}", (OK, OK, DENY, DENY, DENY, ANON, ANON), lambda w: {"size": "large"}),
    Case("DELETE", "/enterprises/{enterprise_a}", (GONE, DENY, DENY, DENY, DENY, ANON, ANON)),
    Case(
        "POST",
        "/demands",
        (CREATED, CREATED, DENY, DENY, DENY, ANON, ANON),
        lambda w: demand_body(w.enterprise_a["id"]),
    ),
    Case("GET", "/demands", (OK, OK, OK, OK, OK, ANON, ANON)),
    Case("GET", "/demands/{open_demand}", (OK, OK, OK, OK, OK, ANON, ANON)),
    Case("GET", "/demands/{draft_demand}", (OK, OK, DENY, DENY, DENY, ANON, ANON)),
    Case("PATCH", "/demands/{open_demand}", (OK, OK, DENY, DENY, DENY, ANON, ANON), lambda w: {"headcount": 2}),
    Case("PATCH", "/demands/{draft_demand}", (OK, OK, DENY, DENY, DENY, ANON, ANON), lambda w: {"status": "open"}),
    Case("DELETE", "/demands/{open_demand}", (GONE, GONE, DENY, DENY, DENY, ANON, ANON)),
    Case("POST", "/experts", (CREATED, DENY, DENY, DENY, DENY, ANON, ANON), lambda w: expert_body(name="新专家")),
    Case("GET", "/experts", (OK, OK, OK, OK, OK, ANON, ANON)),
    Case("GET", "/experts/{expert_x}", (OK, OK, OK, OK, OK, ANON, ANON)),
    Case("PATCH", "/experts/{expert_x}", (OK, DENY, DENY, OK, DENY, ANON, ANON), lambda w: {"bio": "更新的简介"}),
    Case("PATCH", "/experts/{expert_x}", (OK, DENY, DENY, DENY, DENY, ANON, ANON), lambda w: {"capacity": 5}),
    Case("DELETE", "/experts/{expert_x}", (GONE, DENY, DENY, DENY, DENY, ANON, ANON)),
    Case(
        "POST",
        "/keys",
        (CREATED, DENY, DENY, DENY, DENY, ANON, ANON),
        lambda w: {"role": "expert", "expert_id": w.expert_x["id"]},
    ),
    Case("GET", "/keys", (OK, DENY, DENY, DENY, DENY, ANON, ANON)),
    Case("DELETE", "/keys/{spare_key}", (OK, DENY, DENY, DENY, DENY, ANON, ANON)),
    # Dispatching units (SPEC §7.2): administrators keep them; the unit changes its own contact details.
    Case("POST", "/units", (CREATED, DENY, DENY, DENY, DENY, ANON, ANON), lambda w: {"name": "新单位"}, unit=DENY),
    Case("GET", "/units", (OK, OK, OK, OK, OK, ANON, ANON)),
    Case("GET", "/units/{unit}", (OK, OK, OK, OK, OK, ANON, ANON)),
    Case("PATCH", "/units/{unit}", (OK, DENY, DENY, DENY, DENY, ANON, ANON), lambda w: {"region": "大连市"}, unit=OK),
    Case("DELETE", "/units/{unit}", (GONE, DENY, DENY, DENY, DENY, ANON, ANON), unit=DENY),
    Case("GET", "/demands/{draft_demand}/reviews", (OK, OK, DENY, DENY, DENY, ANON, ANON)),
    Case("POST", "/demands/{draft_demand}/submit", (OK, OK, DENY, DENY, DENY, ANON, ANON)),
    Case("GET", "/healthz", (OK, OK, OK, OK, OK, OK, OK)),
    Case("GET", "/readyz", (OK, OK, OK, OK, OK, OK, OK)),
]

PARAMS = [
    pytest.param(case, party, case.expected[i], id=f"{case.method} {case.path} as {party}")
    for case in ROUTES
    for i, party in enumerate(PARTIES)
] + [
    pytest.param(
        case,
        UNIT_PARTY,
        case.unit if case.unit is not None else case.expected[PARTIES.index("other_expert")],
        id=f"{case.method} {case.path} as {UNIT_PARTY}",
    )
    for case in ROUTES
]


@pytest.mark.parametrize(("case", "party", "expected"), PARAMS)
def test_route_answers_each_party_as_the_access_rules_say(
    client, world: World, case: Case, party: str, expected: int
) -> None:
    path = case.path.format(**world.ids())
    kwargs: dict[str, Any] = {"headers": world.headers[party]}
    if case.body is not None:
        kwargs["json"] = case.body(world)
    response = client.request(case.method, path, **kwargs)
    assert response.status_code == expected, response.text
    if expected >= 400:
        problem = response.json()
        assert problem["status"] == expected and problem["type"].startswith("https://")
