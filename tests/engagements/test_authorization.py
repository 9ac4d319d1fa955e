"""Every engagement route × every kind of caller → the status SPEC §6.2 and the workflow rules promise."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from tests.factories import ADMIN, Api, bearer

PARTIES = ("admin", "owner_enterprise", "other_enterprise", "own_expert", "other_expert", "no_key", "revoked_key")


@dataclass
class World:
    """Enterprise A owns every demand; specialist X ("own") has an offered, an active and a completed engagement,
    a pending interest in `wanted`; A has a pending interest in X for `courted`; `free` is untouched."""

    ids: dict[str, int]
    headers: dict[str, dict[str, str]]


@pytest.fixture
def world(api: Api) -> World:
    client = api.client
    a = api.enterprise(name="沈阳示范企业")
    b = api.enterprise(name="大连示范企业")
    x = api.expert(name="张伟", capacity=6)
    y = api.expert(name="王芳")
    demands = {
        name: api.demand(a["id"], title=name, headcount=2)["id"]
        for name in ("offer", "active", "done", "free", "wanted", "courted")
    }

    def select(demand: str) -> int:
        response = client.post(f"/demands/{demands[demand]}/selections", json={"expert_id": x["id"]}, headers=ADMIN)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    offered, active, done = select("offer"), select("active"), select("done")
    for engagement, steps in ((active, ["accept"]), (done, ["accept", "complete"])):
        for step in steps:
            assert client.post(f"/engagements/{engagement}/{step}", headers=ADMIN).status_code == 200
    response = client.post(f"/experts/{x['id']}/interests", json={"demand_id": demands["wanted"]}, headers=ADMIN)
    assert response.status_code == 201
    response = client.post(f"/demands/{demands['courted']}/interests", json={"expert_id": x["id"]}, headers=ADMIN)
    assert response.status_code == 201
    revoked = api.key("enterprise", enterprise_id=a["id"])
    assert client.delete(f"/keys/{revoked['id']}", headers=ADMIN).status_code == 200
    headers = {
        "admin": ADMIN,
        "owner_enterprise": api.headers("enterprise", enterprise_id=a["id"]),
        "other_enterprise": api.headers("enterprise", enterprise_id=b["id"]),
        "own_expert": api.headers("expert", expert_id=x["id"]),
        "other_expert": api.headers("expert", expert_id=y["id"]),
        "no_key": {},
        "revoked_key": bearer(revoked["key"]),
    }
    ids = {"x": x["id"], "offered": offered, "active": active, "done": done, **demands}
    return World(ids=ids, headers=headers)


Body = Callable[[World], Any] | None


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    expected: tuple[int, int, int, int, int, int, int]  # in PARTIES order
    body: Body = None


OK, CREATED, GONE, DENY, ANON = 200, 201, 204, 403, 401


def _log(w: World) -> dict:
    return {"date": date.today().isoformat(), "hours": 2, "summary": "现场服务"}


ROUTES: list[Case] = [
    # admin, owner ent, other ent, own expert, other expert, no key, revoked key
    Case(
        "POST",
        "/demands/{free}/selections",
        (CREATED, CREATED, DENY, DENY, DENY, ANON, ANON),
        lambda w: {"expert_id": w.ids["x"]},
    ),
    Case("GET", "/engagements", (OK, OK, OK, OK, OK, ANON, ANON)),
    Case("GET", "/engagements/{active}", (OK, OK, DENY, OK, DENY, ANON, ANON)),
    Case("POST", "/engagements/{offered}/accept", (OK, DENY, DENY, OK, DENY, ANON, ANON)),
    Case("POST", "/engagements/{offered}/decline", (OK, DENY, DENY, OK, DENY, ANON, ANON)),
    Case("POST", "/engagements/{active}/complete", (OK, OK, DENY, DENY, DENY, ANON, ANON)),
    Case("POST", "/engagements/{active}/terminate", (OK, OK, DENY, OK, DENY, ANON, ANON)),
    Case("POST", "/engagements/{active}/logs", (CREATED, DENY, DENY, CREATED, DENY, ANON, ANON), _log),
    Case("GET", "/engagements/{active}/logs", (OK, OK, DENY, OK, DENY, ANON, ANON)),
    Case(
        "POST",
        "/engagements/{done}/rating",
        (CREATED, CREATED, DENY, DENY, DENY, ANON, ANON),
        lambda w: {"rating": 5, "comment": "满意"},
    ),
    Case(
        "POST",
        "/demands/{free}/interests",
        (CREATED, CREATED, DENY, DENY, DENY, ANON, ANON),
        lambda w: {"expert_id": w.ids["x"]},
    ),
    Case("GET", "/demands/{free}/interests", (OK, OK, DENY, DENY, DENY, ANON, ANON)),
    Case("DELETE", "/demands/{courted}/interests/{x}", (GONE, GONE, DENY, DENY, DENY, ANON, ANON)),
    Case(
        "POST",
        "/experts/{x}/interests",
        (CREATED, DENY, DENY, CREATED, DENY, ANON, ANON),
        lambda w: {"demand_id": w.ids["free"]},
    ),
    Case("GET", "/experts/{x}/interests", (OK, DENY, DENY, OK, DENY, ANON, ANON)),
    Case("DELETE", "/experts/{x}/interests/{wanted}", (GONE, DENY, DENY, GONE, DENY, ANON, ANON)),
    Case("GET", "/audit", (OK, DENY, DENY, DENY, DENY, ANON, ANON)),
]

PARAMS = [
    pytest.param(case, party, case.expected[i], id=f"{case.method} {case.path} as {party}")
    for case in ROUTES
    for i, party in enumerate(PARTIES)
]


@pytest.mark.parametrize(("case", "party", "expected"), PARAMS)
def test_engagement_route_answers_each_party_as_the_rules_say(
    client, world: World, case: Case, party: str, expected: int
) -> None:
    kwargs: dict[str, Any] = {"headers": world.headers[party]}
    if case.body is not None:
        kwargs["json"] = case.body(world)
    before = client.get("/audit", headers=ADMIN).json()["total"]
    response = client.request(case.method, case.path.format(**world.ids), **kwargs)
    assert response.status_code == expected, response.text
    if expected >= 400:
        problem = response.json()
        assert problem["status"] == expected and problem["type"].startswith("https://")
        assert client.get("/audit", headers=ADMIN).json()["total"] == before, "a refused call changed something"
