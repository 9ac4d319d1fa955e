"""Mutual-selection rounds end to end: opening, rank lists, closing with a stable matching, and access."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from matching.stable import blocking_pairs
from tests.factories import ADMIN
from tests.rounds.conftest import Market


def _stable(round_json: dict) -> bool:
    """Check the stored result against the rank lists with the library's blocking-pair test."""
    demands, experts = round_json["demand_ids"], round_json["expert_ids"]
    d_pos = {d: i for i, d in enumerate(demands)}
    e_pos = {e: i for i, e in enumerate(experts)}
    prefs = round_json["preferences"]
    expert_prefs = [[d_pos[d] for d in prefs["experts"].get(str(e), [])] for e in experts]
    demand_prefs = [[e_pos[e] for e in prefs["demands"].get(str(d), [])] for d in demands]
    result = round_json["result"]
    found = blocking_pairs(
        expert_prefs,
        demand_prefs,
        [result["expert_capacity"][str(e)] for e in experts],
        [result["demand_capacity"][str(d)] for d in demands],
        [d_pos[p["demand_id"]] for p in result["pairs"]],
        [e_pos[p["expert_id"]] for p in result["pairs"]],
    )
    return found.size == 0


def test_opening_a_round_returns_it_open_with_its_members(market: Market) -> None:
    rnd = market.open_round(deadline=(datetime.now(UTC) + timedelta(days=7)).isoformat())
    assert rnd["status"] == "open" and rnd["proposing"] == "experts"
    assert rnd["demand_ids"] == sorted([market.d1["id"], market.d2["id"]])
    assert rnd["expert_ids"] == sorted([market.e1["id"], market.e2["id"]])
    assert rnd["result"] is None and rnd["preferences"] == {"demands": {}, "experts": {}}
    assert rnd["pairs"] == []
    listed = market.client.get("/rounds", headers=ADMIN).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == rnd["id"]


def test_only_administrators_open_and_close_rounds(market: Market) -> None:
    body = {"name": "x", "demand_ids": [market.d1["id"]], "expert_ids": [market.e1["id"]]}
    assert market.client.post("/rounds", json=body, headers=market.key_a).status_code == 403
    rnd = market.open_round()
    assert market.client.post(f"/rounds/{rnd['id']}/close", headers=market.key_e1).status_code == 403


def test_a_round_refuses_unknown_records_and_demands_that_are_not_open(market: Market) -> None:
    bad = market.client.post(
        "/rounds", json={"name": "x", "demand_ids": [999999], "expert_ids": [market.e1["id"]]}, headers=ADMIN
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "body.demand_ids"
    draft = market.api.demand(market.ent_a["id"], status="draft")
    closed = market.client.post(
        "/rounds", json={"name": "x", "demand_ids": [draft["id"]], "expert_ids": [market.e1["id"]]}, headers=ADMIN
    )
    assert closed.status_code == 409 and closed.json()["code"] == "demand-not-open"
    empty = market.client.post("/rounds", json={"name": "x", "demand_ids": [], "expert_ids": []}, headers=ADMIN)
    assert empty.status_code == 422
    past = market.client.post(
        "/rounds",
        json={
            "name": "x",
            "demand_ids": [market.d1["id"]],
            "expert_ids": [market.e1["id"]],
            "deadline": "2020-01-01T00:00:00Z",
        },
        headers=ADMIN,
    )
    assert past.status_code == 422


def test_closing_runs_specialist_proposing_deferred_acceptance_and_creates_active_engagements(market: Market) -> None:
    rnd = market.open_round()
    market.crossed_preferences(rnd["id"])
    response = market.close(rnd["id"])
    assert response.status_code == 200, response.text
    closed = response.json()
    assert closed["status"] == "closed" and closed["closed_at"]
    result = closed["result"]
    assert result["proposing"] == "experts"
    pairs = {(p["demand_id"], p["expert_id"]) for p in result["pairs"]}
    # Specialist-proposing: each specialist gets their first choice.
    assert pairs == {(market.d1["id"], market.e1["id"]), (market.d2["id"], market.e2["id"])}
    assert all(p["expert_rank"] == 1 and p["demand_rank"] == 2 for p in result["pairs"])
    assert result["stable"] is True and result["blocking_pairs"] == []
    assert result["unmatched_demands"] == [] and result["unmatched_experts"] == []
    assert _stable(closed)
    assert closed["pairs"] == result["pairs"], "SPEC section 5: a closed round carries its pairs at the top level"
    assert market.client.get(f"/rounds/{rnd['id']}", headers=ADMIN).json()["pairs"] == result["pairs"]
    engagements = market.client.get("/engagements", params={"round_id": rnd["id"]}, headers=ADMIN).json()
    assert engagements["total"] == 2
    assert {(e["mode"], e["status"]) for e in engagements["items"]} == {("round", "active")}
    assert {e["id"] for e in engagements["items"]} == {p["engagement_id"] for p in result["pairs"]}
    # Records created just before closing are scored all the same (the matcher catches up first).
    assert all(isinstance(p["score"], float) for p in result["pairs"])
    assert {e["score"] for e in engagements["items"]} == {p["score"] for p in result["pairs"]}
    # Active engagements fill each demand's headcount of one.
    assert market.client.get(f"/demands/{market.d1['id']}", headers=ADMIN).json()["status"] == "matched"


def test_demand_proposing_gives_the_demands_their_optimum(market: Market) -> None:
    rnd = market.open_round(proposing="demands")
    market.crossed_preferences(rnd["id"])
    result = market.close(rnd["id"]).json()["result"]
    assert result["proposing"] == "demands"
    assert {(p["demand_id"], p["expert_id"]) for p in result["pairs"]} == {
        (market.d1["id"], market.e2["id"]),
        (market.d2["id"], market.e1["id"]),
    }


def test_closing_twice_answers_409_and_rank_lists_are_refused_after_closing(market: Market) -> None:
    rnd = market.open_round()
    assert market.close(rnd["id"]).status_code == 200
    again = market.close(rnd["id"])
    assert again.status_code == 409 and again.json()["code"] == "round-closed"
    late = market.rank_for_expert(rnd["id"], market.e1["id"], [market.d1["id"]], market.key_e1)
    assert late.status_code == 409 and late.json()["code"] == "round-closed"
    assert market.client.post("/rounds/999999/close", headers=ADMIN).status_code == 404


def test_bad_rank_lists_are_refused(market: Market) -> None:
    rnd = market.open_round()
    rid, d1, e1 = rnd["id"], market.d1["id"], market.e1["id"]
    repeated = market.rank_for_demand(rid, d1, [e1, e1], market.key_a)
    assert repeated.status_code == 422 and repeated.json()["code"] == "repeated-id"
    outsider = market.api.expert(name="局外专家")
    outside = market.rank_for_demand(rid, d1, [e1, outsider["id"]], market.key_a)
    assert outside.status_code == 422 and outside.json()["code"] == "not-in-round"
    unknown = market.rank_for_expert(rid, e1, [999999], market.key_e1)
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "body"
    assert market.client.put(f"/rounds/{rid}/preferences/demands/{d1}", json={"a": 1}, headers=ADMIN).status_code == 422
    not_member = market.api.demand(market.ent_a["id"], title="不在本轮的需求")
    assert market.rank_for_demand(rid, not_member["id"], [e1], market.key_a).status_code == 404
    assert market.client.get(f"/rounds/{rid}", headers=ADMIN).json()["preferences"]["demands"] == {}


def test_rank_lists_belong_to_their_party(market: Market) -> None:
    rnd = market.open_round()
    rid, d1, e1, e2 = rnd["id"], market.d1["id"], market.e1["id"], market.e2["id"]
    assert market.rank_for_demand(rid, d1, [e1], market.key_b).status_code == 403
    assert market.rank_for_demand(rid, d1, [e1], market.key_e1).status_code == 403
    assert market.rank_for_expert(rid, e1, [d1], market.key_e2).status_code == 403
    ok = market.rank_for_demand(rid, d1, [e2, e1], market.key_a)
    assert ok.status_code == 200
    assert ok.json()["ranking"] == [e2, e1] and ok.json()["side"] == "demand"
    replaced = market.rank_for_demand(rid, d1, [e1], market.key_a)
    assert replaced.json()["ranking"] == [e1]


def test_rank_lists_are_refused_after_the_deadline(market: Market, engine) -> None:  # type: ignore[no-untyped-def]
    rnd = market.open_round(deadline=(datetime.now(UTC) + timedelta(hours=1)).isoformat())
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE round SET deadline = :d WHERE id = :id"),
            {"d": datetime.now(UTC) - timedelta(minutes=1), "id": rnd["id"]},
        )
    late = market.rank_for_expert(rnd["id"], market.e1["id"], [market.d1["id"]], market.key_e1)
    assert late.status_code == 409 and late.json()["code"] == "round-deadline-passed"
    assert market.close(rnd["id"]).status_code == 200, "an administrator still closes a round after its deadline"


def test_capacities_at_closing_are_what_is_free_then(market: Market) -> None:
    rnd = market.open_round()
    market.crossed_preferences(rnd["id"])
    # e1 takes an offer elsewhere before the close: no capacity left for the round.
    elsewhere = market.api.demand(market.ent_b["id"], title="另一项需求")
    offer = market.client.post(
        f"/demands/{elsewhere['id']}/selections", json={"expert_id": market.e1["id"]}, headers=ADMIN
    )
    assert offer.status_code == 201
    closed = market.close(rnd["id"]).json()
    result = closed["result"]
    assert result["expert_capacity"][str(market.e1["id"])] == 0
    assert {(p["demand_id"], p["expert_id"]) for p in result["pairs"]} == {(market.d2["id"], market.e2["id"])}
    assert result["unmatched_experts"] == [market.e1["id"]]
    assert result["unmatched_demands"] == [market.d1["id"]]
    assert _stable(closed)


def test_a_ranked_pair_that_breaks_a_hard_rule_is_reported_not_silently_dropped(market: Market) -> None:
    rnd = market.open_round()
    market.crossed_preferences(rnd["id"])
    patched = market.client.patch(
        f"/experts/{market.e1['id']}", json={"conflicts": [market.ent_a["id"]]}, headers=ADMIN
    )
    assert patched.status_code == 200
    closed = market.close(rnd["id"]).json()
    result = closed["result"]
    assert [(p["demand_id"], p["expert_id"], p["code"]) for p in result["ineligible_pairs"]] == [
        (market.d1["id"], market.e1["id"], "conflict-of-interest")
    ]
    assert (market.d1["id"], market.e1["id"]) not in {(p["demand_id"], p["expert_id"]) for p in result["pairs"]}
    assert result["stable"] and _stable(closed)


def test_a_larger_round_is_stable_and_respects_capacities(market: Market) -> None:
    rng = random.Random(7)
    enterprise = market.ent_a["id"]
    demands = [market.api.demand(enterprise, title=f"需求{i}", headcount=rng.randint(1, 3))["id"] for i in range(8)]
    experts = [market.api.expert(name=f"专家{i}", capacity=rng.randint(1, 2))["id"] for i in range(10)]
    rnd = market.open_round(demand_ids=demands, expert_ids=experts)
    for d in demands:
        market.rank_for_demand(rnd["id"], d, rng.sample(experts, rng.randint(3, 10))).raise_for_status()
    for e in experts:
        market.rank_for_expert(rnd["id"], e, rng.sample(demands, rng.randint(2, 8))).raise_for_status()
    closed = market.close(rnd["id"]).json()
    result = closed["result"]
    assert result["pairs"] and result["failed_pairs"] == [] and result["stable"]
    assert _stable(closed)
    per_expert: dict[int, int] = {}
    per_demand: dict[int, int] = {}
    for p in result["pairs"]:
        per_expert[p["expert_id"]] = per_expert.get(p["expert_id"], 0) + 1
        per_demand[p["demand_id"]] = per_demand.get(p["demand_id"], 0) + 1
    assert all(n <= result["expert_capacity"][str(e)] for e, n in per_expert.items())
    assert all(n <= result["demand_capacity"][str(d)] for d, n in per_demand.items())
    engaged = market.client.get("/engagements", params={"round_id": rnd["id"], "limit": 200}, headers=ADMIN).json()
    assert engaged["total"] == len(result["pairs"])


def test_parties_see_their_own_part_of_a_round(market: Market) -> None:
    rnd = market.open_round()
    market.crossed_preferences(rnd["id"])
    market.close(rnd["id"]).raise_for_status()
    as_a = market.client.get(f"/rounds/{rnd['id']}", headers=market.key_a)
    assert as_a.status_code == 200
    view = as_a.json()
    assert list(view["preferences"]["demands"]) == [str(market.d1["id"])] and view["preferences"]["experts"] == {}
    assert [p["demand_id"] for p in view["result"]["pairs"]] == [market.d1["id"]]
    assert view["pairs"] == view["result"]["pairs"]
    as_e2 = market.client.get(f"/rounds/{rnd['id']}", headers=market.key_e2).json()
    assert [p["expert_id"] for p in as_e2["result"]["pairs"]] == [market.e2["id"]]
    outsider = market.api.expert(name="局外专家")
    key = market.api.headers("expert", expert_id=outsider["id"])
    assert market.client.get(f"/rounds/{rnd['id']}", headers=key).status_code == 403
    assert market.client.get("/rounds", headers=key).json()["total"] == 0
    assert market.client.get("/rounds", headers=market.key_b).json()["total"] == 1


def test_every_state_change_is_audited(market: Market) -> None:
    rnd = market.open_round()
    market.crossed_preferences(rnd["id"])
    market.close(rnd["id"]).raise_for_status()
    events = market.client.get("/audit", params={"entity": "round", "entity_id": rnd["id"]}, headers=ADMIN).json()
    actions = [e["action"] for e in events["items"]]
    assert actions == ["created", "ranked", "ranked", "ranked", "ranked", "closed"]
    created = market.client.get("/audit", params={"entity": "engagement", "action": "created"}, headers=ADMIN).json()
    assert {e["detail"]["round_id"] for e in created["items"]} == {rnd["id"]}
