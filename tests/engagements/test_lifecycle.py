"""The engagement lifecycle: accept, decline, complete, terminate, service logs, the rating, the demand following."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.engagements.conftest import Parties
from tests.factories import ADMIN

TODAY = date.today().isoformat()


def test_accepting_an_offer_makes_it_active_and_matches_a_filled_demand(parties: Parties) -> None:
    offered = parties.offered()
    response = parties.move(offered["id"], "accept", headers=parties.exp_x)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "active" and body["started_at"] is not None and body["ended_at"] is None
    assert body["version"] == offered["version"] + 1
    assert parties.demand_now()["status"] == "matched"


def test_declining_an_offer_ends_it_and_leaves_the_demand_open(parties: Parties) -> None:
    offered = parties.offered()
    response = parties.move(offered["id"], "decline", headers=parties.exp_x, reason="日程冲突")
    assert response.status_code == 200
    assert response.json()["status"] == "declined" and response.json()["ended_at"] is not None
    assert parties.demand_now()["status"] == "open"


def test_the_demand_is_matched_only_when_active_engagements_fill_the_headcount(parties: Parties) -> None:
    demand = parties.api.demand(parties.enterprise_a["id"], headcount=2)
    first = parties.active(demand_id=demand["id"], expert_id=parties.expert_x["id"])
    assert parties.demand_now(demand["id"])["status"] == "open"
    second = parties.offered(demand_id=demand["id"], expert_id=parties.expert_y["id"])
    assert parties.demand_now(demand["id"])["status"] == "open", "an offer does not fill a place"
    parties.move(second["id"], "accept", headers=parties.exp_y)
    assert parties.demand_now(demand["id"])["status"] == "matched"
    assert parties.move(first["id"], "terminate", headers=parties.ent_a).json()["status"] == "terminated"
    assert parties.demand_now(demand["id"])["status"] == "open", "a terminated engagement reopens the demand"


def test_completing_keeps_the_demand_matched(parties: Parties) -> None:
    parties.completed()
    assert parties.demand_now()["status"] == "matched"


def test_terminating_reopens_a_matched_demand_only(parties: Parties) -> None:
    active = parties.active()
    closed = parties.client.patch(f"/demands/{parties.demand['id']}", json={"status": "closed"}, headers=ADMIN)
    assert closed.status_code == 200
    assert parties.move(active["id"], "terminate", headers=parties.exp_x).status_code == 200
    assert parties.demand_now()["status"] == "closed"


def test_an_offer_on_a_cancelled_demand_is_declined_and_cannot_be_accepted(parties: Parties) -> None:
    offered = parties.offered()
    parties.client.patch(f"/demands/{parties.demand['id']}", json={"status": "cancelled"}, headers=ADMIN)
    response = parties.move(offered["id"], "accept", headers=parties.exp_x)
    assert response.status_code == 409 and response.json()["code"] == "illegal-engagement-transition"


def test_declaring_a_conflict_with_an_offering_enterprise_answers_409_and_the_offer_stands(parties: Parties) -> None:
    # The offer is live: a conflict of interest with its enterprise is refused until it is declined (issue 12).
    offered = parties.offered()
    patch = {"conflicts": [parties.enterprise_a["id"]]}
    response = parties.client.patch(f"/experts/{parties.expert_x['id']}", json=patch, headers=ADMIN)
    assert response.status_code == 409 and response.json()["code"] == "conflict-with-live-engagement"
    assert response.json()["engagement_ids"] == [offered["id"]]
    response = parties.move(offered["id"], "accept", headers=parties.exp_x)
    assert response.status_code == 200


ILLEGAL = [
    ("offered", "complete", "completed"),
    ("offered", "terminate", "terminated"),
    ("active", "accept", "active"),
    ("active", "decline", "declined"),
    ("completed", "accept", "active"),
    ("completed", "terminate", "terminated"),
    ("completed", "complete", "completed"),
    ("declined", "accept", "active"),
    ("declined", "decline", "declined"),
    ("terminated", "complete", "completed"),
    ("terminated", "accept", "active"),
]


@pytest.mark.parametrize(("state", "action", "target"), ILLEGAL, ids=[f"{s}-{a}" for s, a, _ in ILLEGAL])
def test_an_illegal_move_answers_409_naming_both_states(parties: Parties, state: str, action: str, target: str) -> None:
    engagement = parties.offered()
    path = {
        "active": ["accept"],
        "completed": ["accept", "complete"],
        "declined": ["decline"],
        "terminated": ["accept", "terminate"],
    }.get(state, [])
    for step in path:
        assert parties.move(engagement["id"], step).status_code == 200
    before = parties.client.get(f"/engagements/{engagement['id']}", headers=ADMIN).json()
    response = parties.move(engagement["id"], action)
    assert response.status_code == 409
    problem = response.json()
    assert problem["code"] == "illegal-engagement-transition"
    assert problem["from_status"] == state and problem["to_status"] == target
    assert f"'{state}'" in problem["detail"] and f"'{target}'" in problem["detail"]
    assert parties.client.get(f"/engagements/{engagement['id']}", headers=ADMIN).json() == before


def test_moving_an_engagement_that_does_not_exist_answers_404(parties: Parties) -> None:
    assert parties.move(999_999, "accept").status_code == 404


# --- service logs ----------------------------------------------------------------------------------------------


def test_the_specialist_logs_service_on_an_active_engagement(parties: Parties) -> None:
    active = parties.active()
    body = {"date": TODAY, "hours": 3.5, "summary": "现场调试振动传感器，采集基线数据。"}
    response = parties.client.post(f"/engagements/{active['id']}/logs", json=body, headers=parties.exp_x)
    assert response.status_code == 201
    entry = response.json()
    assert entry["engagement_id"] == active["id"] and entry["hours"] == 3.5 and entry["date"] == TODAY
    assert entry["summary"] == body["summary"] and entry["author_role"] == "expert"
    listed = parties.client.get(f"/engagements/{active['id']}/logs", headers=parties.ent_a).json()
    assert listed["total"] == 1 and listed["items"] == [entry]


@pytest.mark.parametrize("state", ["offered", "completed"])
def test_logging_service_outside_an_active_engagement_answers_409(parties: Parties, state: str) -> None:
    engagement = parties.offered() if state == "offered" else parties.completed()
    body = {"date": TODAY, "hours": 2, "summary": "整理报告"}
    response = parties.client.post(f"/engagements/{engagement['id']}/logs", json=body, headers=parties.exp_x)
    assert response.status_code == 409 and response.json()["code"] == "engagement-not-active"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("hours", 0),
        ("hours", -1),
        ("hours", 24.01),
        ("hours", "many"),
        ("summary", ""),
        ("summary", "x" * 2001),
        ("summary", "含有\x00空字符"),
        ("date", "2026-02-30"),
        ("date", (date.today() + timedelta(days=5)).isoformat()),
        ("date", "2001-01-01"),
    ],
)
def test_a_bad_service_log_answers_422_and_writes_nothing(parties: Parties, field: str, value: object) -> None:
    active = parties.active()
    body = {"date": TODAY, "hours": 2, "summary": "整理报告", field: value}
    response = parties.client.post(f"/engagements/{active['id']}/logs", json=body, headers=parties.exp_x)
    assert response.status_code == 422, response.text
    assert any(e["field"].endswith(field) for e in response.json()["errors"])
    assert parties.client.get(f"/engagements/{active['id']}/logs", headers=ADMIN).json()["total"] == 0


def test_a_full_day_of_2000_characters_is_accepted(parties: Parties) -> None:
    active = parties.active()
    body = {"date": TODAY, "hours": 24, "summary": "测" * 2000}
    assert parties.client.post(f"/engagements/{active['id']}/logs", json=body, headers=ADMIN).status_code == 201


# --- rating ----------------------------------------------------------------------------------------------------


def test_the_enterprise_rates_a_completed_engagement_once(parties: Parties) -> None:
    done = parties.completed()
    response = parties.client.post(
        f"/engagements/{done['id']}/rating", json={"rating": 4, "comment": "响应及时"}, headers=parties.ent_a
    )
    assert response.status_code == 201
    body = response.json()
    assert body["rating"] == 4 and body["rating_comment"] == "响应及时" and body["rated_at"] is not None
    again = parties.client.post(f"/engagements/{done['id']}/rating", json={"rating": 5}, headers=parties.ent_a)
    assert again.status_code == 409 and again.json()["code"] == "already-rated"
    assert parties.client.get(f"/engagements/{done['id']}", headers=ADMIN).json()["rating"] == 4


@pytest.mark.parametrize("state", ["offered", "active"])
def test_rating_before_completion_answers_409(parties: Parties, state: str) -> None:
    engagement = parties.offered() if state == "offered" else parties.active()
    response = parties.client.post(f"/engagements/{engagement['id']}/rating", json={"rating": 5}, headers=ADMIN)
    assert response.status_code == 409 and response.json()["code"] == "engagement-not-completed"


@pytest.mark.parametrize(
    "body", [{"rating": 0}, {"rating": 6}, {"rating": 4.5}, {"rating": "五"}, {}, {"rating": 3, "comment": "x" * 2001}]
)
def test_a_bad_rating_answers_422(parties: Parties, body: dict) -> None:
    done = parties.completed()
    response = parties.client.post(f"/engagements/{done['id']}/rating", json=body, headers=ADMIN)
    assert response.status_code == 422
    assert parties.client.get(f"/engagements/{done['id']}", headers=ADMIN).json()["rating"] is None
