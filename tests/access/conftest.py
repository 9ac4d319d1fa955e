"""A small world of parties and their keys, for access-control tests."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.factories import ADMIN, Api, bearer

PARTIES = ("admin", "owner_enterprise", "other_enterprise", "own_expert", "other_expert", "no_key", "revoked_key")
# The dispatching unit of expert X (SPEC §7.2); a Case says what it gets where that differs from "other_expert".
UNIT_PARTY = "unit"


@dataclass
class World:
    """Two enterprises (A owns the demands), two specialists (X is 'own'), and a key for every party."""

    enterprise_a: dict
    enterprise_b: dict
    expert_x: dict
    expert_y: dict
    open_demand: dict
    draft_demand: dict
    spare_key: dict
    headers: dict[str, dict[str, str]]
    unit: dict | None = None

    def ids(self) -> dict[str, int]:
        return {
            "enterprise_a": self.enterprise_a["id"],
            "enterprise_b": self.enterprise_b["id"],
            "expert_x": self.expert_x["id"],
            "expert_y": self.expert_y["id"],
            "open_demand": self.open_demand["id"],
            "draft_demand": self.draft_demand["id"],
            "spare_key": self.spare_key["id"],
            "unit": self.unit["id"] if self.unit else 0,
        }


@pytest.fixture
def world(api: Api) -> World:
    enterprise_a = api.enterprise(name="沈阳新松机器人示范企业")
    enterprise_b = api.enterprise(name="鞍山钢铁示范企业", region="鞍山市")
    expert_x = api.expert(name="张伟")
    expert_y = api.expert(name="Anna Schmidt", origin="foreign", region="Munich, Germany")
    open_demand = api.demand(enterprise_a["id"])
    draft_demand = api.demand(enterprise_a["id"], status="draft", title="草稿需求")
    revoked = api.key("enterprise", enterprise_id=enterprise_a["id"])
    response = api.client.delete(f"/keys/{revoked['id']}", headers=ADMIN)
    assert response.status_code == 200
    headers = {
        "admin": ADMIN,
        "owner_enterprise": api.headers("enterprise", enterprise_id=enterprise_a["id"]),
        "other_enterprise": api.headers("enterprise", enterprise_id=enterprise_b["id"]),
        "own_expert": api.headers("expert", expert_id=expert_x["id"]),
        "other_expert": api.headers("expert", expert_id=expert_y["id"]),
        "no_key": {},
        "revoked_key": bearer(revoked["key"]),
    }
    spare_key = api.key("expert", expert_id=expert_y["id"])
    unit = api.client.post("/units", json={"name": "东北大学", "region": "沈阳市"}, headers=ADMIN).json()
    headers[UNIT_PARTY] = api.headers("unit", unit_id=unit["id"])
    return World(enterprise_a, enterprise_b, expert_x, expert_y, open_demand, draft_demand, spare_key, headers, unit)
