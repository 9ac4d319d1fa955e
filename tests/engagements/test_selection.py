"""Enterprise selection and the invariants of SPEC §2 it must respect."""

from __future__ import annotations

import pytest

from tests.engagements.conftest import Parties
from tests.factories import ADMIN


def test_selecting_a_specialist_answers_201_with_an_offered_engagement(parties: Parties) -> None:
    suggested = parties.client.get(
        f"/demands/{parties.demand['id']}/suggestions", params={"include_excluded": True}, headers=ADMIN
    ).json()["items"]
    expected = next(s["score"] for s in suggested if s["expert_id"] == parties.expert_x["id"])
    response = parties.select()
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "offered" and body["mode"] == "enterprise_selection"
    assert body["demand_id"] == parties.demand["id"] and body["expert_id"] == parties.expert_x["id"]
    assert body["enterprise_id"] == parties.enterprise_a["id"]
    assert body["score"] == expected and body["started_at"] is None and body["ended_at"] is None
    assert body["round_id"] is None and body["assignment_id"] is None and body["rating"] is None
    assert body["version"] == 1 and body["created_at"].endswith("Z")
    fetched = parties.client.get(f"/engagements/{body['id']}", headers=parties.ent_a)
    assert fetched.status_code == 200 and fetched.json() == body


def test_an_administrator_selects_on_an_enterprises_behalf(parties: Parties) -> None:
    response = parties.select(headers=ADMIN)
    assert response.status_code == 201 and response.json()["status"] == "offered"


def test_selecting_a_full_specialist_answers_409(parties: Parties) -> None:
    api = parties.api
    lonely = api.expert(name="满负荷专家", capacity=1)
    parties.offered(expert_id=lonely["id"])
    second = api.demand(parties.enterprise_a["id"], title="第二个需求")
    response = parties.select(demand_id=second["id"], expert_id=lonely["id"])
    assert response.status_code == 409
    problem = response.json()
    assert problem["code"] == "expert-capacity-full" and problem["type"].endswith("/expert-capacity-full")
    assert problem["expert_id"] == lonely["id"] and problem["capacity"] == 1 and problem["load"] == 1


def test_capacity_counts_offered_and_active_but_not_past_engagements(parties: Parties) -> None:
    api = parties.api
    expert = api.expert(name="双容量专家", capacity=2)
    demands = [api.demand(parties.enterprise_a["id"], title=f"需求{i}") for i in range(4)]
    parties.offered(demand_id=demands[0]["id"], expert_id=expert["id"])
    parties.active(demand_id=demands[1]["id"], expert_id=expert["id"])
    full = parties.select(demand_id=demands[2]["id"], expert_id=expert["id"])
    assert full.status_code == 409 and full.json()["code"] == "expert-capacity-full"
    engagements = parties.client.get(f"/engagements?expert_id={expert['id']}&status=active", headers=ADMIN).json()
    assert parties.move(engagements["items"][0]["id"], "complete").status_code == 200
    assert parties.select(demand_id=demands[2]["id"], expert_id=expert["id"]).status_code == 201


def test_selecting_beyond_the_headcount_answers_409(parties: Parties) -> None:
    parties.offered()
    response = parties.select(expert_id=parties.expert_y["id"])
    assert response.status_code == 409
    problem = response.json()
    assert problem["code"] == "demand-headcount-full" and problem["headcount"] == 1 and problem["filled"] == 1


def test_selecting_the_same_specialist_twice_answers_409(parties: Parties) -> None:
    parties.client.patch(f"/demands/{parties.demand['id']}", json={"headcount": 3}, headers=ADMIN)
    first = parties.offered()
    response = parties.select()
    assert response.status_code == 409
    assert response.json()["code"] == "pair-already-engaged" and response.json()["engagement_id"] == first["id"]


def test_a_declined_pair_may_be_selected_again(parties: Parties) -> None:
    first = parties.offered()
    assert parties.move(first["id"], "decline", headers=parties.exp_x).status_code == 200
    again = parties.select()
    assert again.status_code == 201 and again.json()["id"] != first["id"]


def test_selecting_a_specialist_with_a_conflict_of_interest_answers_409(parties: Parties) -> None:
    conflicted = parties.api.expert(name="回避专家", conflicts=[parties.enterprise_a["id"]])
    response = parties.select(expert_id=conflicted["id"])
    assert response.status_code == 409
    problem = response.json()
    assert problem["code"] == "conflict-of-interest" and problem["enterprise_id"] == parties.enterprise_a["id"]


def test_selecting_a_specialist_of_an_origin_the_demand_excludes_answers_409(parties: Parties) -> None:
    demand = parties.api.demand(parties.enterprise_a["id"], accepted_origins=["in_province"])
    response = parties.select(demand_id=demand["id"], expert_id=parties.expert_y["id"])
    assert response.status_code == 409
    problem = response.json()
    assert problem["code"] == "origin-not-accepted" and problem["expert_origin"] == "foreign"
    assert parties.select(demand_id=demand["id"], expert_id=parties.expert_x["id"]).status_code == 201


def test_selecting_an_inactive_specialist_answers_409(parties: Parties) -> None:
    inactive = parties.api.expert(name="休假专家", active=False)
    response = parties.select(expert_id=inactive["id"])
    assert response.status_code == 409 and response.json()["code"] == "expert-inactive"


@pytest.mark.parametrize("status", ["draft", "cancelled"])
def test_selecting_for_a_demand_that_is_not_open_answers_409(parties: Parties, status: str) -> None:
    demand = parties.api.demand(parties.enterprise_a["id"], status="draft")
    if status == "cancelled":
        parties.client.patch(f"/demands/{demand['id']}", json={"status": "cancelled"}, headers=ADMIN)
    response = parties.select(demand_id=demand["id"])
    assert response.status_code == 409
    assert response.json()["code"] == "demand-not-open" and response.json()["demand_status"] == status


def test_selecting_a_specialist_that_does_not_exist_answers_422_naming_the_field(parties: Parties) -> None:
    response = parties.select(expert_id=999_999)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.expert_id"


def test_selecting_for_a_demand_that_does_not_exist_answers_404(parties: Parties) -> None:
    response = parties.client.post("/demands/999999/selections", json={"expert_id": 1}, headers=ADMIN)
    assert response.status_code == 404


def test_a_refused_selection_changes_nothing(parties: Parties) -> None:
    parties.offered()
    before = parties.client.get("/engagements", headers=ADMIN).json()
    audit_before = parties.client.get("/audit", headers=ADMIN).json()["total"]
    assert parties.select(expert_id=parties.expert_y["id"]).status_code == 409
    assert parties.client.get("/engagements", headers=ADMIN).json() == before
    assert parties.client.get("/audit", headers=ADMIN).json()["total"] == audit_before
