"""Programme assignment: a proposal that respects capacity and headcount, then offers made from it."""

from __future__ import annotations

from tests.factories import ADMIN, Api


def _demand(api: Api, enterprise_id: int, title: str, keywords: list[str], **over: object) -> dict:
    return api.demand(enterprise_id, title=title, description=title, keywords=keywords, industry="", **over)


def _expert(api: Api, name: str, keywords: list[str], **over: object) -> dict:
    return api.expert(name=name, fields=keywords, keywords=keywords, bio="", achievements="", title="", **over)


def _propose(api: Api, **body: object) -> dict:
    response = api.client.post("/assignments", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    return response.json()


def _pairs(assignment: dict) -> set[tuple[int, int]]:
    return {(p["demand_id"], p["expert_id"]) for p in assignment["result"]["pairs"]}


def test_the_proposal_covers_demands_first_and_respects_capacity(api: Api) -> None:
    ent = api.enterprise()["id"]
    bearings = _demand(api, ent, "轴承故障诊断", ["轴承", "故障诊断"])
    gearbox = _demand(api, ent, "齿轮箱故障诊断", ["齿轮箱", "故障诊断"])
    chemistry = _demand(api, ent, "催化剂寿命评估", ["催化剂"])
    versatile = _expert(api, "全能专家", ["轴承", "齿轮箱", "故障诊断"], capacity=1)
    narrow = _expert(api, "轴承专家", ["轴承"], capacity=1)
    assignment = _propose(api)
    assert assignment["status"] == "proposed"
    result = assignment["result"]
    # The stronger pair (versatile, bearings) would leave the gearbox empty: coverage comes first.
    assert _pairs(assignment) == {(bearings["id"], narrow["id"]), (gearbox["id"], versatile["id"])}
    assert result["covered_demands"] == 2 and result["uncovered_demands"] == [chemistry["id"]]
    assert result["total_score"] > 0 and result["optimal"] is True
    feasibility = result["feasibility"]
    assert feasibility["total_headcount"] == 3 and feasibility["total_capacity"] == 2
    assert feasibility["headcount_excess"] == 1
    assert feasibility["demands_without_candidates"] == [chemistry["id"]]
    assert any("exceeds" in m for m in feasibility["messages"])
    assert f"no candidate at all: {chemistry['id']}." in " ".join(feasibility["messages"])  # ids, not positions
    for pair in result["pairs"]:
        assert 0 < pair["score"] <= 1 and pair["reasons"] and " / " in pair["reasons"][0]
    assert api.client.get("/engagements", headers=ADMIN).json()["total"] == 0, "a proposal creates no engagement"
    assert api.client.get(f"/assignments/{assignment['id']}", headers=ADMIN).json() == assignment
    assert assignment["pairs"] == result["pairs"], "SPEC section 5: an assignment carries its pairs at the top level"


def test_headcount_and_free_capacity_bound_every_pairing(api: Api) -> None:
    ent = api.enterprise()["id"]
    demands = [_demand(api, ent, f"轴承故障诊断{i}", ["轴承", "故障诊断"], headcount=2) for i in range(3)]
    experts = [_expert(api, f"专家{i}", ["轴承", "故障诊断"], capacity=2) for i in range(2)]
    # One specialist already has a live offer: one slot left.
    taken = api.client.post(
        f"/demands/{demands[0]['id']}/selections", json={"expert_id": experts[0]["id"]}, headers=ADMIN
    )
    assert taken.status_code == 201
    result = _propose(api)["result"]
    per_expert: dict[int, int] = {}
    per_demand: dict[int, int] = {}
    for d, e in {(p["demand_id"], p["expert_id"]) for p in result["pairs"]}:
        per_expert[e] = per_expert.get(e, 0) + 1
        per_demand[d] = per_demand.get(d, 0) + 1
    assert per_expert.get(experts[0]["id"], 0) <= 1 and per_expert.get(experts[1]["id"], 0) <= 2
    assert all(n <= 2 for n in per_demand.values())
    assert per_demand.get(demands[0]["id"], 0) <= 1, "demand 0 has one of its two places offered already"
    assert (demands[0]["id"], experts[0]["id"]) not in {(p["demand_id"], p["expert_id"]) for p in result["pairs"]}
    assert result["n_pairs"] == 3 and result["covered_demands"] == 3
    assert result["feasibility"]["total_capacity"] == 3 and result["feasibility"]["total_headcount"] == 5


def test_offers_turn_the_proposal_into_offered_engagements_once(api: Api) -> None:
    ent = api.enterprise()["id"]
    d1 = _demand(api, ent, "轴承故障诊断", ["轴承", "故障诊断"])
    d2 = _demand(api, ent, "齿轮箱故障诊断", ["齿轮箱", "故障诊断"])
    _expert(api, "全能专家", ["轴承", "齿轮箱", "故障诊断"], capacity=2)
    assignment = _propose(api)
    response = api.client.post(f"/assignments/{assignment['id']}/offers", headers=ADMIN)
    assert response.status_code == 200, response.text
    offered = response.json()
    assert offered["status"] == "offered" and offered["offered_at"]
    assert offered["offers"]["failed"] == []
    created = offered["offers"]["created"]
    assert {c["demand_id"] for c in created} == {d1["id"], d2["id"]}
    engagements = api.client.get("/engagements", params={"assignment_id": assignment["id"]}, headers=ADMIN).json()
    assert engagements["total"] == 2
    assert {(e["mode"], e["status"]) for e in engagements["items"]} == {("enterprise_selection", "offered")}
    assert {e["id"] for e in engagements["items"]} == {c["engagement_id"] for c in created}
    assert all(e["score"] and e["score"] > 0 for e in engagements["items"])
    again = api.client.post(f"/assignments/{assignment['id']}/offers", headers=ADMIN)
    assert again.status_code == 409 and again.json()["code"] == "assignment-already-offered"


def test_pairs_that_no_longer_pass_the_invariants_are_reported(api: Api) -> None:
    ent = api.enterprise()["id"]
    d1 = _demand(api, ent, "轴承故障诊断", ["轴承", "故障诊断"])
    d2 = _demand(api, ent, "齿轮箱故障诊断", ["齿轮箱", "故障诊断"])
    x = _expert(api, "轴承专家", ["轴承", "故障诊断"], capacity=1)
    y = _expert(api, "齿轮箱专家", ["齿轮箱", "故障诊断"], capacity=1)
    assignment = _propose(api)
    assert _pairs(assignment) == {(d1["id"], x["id"]), (d2["id"], y["id"])}
    api.client.patch(f"/experts/{y['id']}", json={"active": False}, headers=ADMIN).raise_for_status()
    offers = api.client.post(f"/assignments/{assignment['id']}/offers", headers=ADMIN).json()["offers"]
    assert [(c["demand_id"], c["expert_id"]) for c in offers["created"]] == [(d1["id"], x["id"])]
    assert [(f["demand_id"], f["expert_id"], f["code"]) for f in offers["failed"]] == [
        (d2["id"], y["id"], "expert-inactive")
    ]


def test_the_selection_filters_and_skips_demands_that_are_not_open(api: Api) -> None:
    ent = api.enterprise()["id"]
    dalian = _demand(api, ent, "轴承故障诊断", ["轴承"], region="大连市")
    shenyang = _demand(api, ent, "轴承寿命预测", ["轴承"], region="沈阳市")
    draft = _demand(api, ent, "轴承润滑", ["轴承"], status="draft")
    _expert(api, "轴承专家", ["轴承"], capacity=3)
    by_region = _propose(api, region="沈阳市")["result"]
    assert {p["demand_id"] for p in by_region["pairs"]} == {shenyang["id"]}
    named = _propose(api, demand_ids=[dalian["id"], draft["id"]])["result"]
    assert {p["demand_id"] for p in named["pairs"]} == {dalian["id"]}
    assert named["skipped_demands"] == [{"demand_id": draft["id"], "reason": "demand is 'draft', not open"}]
    missing = api.client.post("/assignments", json={"demand_ids": [999999]}, headers=ADMIN)
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "body.demand_ids"
    assert api.client.post("/assignments", json={"candidates_per_demand": 0}, headers=ADMIN).status_code == 422


def test_assignments_are_for_administrators(api: Api) -> None:
    ent = api.enterprise()["id"]
    key = api.headers("enterprise", enterprise_id=ent)
    assert api.client.post("/assignments", json={}, headers=key).status_code == 403
    assignment = _propose(api)
    assert assignment["result"]["pairs"] == [] and assignment["result"]["feasibility"]["n_demands"] == 0
    assert api.client.get(f"/assignments/{assignment['id']}", headers=key).status_code == 403
    assert api.client.post(f"/assignments/{assignment['id']}/offers", headers=key).status_code == 403
    assert api.client.get("/assignments/999999", headers=ADMIN).status_code == 404
    listed = api.client.get("/assignments", headers=ADMIN).json()
    assert listed["total"] == 1


def test_proposals_and_offers_are_audited(api: Api) -> None:
    ent = api.enterprise()["id"]
    _demand(api, ent, "轴承故障诊断", ["轴承"])
    _expert(api, "轴承专家", ["轴承"])
    assignment = _propose(api)
    api.client.post(f"/assignments/{assignment['id']}/offers", headers=ADMIN).raise_for_status()
    events = api.client.get(
        "/audit", params={"entity": "assignment", "entity_id": assignment["id"]}, headers=ADMIN
    ).json()
    assert [e["action"] for e in events["items"]] == ["proposed", "offered"]
