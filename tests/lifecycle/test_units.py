"""Dispatching units and the three-party agreement (SPEC §7.2)."""

from __future__ import annotations

from tests.factories import ADMIN, Api
from tests.lifecycle.conftest import events_of, unit


def _world(api: Api, *, approval_required: bool = True, capacity: int = 2, headcount: int = 1) -> dict:
    the_unit = unit(api, approval_required=approval_required, contact={"name": "科研院", "phone": "0411-1"})
    enterprise = api.enterprise()
    expert = api.expert(unit_id=the_unit["id"], capacity=capacity, contact={"name": "张伟", "phone": "139"})
    demand = api.demand(enterprise["id"], headcount=headcount)
    return {
        "unit": the_unit,
        "enterprise": enterprise,
        "expert": expert,
        "demand": demand,
        "u": api.headers("unit", unit_id=the_unit["id"]),
        "e": api.headers("enterprise", enterprise_id=enterprise["id"]),
        "x": api.headers("expert", expert_id=expert["id"]),
    }


def _offer_and_accept(api: Api, w: dict) -> dict:
    offer = api.client.post(
        f"/demands/{w['demand']['id']}/selections", json={"expert_id": w["expert"]["id"]}, headers=w["e"]
    )
    assert offer.status_code == 201, offer.text
    accepted = api.client.post(f"/engagements/{offer.json()['id']}/accept", headers=w["x"])
    assert accepted.status_code == 200, accepted.text
    return accepted.json()


def test_an_accepted_offer_waits_for_the_unit_then_becomes_active(api: Api, engine) -> None:  # type: ignore[no-untyped-def]
    w = _world(api)
    engagement = _offer_and_accept(api, w)
    assert engagement["status"] == "approving" and engagement["started_at"] is None
    assert engagement["unit_id"] == w["unit"]["id"]
    approvals = engagement["approvals"]
    assert approvals["enterprise"] and approvals["specialist"] and approvals["unit"] is None
    # The specialist cannot approve for the unit, nor accept again to skip it.
    assert api.client.post(f"/engagements/{engagement['id']}/approve", headers=w["x"]).status_code == 403
    again = api.client.post(f"/engagements/{engagement['id']}/accept", headers=w["x"])
    assert again.status_code == 409 and again.json()["code"] == "illegal-engagement-transition"
    approved = api.client.post(f"/engagements/{engagement['id']}/approve", headers=w["u"])
    assert approved.status_code == 200
    body = approved.json()
    assert body["status"] == "active" and body["started_at"] and body["approvals"]["unit"]
    assert api.client.get(f"/demands/{w['demand']['id']}", headers=ADMIN).json()["status"] == "matched"
    twice = api.client.post(f"/engagements/{engagement['id']}/approve", headers=w["u"])
    assert twice.status_code == 409
    types = [t for t in ("engagement.offered", "engagement.approving", "engagement.active") if events_of(engine, t)]
    assert types == ["engagement.offered", "engagement.approving", "engagement.active"]
    assert events_of(engine, "engagement.active")[0]["parties"]["unit"] == [w["unit"]["id"]]


def test_the_unit_rejects_with_a_reason_and_the_demand_stays_open(api: Api) -> None:
    w = _world(api)
    engagement = _offer_and_accept(api, w)
    no_reason = api.client.post(f"/engagements/{engagement['id']}/reject", json={}, headers=w["u"])
    assert no_reason.status_code == 422
    rejected = api.client.post(
        f"/engagements/{engagement['id']}/reject", json={"reason": "教学任务已满"}, headers=w["u"]
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "declined"
    assert api.client.get(f"/demands/{w['demand']['id']}", headers=ADMIN).json()["status"] == "open"


def test_a_unit_without_approval_lets_engagements_go_active(api: Api) -> None:
    w = _world(api, approval_required=False)
    engagement = _offer_and_accept(api, w)
    assert engagement["status"] == "active" and engagement["approvals"]["unit"] is None


def test_mutual_interest_becomes_approving_under_a_unit(api: Api) -> None:
    w = _world(api)
    api.client.post(f"/demands/{w['demand']['id']}/interests", json={"expert_id": w["expert"]["id"]}, headers=w["e"])
    result = api.client.post(
        f"/experts/{w['expert']['id']}/interests", json={"demand_id": w["demand"]["id"]}, headers=w["x"]
    )
    assert result.status_code == 201 and result.json()["engagement"]["status"] == "approving"


def test_approving_engagements_count_as_live_for_capacity_headcount_and_the_pair(api: Api) -> None:
    w = _world(api, capacity=1, headcount=1)
    engagement = _offer_and_accept(api, w)
    assert engagement["status"] == "approving"
    # Capacity: the capacity-1 specialist is full while approving.
    other_demand = api.demand(w["enterprise"]["id"], title="另一个需求")
    full = api.client.post(
        f"/demands/{other_demand['id']}/selections", json={"expert_id": w["expert"]["id"]}, headers=w["e"]
    )
    assert full.status_code == 409 and full.json()["code"] == "expert-capacity-full"
    # Headcount: the headcount-1 demand is full while approving.
    y = api.expert(name="李娜")
    head = api.client.post(f"/demands/{w['demand']['id']}/selections", json={"expert_id": y["id"]}, headers=w["e"])
    assert head.status_code == 409 and head.json()["code"] == "demand-headcount-full"
    # Deletion and capacity lowering see it too.
    assert api.client.delete(f"/experts/{w['expert']['id']}", headers=ADMIN).status_code == 409
    assert api.client.delete(f"/demands/{w['demand']['id']}", headers=ADMIN).status_code == 409
    # Cancelling the demand declines the approving engagement with it.
    cancelled = api.client.patch(f"/demands/{w['demand']['id']}", json={"status": "cancelled"}, headers=w["e"])
    assert cancelled.status_code == 200
    assert api.client.get(f"/engagements/{engagement['id']}", headers=ADMIN).json()["status"] == "declined"


def test_a_unit_sees_its_own_specialists_engagements_and_contacts_and_nothing_else(api: Api) -> None:
    w = _world(api)
    mine = _offer_and_accept(api, w)
    other_unit = unit(api, name="东北大学")
    stranger = api.expert(name="王五", unit_id=other_unit["id"], contact={"phone": "138"})
    theirs = api.client.post(
        f"/demands/{w['demand']['id']}/selections", json={"expert_id": stranger["id"]}, headers=ADMIN
    )
    assert theirs.status_code in (201, 409)
    listed = api.client.get("/engagements", headers=w["u"]).json()
    assert [e["id"] for e in listed["items"]] == [mine["id"]]
    assert api.client.get(f"/engagements/{mine['id']}", headers=w["u"]).status_code == 200
    own = api.client.get(f"/experts/{w['expert']['id']}", headers=w["u"]).json()
    assert own["contact"]["phone"] == "139"
    assert api.client.get(f"/experts/{stranger['id']}", headers=w["u"]).json()["contact"] is None
    assert api.client.get(f"/units/{w['unit']['id']}", headers=w["u"]).json()["contact"]["phone"] == "0411-1"
    assert api.client.get(f"/units/{other_unit['id']}", headers=w["u"]).json()["contact"] is None
    by_unit = api.client.get(f"/experts?unit_id={w['unit']['id']}", headers=w["u"]).json()
    assert [e["id"] for e in by_unit["items"]] == [w["expert"]["id"]]
    # Not the unit's business: selecting, accepting, stats, keys.
    assert api.client.post(f"/engagements/{mine['id']}/accept", headers=w["u"]).status_code in (403, 409)
    assert api.client.get("/stats", headers=w["u"]).status_code == 403
    other_key = api.headers("unit", unit_id=other_unit["id"])
    assert api.client.get(f"/engagements/{mine['id']}", headers=other_key).status_code == 403
    assert api.client.post(f"/engagements/{mine['id']}/approve", headers=other_key).status_code == 403
    assert api.client.get(f"/engagements/{mine['id']}/agreement", headers=other_key).status_code == 403


def test_the_agreement_is_printable_html_in_chinese_and_english(api: Api) -> None:
    w = _world(api)
    engagement = _offer_and_accept(api, w)
    api.client.post(f"/engagements/{engagement['id']}/approve", headers=w["u"])
    zh = api.client.get(f"/engagements/{engagement['id']}/agreement", headers=w["e"])
    assert zh.status_code == 200 and zh.headers["content-type"].startswith("text/html")
    assert "三方协议" in zh.text and w["unit"]["name"] in zh.text and w["expert"]["name"] in zh.text
    assert w["demand"]["title"] in zh.text and "服务中" in zh.text and "@media print" in zh.text
    en = api.client.get(f"/engagements/{engagement['id']}/agreement?lang=en", headers=w["u"])
    assert "Three-party agreement" in en.text and 'lang="en"' in en.text and "Party C (dispatching unit)" in en.text
    assert api.client.get(f"/engagements/{engagement['id']}/agreement?lang=fr", headers=ADMIN).status_code == 422


def test_the_agreement_escapes_what_parties_typed(api: Api) -> None:
    w = _world(api)
    api.client.patch(f"/demands/{w['demand']['id']}", json={"title": "<script>alert(1)</script>"}, headers=ADMIN)
    engagement = _offer_and_accept(api, w)
    page = api.client.get(f"/engagements/{engagement['id']}/agreement", headers=ADMIN).text
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_stats_report_each_units_figures(api: Api) -> None:
    w = _world(api)
    engagement = _offer_and_accept(api, w)
    figures = api.client.get("/stats", headers=ADMIN).json()["units"]
    assert figures == [
        {
            "unit_id": w["unit"]["id"],
            "name": w["unit"]["name"],
            "specialists": 1,
            "dispatched": 0,
            "approving": 1,
            "active": 0,
            "completed": 0,
            "mean_rating": None,
            "ratings": 0,
        }
    ]
    api.client.post(f"/engagements/{engagement['id']}/approve", headers=w["u"])
    api.client.post(f"/engagements/{engagement['id']}/complete", headers=w["e"])
    api.client.post(f"/engagements/{engagement['id']}/rating", json={"rating": 4}, headers=w["e"])
    after = api.client.get("/stats", headers=ADMIN).json()["units"][0]
    assert (after["dispatched"], after["approving"], after["completed"], after["mean_rating"], after["ratings"]) == (
        1,
        0,
        1,
        4.0,
        1,
    )


def test_unit_records_validate_and_guard_deletion(api: Api) -> None:
    assert api.client.post("/units", json={"name": ""}, headers=ADMIN).status_code == 422
    assert api.client.post("/units", json={"name": "x", "kind": "castle"}, headers=ADMIN).status_code == 422
    assert api.client.post("/units", json={"name": "x", "bogus": 1}, headers=ADMIN).status_code == 422
    assert api.client.post("/keys", json={"role": "unit", "unit_id": 99999}, headers=ADMIN).status_code == 422
    assert api.client.post("/experts", json={"name": "x", "unit_id": 99999}, headers=ADMIN).status_code == 422
    w = _world(api)
    gone = api.client.delete(f"/units/{w['unit']['id']}", headers=ADMIN)
    assert gone.status_code == 409 and gone.json()["code"] == "unit-has-experts"
    patched = api.client.patch(f"/units/{w['unit']['id']}", json={"approval_required": False}, headers=w["u"])
    assert patched.status_code == 403
    assert api.client.patch(f"/units/{w['unit']['id']}", json={"region": "沈阳市"}, headers=w["u"]).status_code == 200
    self_move = api.client.patch(f"/experts/{w['expert']['id']}", json={"unit_id": None}, headers=w["x"])
    assert self_move.status_code == 403
