"""Every team route (SPEC §8.4) and the team selection × every kind of caller → the status the access rules promise.

The world of tests/access (enterprise A owns the demands, specialist X is 'own') gains a team led by X with a member
M (who has a key of their own); Y is a specialist outside the team. A refused call changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.access.conftest import PARTIES, UNIT_PARTY, World
from tests.factories import ADMIN, Api

OK, CREATED, GONE = 200, 201, 204
DENY, ANON = 403, 401
MEMBER = "member"
ALL_PARTIES = (*PARTIES, MEMBER, UNIT_PARTY)


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    # admin, owner ent, other ent, lead (own expert), other expert, no key, revoked key, member, unit
    expected: tuple[int, int, int, int, int, int, int, int, int]
    body: Callable[[dict[str, int]], Any] | None = None


def _team(ids: dict[str, int]) -> dict[str, Any]:
    return {"name": "第二团队", "lead_expert_id": ids["expert_y"], "member_ids": [ids["expert_y"], ids["member"]]}


ROUTES: list[Case] = [
    Case("POST", "/teams", (CREATED, DENY, DENY, DENY, DENY, ANON, ANON, DENY, DENY), _team),
    Case("GET", "/teams", (OK, OK, OK, OK, OK, ANON, ANON, OK, OK)),
    Case("GET", "/teams/{team}", (OK, OK, OK, OK, OK, ANON, ANON, OK, OK)),
    Case("PATCH", "/teams/{team}", (OK, DENY, DENY, OK, DENY, ANON, ANON, DENY, DENY), lambda ids: {"bio": "新简介"}),
    Case(
        "PATCH",
        "/teams/{team}",
        (OK, DENY, DENY, DENY, DENY, ANON, ANON, DENY, DENY),
        lambda ids: {"member_ids": [ids["expert_x"], ids["member"], ids["expert_y"]]},
    ),
    Case("DELETE", "/teams/{team}", (GONE, DENY, DENY, DENY, DENY, ANON, ANON, DENY, DENY)),
    Case("GET", "/teams/{team}/suggestions", (OK, DENY, DENY, OK, DENY, ANON, ANON, OK, DENY)),
    Case("GET", "/demands/{open_demand}/team-suggestions", (OK, OK, DENY, DENY, DENY, ANON, ANON, DENY, DENY)),
    Case(
        "POST",
        "/demands/{open_demand}/selections",
        (CREATED, CREATED, DENY, DENY, DENY, ANON, ANON, DENY, DENY),
        lambda ids: {"team_id": ids["team"]},
    ),
]


@pytest.fixture
def ids(api: Api, world: World) -> dict[str, int]:
    base = world.ids()
    member = api.expert(name="王强", fields=["机械故障诊断"], keywords=["故障诊断", "轴承"])
    world.headers[MEMBER] = api.headers("expert", expert_id=member["id"])
    body = {
        "name": "智能运维团队",
        "lead_expert_id": base["expert_x"],
        "member_ids": [base["expert_x"], member["id"]],
        "keywords": ["故障诊断"],
    }
    response = api.client.post("/teams", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    return {**base, "member": member["id"], "team": response.json()["id"]}


def _state(api: Api) -> tuple[Any, Any]:
    teams = api.client.get("/teams", headers=ADMIN).json()
    engagements = api.client.get("/engagements", headers=ADMIN).json()
    return teams, engagements["total"]


PARAMS = [
    pytest.param(case, parties, id=f"{case.method} {case.path} {i} as {' '.join(parties)}")
    for i, case in enumerate(ROUTES)
    for parties in ([ALL_PARTIES] if case.method == "GET" else [(party,) for party in ALL_PARTIES])
]


@pytest.mark.parametrize(("case", "parties"), PARAMS)
def test_team_route_answers_each_party_as_the_access_rules_say(
    api: Api, world: World, ids: dict[str, int], case: Case, parties: tuple[str, ...]
) -> None:
    path = case.path.format(**ids)
    for party in parties:
        expected = case.expected[ALL_PARTIES.index(party)]
        before = _state(api)
        kwargs: dict[str, Any] = {"headers": world.headers[party]}
        if case.body is not None:
            kwargs["json"] = case.body(ids)
        response = api.client.request(case.method, path, **kwargs)
        assert response.status_code == expected, (party, response.text)
        if expected >= 400:
            problem = response.json()
            assert problem["status"] == expected and problem["type"].startswith("https://")
            assert _state(api) == before, party  # a refused call changes nothing
        elif case.method != "GET":
            assert _state(api) != before, party


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/rounds", {"name": "第一轮", "demand_ids": [1], "expert_ids": [1], "team_ids": [1]}),
        ("/assignments", {"team_ids": [1]}),
    ],
)
def test_rounds_and_assignments_refuse_a_team_id_with_422_naming_it(api: Api, path: str, body: dict) -> None:
    response = api.client.post(path, json=body, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert "body.team_ids" in [e["field"] for e in response.json()["errors"]]
