"""Every issue-ledger, voucher and assessment route × every kind of caller → the status SPEC §8 access rules promise.

The world of tests/access (enterprise A owns the demands, specialist X is 'own') gains an active engagement of X on
A's open demand with an open issue, and a resolved issue for confirm/reopen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.access.conftest import PARTIES, World
from tests.factories import ADMIN

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
    return {**base, "engagement": engagement["id"], "issue": issue["id"], "resolved_issue": resolved["id"]}


PARAMS = [
    pytest.param(case, party, case.expected[i], id=f"{case.method} {case.path} as {party}")
    for case in ROUTES
    for i, party in enumerate(PARTIES)
]


@pytest.mark.parametrize(("case", "party", "expected"), PARAMS)
def test_incentive_route_answers_each_party_as_the_access_rules_say(
    client, world: World, ids: dict[str, int], case: Case, party: str, expected: int
) -> None:
    path = case.path.format(**ids)
    kwargs: dict[str, Any] = {"headers": world.headers[party]}
    if case.body is not None:
        kwargs["json"] = case.body(ids)
    response = client.request(case.method, path, **kwargs)
    assert response.status_code == expected, response.text
    if expected >= 400:
        problem = response.json()
        assert problem["status"] == expected and problem["type"].startswith("https://")
