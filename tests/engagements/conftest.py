"""Parties, keys and shortcuts for the engagement workflows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import ADMIN, Api, bearer


@dataclass
class Parties:
    """Enterprise A (owns the demand) and B, specialists X and Y, one open demand of A, and a key for each."""

    api: Api
    enterprise_a: dict
    enterprise_b: dict
    expert_x: dict
    expert_y: dict
    demand: dict
    ent_a: dict[str, str]
    ent_b: dict[str, str]
    exp_x: dict[str, str]
    exp_y: dict[str, str]

    @property
    def client(self) -> TestClient:
        return self.api.client

    def select(self, demand_id: int | None = None, expert_id: int | None = None, headers: dict | None = None):
        """POST a selection (as enterprise A unless told otherwise) and return the response."""
        return self.client.post(
            f"/demands/{demand_id or self.demand['id']}/selections",
            json={"expert_id": expert_id or self.expert_x["id"]},
            headers=headers or self.ent_a,
        )

    def offered(self, **kwargs: Any) -> dict:
        response = self.select(**kwargs)
        assert response.status_code == 201, response.text
        return response.json()

    def move(self, engagement_id: int, action: str, headers: dict | None = None, **body: Any):
        return self.client.post(f"/engagements/{engagement_id}/{action}", json=body or None, headers=headers or ADMIN)

    def active(self, **kwargs: Any) -> dict:
        engagement = self.offered(**kwargs)
        response = self.move(engagement["id"], "accept")
        assert response.status_code == 200, response.text
        return response.json()

    def completed(self, **kwargs: Any) -> dict:
        engagement = self.active(**kwargs)
        response = self.move(engagement["id"], "complete")
        assert response.status_code == 200, response.text
        return response.json()

    def demand_now(self, demand_id: int | None = None) -> dict:
        return self.client.get(f"/demands/{demand_id or self.demand['id']}", headers=ADMIN).json()

    def audit(self, entity: str, entity_id: int) -> list[dict]:
        response = self.client.get(f"/audit?entity={entity}&entity_id={entity_id}", headers=ADMIN)
        assert response.status_code == 200, response.text
        return response.json()["items"]


@pytest.fixture
def parties(api: Api) -> Parties:
    enterprise_a = api.enterprise(name="沈阳机床示范企业")
    enterprise_b = api.enterprise(name="鞍钢示范企业", region="鞍山市")
    expert_x = api.expert(name="张伟", capacity=2)
    expert_y = api.expert(name="Anna Schmidt", origin="foreign", region="Munich")
    demand = api.demand(enterprise_a["id"])
    return Parties(
        api=api,
        enterprise_a=enterprise_a,
        enterprise_b=enterprise_b,
        expert_x=expert_x,
        expert_y=expert_y,
        demand=demand,
        ent_a=api.headers("enterprise", enterprise_id=enterprise_a["id"]),
        ent_b=api.headers("enterprise", enterprise_id=enterprise_b["id"]),
        exp_x=api.headers("expert", expert_id=expert_x["id"]),
        exp_y=api.headers("expert", expert_id=expert_y["id"]),
    )


__all__ = ["ADMIN", "Parties", "bearer"]
