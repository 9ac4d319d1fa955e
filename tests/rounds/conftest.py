"""Two enterprises with one demand each, two specialists of capacity 1, keys for all, and round helpers."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from tests.factories import ADMIN, Api


@dataclass
class Market:
    api: Api
    ent_a: dict
    ent_b: dict
    d1: dict  # enterprise A's
    d2: dict  # enterprise B's
    e1: dict
    e2: dict
    key_a: dict[str, str]
    key_b: dict[str, str]
    key_e1: dict[str, str]
    key_e2: dict[str, str]

    @property
    def client(self) -> TestClient:
        return self.api.client

    def open_round(self, **over: object) -> dict:
        body = {
            "name": "2024年第一批揭榜对接",
            "demand_ids": [self.d1["id"], self.d2["id"]],
            "expert_ids": [self.e1["id"], self.e2["id"]],
            **over,
        }
        response = self.client.post("/rounds", json=body, headers=ADMIN)
        assert response.status_code == 201, response.text
        return response.json()

    def rank_for_demand(
        self, round_id: int, demand_id: int, ranking: list[int], headers: dict | None = None
    ) -> Response:
        return self.client.put(
            f"/rounds/{round_id}/preferences/demands/{demand_id}", json=ranking, headers=headers or ADMIN
        )

    def rank_for_expert(
        self, round_id: int, expert_id: int, ranking: list[int], headers: dict | None = None
    ) -> Response:
        return self.client.put(
            f"/rounds/{round_id}/preferences/experts/{expert_id}", json=ranking, headers=headers or ADMIN
        )

    def close(self, round_id: int) -> Response:
        return self.client.post(f"/rounds/{round_id}/close", headers=ADMIN)

    def crossed_preferences(self, round_id: int) -> None:
        """Specialists prefer e1→d1, e2→d2; demands prefer the other one: the two sides' optima differ."""
        e1, e2, d1, d2 = self.e1["id"], self.e2["id"], self.d1["id"], self.d2["id"]
        for response in (
            self.rank_for_expert(round_id, e1, [d1, d2], self.key_e1),
            self.rank_for_expert(round_id, e2, [d2, d1], self.key_e2),
            self.rank_for_demand(round_id, d1, [e2, e1], self.key_a),
            self.rank_for_demand(round_id, d2, [e1, e2], self.key_b),
        ):
            assert response.status_code == 200, response.text


@pytest.fixture
def market(api: Api) -> Market:
    ent_a = api.enterprise(name="沈阳示范企业甲")
    ent_b = api.enterprise(name="大连示范企业乙")
    d1 = api.demand(ent_a["id"], title="数控机床热误差补偿")
    d2 = api.demand(ent_b["id"], title="轴承早期故障诊断")
    e1 = api.expert(name="专家一", capacity=1)
    e2 = api.expert(name="专家二", capacity=1)
    return Market(
        api=api,
        ent_a=ent_a,
        ent_b=ent_b,
        d1=d1,
        d2=d2,
        e1=e1,
        e2=e2,
        key_a=api.headers("enterprise", enterprise_id=ent_a["id"]),
        key_b=api.headers("enterprise", enterprise_id=ent_b["id"]),
        key_e1=api.headers("expert", expert_id=e1["id"]),
        key_e2=api.headers("expert", expert_id=e2["id"]),
    )
