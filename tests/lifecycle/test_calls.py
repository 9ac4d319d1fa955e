"""Open calls (揭榜挂帅, SPEC §7.3): publishing, bids with score and reasons, limits, deadline, award, hard rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from tests.factories import ADMIN, Api
from tests.lifecycle.conftest import events_of, unit


def _later(days: float = 10) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def _world(api: Api, *, max_bidders: int = 3, n_experts: int = 4) -> dict:
    enterprise = api.enterprise()
    demand = api.demand(enterprise["id"], title="焊接机器人焊缝跟踪", keywords=["焊接机器人", "焊缝跟踪"])
    experts = [
        api.expert(name=f"专家{i}", keywords=["焊接机器人", "焊缝跟踪"], fields=["焊接"]) for i in range(n_experts)
    ]
    e = api.headers("enterprise", enterprise_id=enterprise["id"])
    call = api.client.post(
        f"/demands/{demand['id']}/call",
        json={
            "goals": "焊缝一次合格率提升到98%",
            "budget_cny": 500000,
            "deadline": _later(),
            "max_bidders": max_bidders,
        },
        headers=e,
    )
    assert call.status_code == 201, call.text
    return {
        "enterprise": enterprise,
        "demand": demand,
        "experts": experts,
        "e": e,
        "x": [api.headers("expert", expert_id=x["id"]) for x in experts],
        "call": call.json(),
    }


def _bid(api: Api, w: dict, i: int, **body) -> object:  # type: ignore[no-untyped-def]
    return api.client.post(
        f"/demands/{w['demand']['id']}/bids",
        json={"proposal": f"方案{i}", "price_cny": 400000, **body},
        headers=w["x"][i],
    )


def test_publishing_a_call_validates_and_is_for_the_owner(api: Api) -> None:
    enterprise = api.enterprise()
    demand = api.demand(enterprise["id"])
    path = f"/demands/{demand['id']}/call"
    assert api.client.post(path, json={"goals": "g", "deadline": _later(-1)}, headers=ADMIN).status_code == 422
    bad = api.client.post(path, json={"goals": "g", "deadline": _later(), "max_bidders": 4}, headers=ADMIN)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "body.max_bidders"
    naive = api.client.post(path, json={"goals": "g", "deadline": "2099-01-01T00:00:00"}, headers=ADMIN)
    assert naive.status_code == 422
    expert = api.expert()
    x = api.headers("expert", expert_id=expert["id"])
    assert api.client.post(path, json={"goals": "g", "deadline": _later()}, headers=x).status_code == 403
    made = api.client.post(path, json={"goals": "g", "deadline": _later()}, headers=ADMIN)
    assert made.status_code == 201 and made.json()["max_bidders"] == 3 and made.json()["bidders"] == 0
    again = api.client.post(path, json={"goals": "g", "deadline": _later()}, headers=ADMIN)
    assert again.status_code == 409 and again.json()["code"] == "call-exists"
    draft = api.demand(enterprise["id"], status="draft")
    closed = api.client.post(f"/demands/{draft['id']}/call", json={"goals": "g", "deadline": _later()}, headers=ADMIN)
    assert closed.status_code == 409 and closed.json()["code"] == "demand-not-open"


def test_a_bid_carries_the_match_score_and_reasons(api: Api, engine) -> None:  # type: ignore[no-untyped-def]
    w = _world(api)
    response = _bid(api, w, 0, months=6)
    assert response.status_code == 201, response.text
    bid = response.json()
    assert bid["status"] == "submitted" and bid["expert_id"] == w["experts"][0]["id"]
    assert 0 < bid["score"] <= 1 and bid["components"] and bid["reasons"]
    assert "焊接机器人" in bid["matched_terms"] or bid["matched_terms"]
    suggestion = api.client.get(f"/demands/{w['demand']['id']}/suggestions", headers=ADMIN).json()["items"]
    same = next(s for s in suggestion if s["expert_id"] == bid["expert_id"])
    assert abs(same["score"] - bid["score"]) < 1e-9
    assert events_of(engine, "bid.created")[0]["parties"] == {
        "enterprise": [w["enterprise"]["id"]],
        "expert": [bid["expert_id"]],
    }
    duplicate = _bid(api, w, 0)
    assert duplicate.status_code == 409 and duplicate.json()["code"] == "duplicate-bid"


def test_bids_beyond_the_limit_answer_call_full_and_a_withdrawal_frees_a_place(api: Api) -> None:
    w = _world(api, max_bidders=2)
    first = _bid(api, w, 0).json()
    assert _bid(api, w, 1).status_code == 201
    full = _bid(api, w, 2)
    assert full.status_code == 409 and full.json()["code"] == "call-full"
    path = f"/demands/{w['demand']['id']}/bids/{first['id']}"
    assert api.client.delete(path, headers=w["x"][1]).status_code == 403
    assert api.client.delete(path, headers=w["x"][0]).status_code == 204
    assert api.client.delete(path, headers=w["x"][0]).status_code == 409
    assert _bid(api, w, 2).status_code == 201
    assert api.client.get(f"/demands/{w['demand']['id']}/call", headers=w["x"][3]).json()["bidders"] == 2


def test_a_bid_after_the_deadline_answers_call_closed(api: Api, engine) -> None:  # type: ignore[no-untyped-def]
    w = _world(api)
    with engine.begin() as conn:
        conn.execute(text("UPDATE call SET deadline = :d"), {"d": datetime.now(UTC) - timedelta(minutes=1)})
    late = _bid(api, w, 0)
    assert late.status_code == 409 and late.json()["code"] == "call-closed"


def test_the_hard_rules_answer_409_naming_the_rule(api: Api) -> None:
    w = _world(api)
    conflicted = api.expert(name="回避专家", keywords=["焊接机器人"], conflicts=[w["enterprise"]["id"]])
    c = api.client.post(
        f"/demands/{w['demand']['id']}/bids", json={"proposal": "p", "expert_id": conflicted["id"]}, headers=ADMIN
    )
    assert c.status_code == 409 and c.json()["code"] == "conflict-of-interest"
    inactive = api.expert(name="停用专家", keywords=["焊接机器人"], active=False)
    i = api.client.post(
        f"/demands/{w['demand']['id']}/bids", json={"proposal": "p", "expert_id": inactive["id"]}, headers=ADMIN
    )
    assert i.status_code == 409 and i.json()["code"] == "expert-inactive"
    homebody = api.expert(name="不出差专家", keywords=["焊接机器人"], region="大连市", travels=False)
    onsite_demand = api.demand(
        w["enterprise"]["id"], title="焊接机器人现场", keywords=["焊接机器人"], on_site=True, region="沈阳市"
    )
    api.client.post(f"/demands/{onsite_demand['id']}/call", json={"goals": "g", "deadline": _later()}, headers=ADMIN)
    t = api.client.post(
        f"/demands/{onsite_demand['id']}/bids", json={"proposal": "p", "expert_id": homebody["id"]}, headers=ADMIN
    )
    assert t.status_code == 409 and t.json()["code"] == "on-site-no-travel" and t.json()["rule"] == "on_site_no_travel"
    missing = api.client.post(f"/demands/{w['demand']['id']}/bids", json={"proposal": "p"}, headers=ADMIN)
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "body.expert_id"
    assert (
        api.client.post(f"/demands/{w['demand']['id']}/bids", json={"proposal": "p"}, headers=w["e"]).status_code == 403
    )
    assert (
        api.client.post(f"/demands/{w['demand']['id']}/bids", json={"proposal": ""}, headers=w["x"][0]).status_code
        == 422
    )


def test_who_sees_which_bids(api: Api) -> None:
    w = _world(api)
    _bid(api, w, 0)
    _bid(api, w, 1)
    path = f"/demands/{w['demand']['id']}/bids"
    assert len(api.client.get(path, headers=w["e"]).json()) == 2
    assert len(api.client.get(path, headers=ADMIN).json()) == 2
    own = api.client.get(path, headers=w["x"][0]).json()
    assert [b["expert_id"] for b in own] == [w["experts"][0]["id"]]
    other = api.enterprise(name="别家", credit_code=None)
    assert api.client.get(path, headers=api.headers("enterprise", enterprise_id=other["id"])).status_code == 403


def test_the_award_opens_an_open_call_engagement_and_closes_the_call(api: Api, engine) -> None:  # type: ignore[no-untyped-def]
    w = _world(api)
    bids = [_bid(api, w, i).json() for i in range(3)]
    award = f"/demands/{w['demand']['id']}/bids/{bids[1]['id']}/award"
    assert api.client.post(award, headers=w["x"][1]).status_code == 403
    response = api.client.post(award, headers=w["e"])
    assert response.status_code == 201, response.text
    engagement = response.json()
    assert (
        engagement["mode"] == "open_call" and engagement["status"] == "active" and engagement["bid_id"] == bids[1]["id"]
    )
    assert engagement["score"] == bids[1]["score"]
    statuses = {
        b["id"]: b["status"] for b in api.client.get(f"/demands/{w['demand']['id']}/bids", headers=w["e"]).json()
    }
    assert statuses == {bids[0]["id"]: "not_awarded", bids[1]["id"]: "awarded", bids[2]["id"]: "not_awarded"}
    again = api.client.post(f"/demands/{w['demand']['id']}/bids/{bids[0]['id']}/award", headers=w["e"])
    assert again.status_code == 409 and again.json()["code"] == "call-awarded"
    late = api.client.post(
        f"/demands/{w['demand']['id']}/bids", json={"proposal": "p", "expert_id": w["experts"][3]["id"]}, headers=ADMIN
    )
    assert late.status_code == 409 and late.json()["code"] == "call-closed"
    # The demand is matched now: other specialists no longer see it at all.
    assert _bid(api, w, 3).status_code == 403
    awarded = events_of(engine, "call.awarded")[0]
    assert awarded["data"]["bid_id"] == bids[1]["id"] and len(awarded["parties"]["expert"]) == 3


def test_an_award_to_a_specialist_of_an_approving_unit_waits_for_the_unit(api: Api) -> None:
    w = _world(api)
    the_unit = unit(api)
    api.client.patch(f"/experts/{w['experts'][0]['id']}", json={"unit_id": the_unit["id"]}, headers=ADMIN)
    bid = _bid(api, w, 0).json()
    engagement = api.client.post(f"/demands/{w['demand']['id']}/bids/{bid['id']}/award", headers=ADMIN).json()
    assert engagement["status"] == "approving"
    approved = api.client.post(
        f"/engagements/{engagement['id']}/approve", headers=api.headers("unit", unit_id=the_unit["id"])
    )
    assert approved.json()["status"] == "active"


def test_bids_on_a_demand_without_a_call_answer_404(api: Api) -> None:
    enterprise = api.enterprise()
    demand = api.demand(enterprise["id"])
    expert = api.expert()
    x = api.headers("expert", expert_id=expert["id"])
    assert api.client.post(f"/demands/{demand['id']}/bids", json={"proposal": "p"}, headers=x).status_code == 404
    assert api.client.get(f"/demands/{demand['id']}/call", headers=x).status_code == 404
    assert api.client.post(f"/demands/{demand['id']}/bids/1/award", headers=ADMIN).status_code == 404
