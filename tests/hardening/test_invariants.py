"""Every SPEC §2 invariant holds under every write that could break it, PATCHes included; a 409 names the culprit."""

from __future__ import annotations

import pytest

from tests.factories import ADMIN


@pytest.fixture
def engaged(api, client):  # type: ignore[no-untyped-def]
    """An enterprise, its demand, and a specialist holding an engagement on it (offered, or active if asked)."""

    def make(status: str = "active", **demand_overrides):  # type: ignore[no-untyped-def]
        enterprise = api.enterprise()
        demand = api.demand(enterprise["id"], **demand_overrides)
        expert = api.expert()
        engagement = client.post(
            f"/demands/{demand['id']}/selections", json={"expert_id": expert["id"]}, headers=ADMIN
        ).json()
        if status == "active":
            assert client.post(f"/engagements/{engagement['id']}/accept", headers=ADMIN).status_code == 200
        return enterprise, demand, expert, engagement

    return make


def _patch(client, path, body):  # type: ignore[no-untyped-def]
    before = client.get(path, headers=ADMIN).json()
    response = client.patch(path, json=body, headers=ADMIN)
    after = client.get(path, headers=ADMIN).json()
    return response, before, after


@pytest.mark.parametrize("status", ["offered", "active"])
def test_declaring_a_conflict_with_a_served_enterprise_answers_409_naming_the_engagement(engaged, client, status):
    enterprise, _, expert, engagement = engaged(status)
    response, before, after = _patch(client, f"/experts/{expert['id']}", {"conflicts": [enterprise["id"]]})
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "conflict-with-live-engagement"
    assert body["engagement_ids"] == [engagement["id"]]
    assert [e["field"] for e in body["errors"]] == ["body.conflicts"]
    assert after == before


def test_a_conflict_with_another_enterprise_is_fine(engaged, api, client):
    _, _, expert, _ = engaged()
    other = api.enterprise()
    response = client.patch(f"/experts/{expert['id']}", json={"conflicts": [other["id"]]}, headers=ADMIN)
    assert response.status_code == 200
    assert response.json()["conflicts"] == [other["id"]]


def test_a_conflict_after_the_engagement_ended_is_fine(engaged, client):
    enterprise, _, expert, engagement = engaged()
    assert client.post(f"/engagements/{engagement['id']}/complete", headers=ADMIN).status_code == 200
    response = client.patch(f"/experts/{expert['id']}", json={"conflicts": [enterprise["id"]]}, headers=ADMIN)
    assert response.status_code == 200


@pytest.mark.parametrize("status", ["offered", "active"])
def test_deactivating_a_specialist_with_live_engagements_answers_409(engaged, client, status):
    _, _, expert, engagement = engaged(status)
    response, before, after = _patch(client, f"/experts/{expert['id']}", {"active": False})
    assert response.status_code == 409
    assert response.json()["code"] == "expert-has-live-engagements"
    assert response.json()["engagement_ids"] == [engagement["id"]]
    assert after == before


def test_deactivating_a_free_specialist_is_fine(api, client):
    expert = api.expert()
    assert client.patch(f"/experts/{expert['id']}", json={"active": False}, headers=ADMIN).json()["active"] is False


def test_capacity_below_live_engagements_answers_409_naming_them(engaged, api, client):
    enterprise, _, expert, engagement = engaged()
    demand2 = api.demand(enterprise["id"])
    second = client.post(f"/demands/{demand2['id']}/selections", json={"expert_id": expert["id"]}, headers=ADMIN)
    assert second.status_code == 201
    response, before, after = _patch(client, f"/experts/{expert['id']}", {"capacity": 1})
    assert response.status_code == 409
    assert response.json()["code"] == "capacity-below-load"
    assert response.json()["engagement_ids"] == [engagement["id"], second.json()["id"]]
    assert after == before
    assert client.patch(f"/experts/{expert['id']}", json={"capacity": 2}, headers=ADMIN).status_code == 200


def test_headcount_below_live_engagements_answers_409_naming_them(engaged, api, client):
    _, demand, _, engagement = engaged("offered", headcount=2)
    other = api.expert()
    client.post(f"/demands/{demand['id']}/selections", json={"expert_id": other["id"]}, headers=ADMIN)
    response, before, after = _patch(client, f"/demands/{demand['id']}", {"headcount": 1})
    assert response.status_code == 409
    assert response.json()["code"] == "headcount-below-engaged"
    assert len(response.json()["engagement_ids"]) == 2 and engagement["id"] in response.json()["engagement_ids"]
    assert after == before


@pytest.mark.parametrize("status", ["offered", "active"])
def test_narrowing_accepted_origins_past_a_live_specialist_answers_409(engaged, client, status):
    _, demand, _, engagement = engaged(status)  # the specialist is in_province
    response, before, after = _patch(client, f"/demands/{demand['id']}", {"accepted_origins": ["foreign"]})
    assert response.status_code == 409
    assert response.json()["code"] == "origin-not-accepted-by-live-engagement"
    assert response.json()["engagement_ids"] == [engagement["id"]]
    assert after == before
    ok = client.patch(f"/demands/{demand['id']}", json={"accepted_origins": ["in_province", "foreign"]}, headers=ADMIN)
    assert ok.status_code == 200


@pytest.mark.parametrize("status", ["offered", "active"])
def test_moving_a_specialist_out_of_a_required_origin_answers_409(engaged, client, status):
    _, _, expert, engagement = engaged(status, accepted_origins=["in_province"])
    response, before, after = _patch(client, f"/experts/{expert['id']}", {"origin": "foreign"})
    assert response.status_code == 409
    assert response.json()["code"] == "origin-not-accepted-by-live-engagement"
    assert response.json()["engagement_ids"] == [engagement["id"]]
    assert after == before


def test_an_origin_change_a_demand_accepts_is_fine(engaged, client):
    _, _, expert, _ = engaged("active", accepted_origins=["in_province", "out_of_province"])
    response = client.patch(f"/experts/{expert['id']}", json={"origin": "out_of_province"}, headers=ADMIN)
    assert response.status_code == 200


def test_the_engagement_survives_every_refused_patch(engaged, client):
    enterprise, demand, expert, engagement = engaged("active", accepted_origins=["in_province"])
    for path, body in [
        (f"/experts/{expert['id']}", {"conflicts": [enterprise["id"]]}),
        (f"/experts/{expert['id']}", {"active": False}),
        (f"/experts/{expert['id']}", {"origin": "foreign"}),
        (f"/demands/{demand['id']}", {"accepted_origins": ["foreign"]}),
    ]:
        assert client.patch(path, json=body, headers=ADMIN).status_code == 409
    again = client.get(f"/engagements/{engagement['id']}", headers=ADMIN).json()
    assert again["status"] == "active"
    assert client.get(f"/demands/{demand['id']}", headers=ADMIN).json()["status"] == "matched"
