"""A small world for suggestions: one enterprise's bearing-diagnosis demand and specialists near and far from it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from service.main import create_app
from tests.factories import ADMIN, Api


@dataclass
class World:
    api: Api
    enterprise: dict
    other_enterprise: dict
    demand: dict
    strong: dict  # bearings, fault diagnosis, deep learning
    weak: dict  # vibration signal processing only
    unrelated: dict  # organic chemistry

    @property
    def client(self) -> TestClient:
        return self.api.client

    def experts_for(self, demand_id: int | None = None, client: TestClient | None = None, **params: object) -> dict:
        response = (client or self.client).get(
            f"/demands/{demand_id or self.demand['id']}/suggestions", params=params, headers=ADMIN
        )
        assert response.status_code == 200, response.text
        return response.json()

    def demands_for(self, expert_id: int, client: TestClient | None = None, **params: object) -> dict:
        response = (client or self.client).get(f"/experts/{expert_id}/suggestions", params=params, headers=ADMIN)
        assert response.status_code == 200, response.text
        return response.json()


def ids(page: dict, key: str = "expert_id") -> list[int]:
    return [item[key] for item in page["items"]]


@pytest.fixture
def world(api: Api) -> World:
    enterprise = api.enterprise(name="瓦房店轴承示范企业")
    other = api.enterprise(name="抚顺石化示范企业", region="抚顺市", industry="石油化工")
    demand = api.demand(enterprise["id"])
    strong = api.expert(name="李明")
    weak = api.expert(
        name="赵强",
        fields=["振动信号处理"],
        keywords=["振动分析"],
        bio="从事振动测试。",
        achievements="",
        region="沈阳市",
    )
    unrelated = api.expert(
        name="王芳",
        fields=["有机化学"],
        keywords=["催化剂", "合成"],
        bio="研究石油化工催化剂。",
        achievements="发表论文30篇。",
    )
    return World(api, enterprise, other, demand, strong, weak, unrelated)


@pytest.fixture
def second_client(settings) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """Another worker: its own app, engine and matcher over the same database."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client
