"""How engagements link records: contact details, reading demands, refusing deletion, listing by party."""

from __future__ import annotations

import pytest

from tests.engagements.conftest import Parties
from tests.factories import ADMIN


def expert_contact(parties: Parties, headers: dict) -> dict | None:
    return parties.client.get(f"/experts/{parties.expert_x['id']}", headers=headers).json()["contact"]


def enterprise_contact(parties: Parties, headers: dict) -> dict | None:
    return parties.client.get(f"/enterprises/{parties.enterprise_a['id']}", headers=headers).json()["contact"]


def test_contact_details_are_hidden_from_strangers(parties: Parties) -> None:
    assert expert_contact(parties, parties.ent_a) is None
    assert enterprise_contact(parties, parties.exp_x) is None


@pytest.mark.parametrize("state", ["offered", "active", "completed", "declined"])
def test_the_other_side_of_a_live_or_past_engagement_sees_contact_details(parties: Parties, state: str) -> None:
    engagement = parties.offered()
    steps = {"active": ["accept"], "completed": ["accept", "complete"], "declined": ["decline"]}.get(state, [])
    for step in steps:
        parties.move(engagement["id"], step)
    assert expert_contact(parties, parties.ent_a) == parties.expert_x["contact"]
    assert enterprise_contact(parties, parties.exp_x) == parties.enterprise_a["contact"]
    # Nobody else gains anything.
    assert expert_contact(parties, parties.ent_b) is None
    assert enterprise_contact(parties, parties.exp_y) is None
    assert parties.client.get(f"/experts/{parties.expert_x['id']}", headers=parties.ent_a).json()["conflicts"] is None


def test_a_specialist_still_reads_a_demand_they_are_engaged_on_once_it_is_no_longer_open(parties: Parties) -> None:
    parties.active()
    assert parties.demand_now()["status"] == "matched"
    path = f"/demands/{parties.demand['id']}"
    assert parties.client.get(path, headers=parties.exp_x).status_code == 200
    assert parties.client.get(path, headers=parties.exp_y).status_code == 403
    assert parties.client.get(path, headers=parties.ent_b).status_code == 403


def test_deleting_a_demand_with_live_engagements_answers_409(parties: Parties) -> None:
    parties.offered()
    response = parties.client.delete(f"/demands/{parties.demand['id']}", headers=parties.ent_a)
    assert response.status_code == 409
    assert response.json()["code"] == "demand-has-live-engagements" and response.json()["live_engagements"] == 1
    assert parties.client.get(f"/demands/{parties.demand['id']}", headers=ADMIN).status_code == 200


def test_deleting_a_specialist_with_live_engagements_answers_409(parties: Parties) -> None:
    parties.active()
    response = parties.client.delete(f"/experts/{parties.expert_x['id']}", headers=ADMIN)
    assert response.status_code == 409 and response.json()["code"] == "expert-has-live-engagements"


def test_deleting_an_enterprise_whose_demand_has_live_engagements_answers_409(parties: Parties) -> None:
    parties.offered()
    response = parties.client.delete(f"/enterprises/{parties.enterprise_a['id']}", headers=ADMIN)
    assert response.status_code == 409 and response.json()["code"] == "demand-has-live-engagements"
    assert parties.client.get(f"/enterprises/{parties.enterprise_a['id']}", headers=ADMIN).status_code == 200


@pytest.mark.parametrize("record", ["demand", "expert", "enterprise"])
def test_past_engagements_go_with_a_deleted_record_and_stay_in_the_audit_trail(parties: Parties, record: str) -> None:
    done = parties.completed()
    parties.client.post(
        f"/demands/{parties.demand['id']}/interests", json={"expert_id": parties.expert_y["id"]}, headers=ADMIN
    )
    path = {
        "demand": f"/demands/{parties.demand['id']}",
        "expert": f"/experts/{parties.expert_x['id']}",
        "enterprise": f"/enterprises/{parties.enterprise_a['id']}",
    }[record]
    assert parties.client.delete(path, headers=ADMIN).status_code == 204
    assert parties.client.get(f"/engagements/{done['id']}", headers=ADMIN).status_code == 404
    assert [e["action"] for e in parties.audit("engagement", done["id"])] == ["created", "accepted", "completed"]


def test_each_party_lists_only_its_own_engagements(parties: Parties) -> None:
    api = parties.api
    demand_b = api.demand(parties.enterprise_b["id"], title="鞍钢需求")
    mine = parties.offered()
    theirs = parties.offered(demand_id=demand_b["id"], expert_id=parties.expert_y["id"], headers=parties.ent_b)

    def ids(headers: dict, query: str = "") -> list[int]:
        response = parties.client.get(f"/engagements{query}", headers=headers)
        assert response.status_code == 200
        return [e["id"] for e in response.json()["items"]]

    assert ids(ADMIN) == [mine["id"], theirs["id"]]
    assert ids(parties.ent_a) == [mine["id"]]
    assert ids(parties.ent_b) == [theirs["id"]]
    assert ids(parties.exp_x) == [mine["id"]]
    assert ids(parties.exp_y) == [theirs["id"]]
    assert ids(parties.ent_a, f"?enterprise_id={parties.enterprise_b['id']}") == []
    assert ids(ADMIN, f"?enterprise_id={parties.enterprise_b['id']}") == [theirs["id"]]
    assert ids(ADMIN, f"?demand_id={parties.demand['id']}") == [mine["id"]]
    assert ids(ADMIN, f"?expert_id={parties.expert_y['id']}") == [theirs["id"]]
    assert ids(ADMIN, "?status=active") == []
    assert ids(ADMIN, "?mode=enterprise_selection&status=offered") == [mine["id"], theirs["id"]]
    assert ids(ADMIN, "?mode=round") == []
    page = parties.client.get("/engagements?limit=1&offset=1", headers=ADMIN).json()
    assert page["total"] == 2 and [e["id"] for e in page["items"]] == [theirs["id"]]
    assert parties.client.get(f"/engagements/{theirs['id']}", headers=parties.ent_a).status_code == 403


@pytest.mark.parametrize("query", ["status=pending", "mode=solo", "demand_id=0", "expert_id=x", "limit=0", "limit=201"])
def test_bad_list_filters_answer_422(parties: Parties, query: str) -> None:
    assert parties.client.get(f"/engagements?{query}", headers=ADMIN).status_code == 422


def test_headcount_cannot_go_below_live_engagements_and_changing_it_moves_the_status(parties: Parties) -> None:
    path = f"/demands/{parties.demand['id']}"
    assert parties.client.patch(path, json={"headcount": 2}, headers=ADMIN).status_code == 200
    first = parties.active()
    parties.offered(expert_id=parties.expert_y["id"])
    refused = parties.client.patch(path, json={"headcount": 1}, headers=ADMIN)
    assert refused.status_code == 409 and refused.json()["code"] == "headcount-below-engaged"
    assert parties.demand_now()["headcount"] == 2
    # Declining the offer leaves one active engagement: headcount 1 now fills the demand, 3 reopens it.
    assert parties.move(first["id"] + 1, "decline").status_code == 200
    assert parties.client.patch(path, json={"headcount": 1}, headers=ADMIN).json()["status"] == "matched"
    assert parties.client.patch(path, json={"headcount": 3}, headers=ADMIN).json()["status"] == "open"


def test_capacity_cannot_go_below_a_specialists_live_engagements(parties: Parties) -> None:
    path = f"/experts/{parties.expert_x['id']}"
    parties.offered()
    second = parties.offered(demand_id=parties.api.demand(parties.enterprise_a["id"])["id"])
    refused = parties.client.patch(path, json={"capacity": 1}, headers=ADMIN)
    assert refused.status_code == 409 and refused.json()["code"] == "capacity-below-load"
    assert parties.client.get(path, headers=ADMIN).json()["capacity"] == 2
    parties.move(second["id"], "decline")
    assert parties.client.patch(path, json={"capacity": 1}, headers=ADMIN).status_code == 200


def test_cancelling_a_demand_declines_its_offers_but_is_refused_while_a_specialist_is_active(parties: Parties) -> None:
    path = f"/demands/{parties.demand['id']}"
    assert parties.client.patch(path, json={"headcount": 2}, headers=ADMIN).status_code == 200
    active = parties.active()
    offer = parties.offered(expert_id=parties.expert_y["id"])
    refused = parties.client.patch(path, json={"status": "cancelled"}, headers=parties.ent_a)
    assert refused.status_code == 409 and refused.json()["code"] == "demand-has-active-engagements"
    assert parties.demand_now()["status"] == "open"
    assert parties.move(active["id"], "terminate").status_code == 200
    assert (
        parties.client.patch(path, json={"status": "cancelled"}, headers=parties.ent_a).json()["status"] == "cancelled"
    )
    declined = parties.client.get(f"/engagements/{offer['id']}", headers=ADMIN).json()
    assert declined["status"] == "declined"
    trail = parties.audit("engagement", offer["id"])
    assert trail[-1]["action"] == "declined" and trail[-1]["detail"] == {"reason": "demand cancelled"}
