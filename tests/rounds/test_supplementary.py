"""Supplementary rounds (SPEC §7.4): the closed round's leftovers, checked stable like any round."""

from __future__ import annotations

from tests.factories import ADMIN
from tests.rounds.conftest import Market
from tests.rounds.test_rounds import _stable


def test_a_supplementary_round_offers_the_leftovers_again_and_is_stable(market: Market) -> None:
    api = market.api
    d3 = api.demand(market.ent_a["id"], title="视觉检测", headcount=2)
    e3 = api.expert(name="专家三", capacity=2)
    rnd = market.open_round(
        demand_ids=[market.d1["id"], market.d2["id"], d3["id"]], expert_ids=[market.e1["id"], market.e2["id"], e3["id"]]
    )
    e1, e2, d1, d2 = market.e1["id"], market.e2["id"], market.d1["id"], market.d2["id"]
    # Only e1-d1 is mutually acceptable; d2, d3 (headcount 2) and e2, e3 are left over.
    market.rank_for_expert(rnd["id"], e1, [d1], market.key_e1)
    market.rank_for_demand(rnd["id"], d1, [e1], market.key_a)
    assert market.close(rnd["id"]).status_code == 200
    too_early = api.client.post("/rounds", json={"name": "补充", "supplementary_of": 99999}, headers=ADMIN)
    assert too_early.status_code == 422 and too_early.json()["errors"][0]["field"] == "body.supplementary_of"
    both = api.client.post(
        "/rounds", json={"name": "补充", "supplementary_of": rnd["id"], "demand_ids": [d2]}, headers=ADMIN
    )
    assert both.status_code == 422
    response = api.client.post("/rounds", json={"name": "第一批补充轮次", "supplementary_of": rnd["id"]}, headers=ADMIN)
    assert response.status_code == 201, response.text
    supp = response.json()
    assert supp["supplementary_of"] == rnd["id"]
    assert supp["demand_ids"] == sorted([d2, d3["id"]]) and supp["expert_ids"] == sorted([e2, e3["id"]])
    # Everything else is as in §4: rank lists, closing, a verifiably stable matching.
    market.rank_for_expert(supp["id"], e2, [d3["id"], d2], market.key_e2)
    market.rank_for_expert(supp["id"], e3["id"], [d3["id"], d2])
    market.rank_for_demand(supp["id"], d2, [e3["id"], e2], market.key_b)
    market.rank_for_demand(supp["id"], d3["id"], [e2, e3["id"]], market.key_a)
    closed = market.close(supp["id"])
    assert closed.status_code == 200, closed.text
    body = closed.json()
    assert body["result"]["stable"] is True and _stable(body)
    pairs = {(p["demand_id"], p["expert_id"]) for p in body["result"]["pairs"]}
    assert pairs == {(d3["id"], e2), (d3["id"], e3["id"]), (d2, e3["id"])}
    # Every demand is filled now: nothing is left for another supplementary round.
    again = api.client.post("/rounds", json={"name": "再补充", "supplementary_of": supp["id"]}, headers=ADMIN)
    assert again.status_code == 409 and again.json()["code"] == "nothing-left-over"


def test_a_supplementary_round_needs_a_closed_round_with_something_left(market: Market) -> None:
    rnd = market.open_round()
    still_open = market.client.post("/rounds", json={"name": "补充", "supplementary_of": rnd["id"]}, headers=ADMIN)
    assert still_open.status_code == 409 and still_open.json()["code"] == "round-not-closed"
    market.crossed_preferences(rnd["id"])
    market.close(rnd["id"])
    nothing = market.client.post("/rounds", json={"name": "补充", "supplementary_of": rnd["id"]}, headers=ADMIN)
    assert nothing.status_code == 409 and nothing.json()["code"] == "nothing-left-over"
    missing = market.client.post("/rounds", json={"name": "无成员"}, headers=ADMIN)
    assert missing.status_code == 422
