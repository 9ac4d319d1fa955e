"""Mutual selection: interests from both sides, the engagement they open, withdrawal, and the lists."""

from __future__ import annotations

from tests.engagements.conftest import Parties
from tests.factories import ADMIN


def enterprise_interest(parties: Parties, demand_id: int | None = None, expert_id: int | None = None, headers=None):
    return parties.client.post(
        f"/demands/{demand_id or parties.demand['id']}/interests",
        json={"expert_id": expert_id or parties.expert_x["id"]},
        headers=headers or parties.ent_a,
    )


def expert_interest(parties: Parties, demand_id: int | None = None, expert_id: int | None = None, headers=None):
    return parties.client.post(
        f"/experts/{expert_id or parties.expert_x['id']}/interests",
        json={"demand_id": demand_id or parties.demand["id"]},
        headers=headers or parties.exp_x,
    )


def test_one_sided_interest_answers_201_without_an_engagement(parties: Parties) -> None:
    response = enterprise_interest(parties)
    assert response.status_code == 201
    body = response.json()
    assert body["engagement"] is None
    interest = body["interest"]
    assert interest["side"] == "enterprise" and interest["status"] == "pending"
    assert interest["demand_id"] == parties.demand["id"] and interest["expert_id"] == parties.expert_x["id"]
    assert parties.client.get("/engagements", headers=ADMIN).json()["total"] == 0


def test_interest_from_both_sides_opens_an_active_engagement_at_once(parties: Parties) -> None:
    assert expert_interest(parties).status_code == 201
    response = enterprise_interest(parties)
    assert response.status_code == 201
    body = response.json()
    engagement = body["engagement"]
    assert engagement["status"] == "active" and engagement["mode"] == "mutual_selection"
    assert engagement["started_at"] is not None and 0 < engagement["score"] <= 1
    assert body["interest"]["status"] == "matched" and body["interest"]["engagement_id"] == engagement["id"]
    listed = parties.client.get(f"/demands/{parties.demand['id']}/interests", headers=parties.ent_a).json()
    assert listed["total"] == 2
    assert {i["side"] for i in listed["items"]} == {"enterprise", "expert"}
    assert all(i["engagement_id"] == engagement["id"] for i in listed["items"])
    assert parties.demand_now()["status"] == "matched"


def test_a_duplicate_interest_answers_409(parties: Parties) -> None:
    first = expert_interest(parties).json()["interest"]
    response = expert_interest(parties)
    assert response.status_code == 409
    assert response.json()["code"] == "duplicate-interest" and response.json()["interest_id"] == first["id"]


def test_interest_in_an_already_engaged_pair_answers_409(parties: Parties) -> None:
    parties.offered()
    response = expert_interest(parties)
    assert response.status_code == 409 and response.json()["code"] == "pair-already-engaged"


def test_interest_respects_the_invariants_and_records_nothing_when_refused(parties: Parties) -> None:
    lonely = parties.api.expert(name="容量一", capacity=1)
    other = parties.api.demand(parties.enterprise_a["id"], title="另一个需求")
    parties.offered(demand_id=other["id"], expert_id=lonely["id"])
    lonely_key = parties.api.headers("expert", expert_id=lonely["id"])
    assert expert_interest(parties, expert_id=lonely["id"], headers=lonely_key).status_code == 201
    response = enterprise_interest(parties, expert_id=lonely["id"])
    assert response.status_code == 409 and response.json()["code"] == "expert-capacity-full"
    listed = parties.client.get(f"/experts/{lonely['id']}/interests", headers=ADMIN).json()
    assert [i["side"] for i in listed["items"]] == ["expert"], "the refused interest was not kept"


def test_interest_with_a_conflict_of_interest_answers_409(parties: Parties) -> None:
    conflicted = parties.api.expert(name="回避", conflicts=[parties.enterprise_a["id"]])
    response = enterprise_interest(parties, expert_id=conflicted["id"])
    assert response.status_code == 409 and response.json()["code"] == "conflict-of-interest"


def test_interest_in_a_demand_that_is_not_open_answers_409(parties: Parties) -> None:
    draft = parties.api.demand(parties.enterprise_a["id"], status="draft")
    response = expert_interest(parties, demand_id=draft["id"])
    assert response.status_code == 409 and response.json()["code"] == "demand-not-open"


def test_interest_naming_a_missing_record_answers_422_or_404(parties: Parties) -> None:
    missing_expert = enterprise_interest(parties, expert_id=999_999)
    assert missing_expert.status_code == 422 and missing_expert.json()["errors"][0]["field"] == "body.expert_id"
    missing_demand = expert_interest(parties, demand_id=999_999)
    assert missing_demand.status_code == 422 and missing_demand.json()["errors"][0]["field"] == "body.demand_id"
    response = parties.client.post("/experts/999999/interests", json={"demand_id": 1}, headers=ADMIN)
    assert response.status_code == 404


def test_withdrawing_a_pending_interest_answers_204_then_404(parties: Parties) -> None:
    enterprise_interest(parties)
    path = f"/demands/{parties.demand['id']}/interests/{parties.expert_x['id']}"
    assert parties.client.delete(path, headers=parties.ent_a).status_code == 204
    assert parties.client.delete(path, headers=parties.ent_a).status_code == 404
    assert parties.client.get(f"/demands/{parties.demand['id']}/interests", headers=ADMIN).json()["total"] == 0
    # Withdrawn, it may be expressed again.
    assert enterprise_interest(parties).status_code == 201


def test_withdrawing_the_specialists_interest(parties: Parties) -> None:
    expert_interest(parties)
    path = f"/experts/{parties.expert_x['id']}/interests/{parties.demand['id']}"
    assert parties.client.delete(path, headers=parties.exp_x).status_code == 204
    response = enterprise_interest(parties)
    assert response.status_code == 201 and response.json()["engagement"] is None, "nothing left to match"


def test_withdrawing_a_matched_interest_answers_409(parties: Parties) -> None:
    expert_interest(parties)
    engagement = enterprise_interest(parties).json()["engagement"]
    path = f"/experts/{parties.expert_x['id']}/interests/{parties.demand['id']}"
    response = parties.client.delete(path, headers=parties.exp_x)
    assert response.status_code == 409
    assert (
        response.json()["code"] == "interest-already-matched" and response.json()["engagement_id"] == engagement["id"]
    )


def test_withdrawing_with_a_missing_record_answers_404(parties: Parties) -> None:
    assert parties.client.delete(f"/demands/{parties.demand['id']}/interests/999999", headers=ADMIN).status_code == 404
    assert parties.client.delete("/experts/999999/interests/1", headers=ADMIN).status_code == 404


def test_interest_lists_filter_by_side_and_status_and_page(parties: Parties) -> None:
    api = parties.api
    demands = [api.demand(parties.enterprise_a["id"], title=f"需求{i}", headcount=2) for i in range(3)]
    for demand in demands:
        expert_interest(parties, demand_id=demand["id"])
    enterprise_interest(parties, demand_id=demands[0]["id"])  # matches
    path = f"/experts/{parties.expert_x['id']}/interests"
    everything = parties.client.get(path, headers=parties.exp_x).json()
    assert everything["total"] == 4 and everything["limit"] == 50 and everything["offset"] == 0
    pending = parties.client.get(f"{path}?status=pending", headers=parties.exp_x).json()
    assert [i["demand_id"] for i in pending["items"]] == [demands[1]["id"], demands[2]["id"]]
    mine = parties.client.get(f"{path}?side=enterprise", headers=parties.exp_x).json()
    assert mine["total"] == 1 and mine["items"][0]["status"] == "matched"
    page = parties.client.get(f"{path}?limit=1&offset=1", headers=parties.exp_x).json()
    assert page["total"] == 4 and len(page["items"]) == 1 and page["items"][0]["id"] == everything["items"][1]["id"]
    assert parties.client.get(f"{path}?status=withdrawn", headers=parties.exp_x).status_code == 422


def test_after_an_engagement_ends_the_pair_may_express_interest_again(parties: Parties) -> None:
    expert_interest(parties)
    engagement = enterprise_interest(parties).json()["engagement"]
    assert parties.move(engagement["id"], "terminate", headers=parties.ent_a).status_code == 200
    again = expert_interest(parties)
    assert again.status_code == 201 and again.json()["engagement"] is None


def test_a_selection_settles_the_pairs_pending_interests(parties: Parties) -> None:
    expert_interest(parties)
    offered = parties.offered()
    listed = parties.client.get(f"/experts/{parties.expert_x['id']}/interests", headers=parties.exp_x).json()
    assert [(i["status"], i["engagement_id"]) for i in listed["items"]] == [("matched", offered["id"])]
    assert parties.move(offered["id"], "decline", headers=parties.exp_x).status_code == 200
    response = enterprise_interest(parties)
    assert response.status_code == 201 and response.json()["engagement"] is None, "a declined offer ends the interest"
