"""Ranked, explained, paginated suggestions and who may see them."""

from __future__ import annotations

from tests.factories import ADMIN, bearer
from tests.suggestions.conftest import World, ids

COMPONENTS = {"text", "industry", "proximity", "origin", "capacity", "rating", "assessment"}


def test_demand_suggestions_rank_specialists_with_components_and_reasons(world: World) -> None:
    page = world.experts_for()
    assert ids(page)[:2] == [world.strong["id"], world.weak["id"]]
    assert world.unrelated["id"] not in ids(page), "no text relevance, no suggestion"
    assert page["total"] == 2 and page["limit"] == 10 and page["offset"] == 0
    best = page["items"][0]
    assert set(best["components"]) == COMPONENTS
    assert 0 < best["score"] <= 1
    assert best["score"] >= page["items"][1]["score"]
    assert best["excluded"] is False and best["exclusions"] == []
    assert "故障诊断" in best["matched_terms"]
    assert best["evidence"]["field"] in {"fields", "keywords", "title", "bio", "achievements"}
    assert best["reasons"] and all(r["zh"] and r["en"] and r["code"] for r in best["reasons"])
    assert {"text_relevance", "same_city"} <= {r["code"] for r in best["reasons"]}
    assert best["expert"]["name"] == "李明" and best["expert"]["institution"] == "大连理工大学"


def test_missing_keywords_name_the_demand_keywords_a_profile_lacks(world: World) -> None:
    weak = next(i for i in world.experts_for()["items"] if i["expert_id"] == world.weak["id"])
    assert "深度学习" in weak["missing_keywords"]


def test_expert_suggestions_rank_open_demands_with_the_enterprise_summary(world: World) -> None:
    world.api.demand(
        world.other_enterprise["id"], title="炼化装置腐蚀监测", description="催化裂化装置腐蚀", keywords=["腐蚀"]
    )
    page = world.demands_for(world.strong["id"])
    assert ids(page, "demand_id") == [world.demand["id"]]
    item = page["items"][0]
    assert item["demand"]["title"] == world.demand["title"]
    assert item["demand"]["enterprise_name"] == world.enterprise["name"]
    assert set(item["components"]) == COMPONENTS


def test_only_open_demands_are_suggested_to_specialists(world: World) -> None:
    draft = world.api.demand(world.enterprise["id"], status="draft", title="轴承故障诊断草稿")
    assert draft["id"] not in ids(world.demands_for(world.strong["id"]), "demand_id")
    cancel = world.client.patch(f"/demands/{world.demand['id']}", json={"status": "cancelled"}, headers=ADMIN)
    assert cancel.status_code == 200
    assert world.demands_for(world.strong["id"])["items"] == []


def test_a_demand_that_is_not_open_has_no_suggestions_409(world: World) -> None:
    draft = world.api.demand(world.enterprise["id"], status="draft")
    response = world.client.get(f"/demands/{draft['id']}/suggestions", headers=ADMIN)
    assert response.status_code == 409
    assert response.json()["code"] == "demand-not-open"


def test_pages_are_consistent_with_the_whole_ranking(world: World) -> None:
    for n in range(9):
        world.api.expert(name=f"专家{n}", keywords=["故障诊断", f"方向{n}"], bio="轴承" * (n % 3 + 1), region="大连市")
    everything = world.experts_for(limit=1000)
    assert everything["total"] == len(everything["items"]) == 11
    scores = [i["score"] for i in everything["items"]]
    assert scores == sorted(scores, reverse=True)
    pages = [world.experts_for(limit=4, offset=offset) for offset in (0, 4, 8)]
    assert [i for p in pages for i in ids(p)] == ids(everything)
    assert {p["total"] for p in pages} == {11}
    assert world.experts_for(limit=4, offset=20)["items"] == []


def test_paging_limits_are_checked(world: World) -> None:
    url = f"/demands/{world.demand['id']}/suggestions"
    assert world.client.get(url, params={"limit": 1000}, headers=ADMIN).status_code == 200
    for params in ({"limit": 1001}, {"limit": 0}, {"offset": -1}, {"include_excluded": "perhaps"}):
        response = world.client.get(url, params=params, headers=ADMIN)
        assert response.status_code == 422, params
        assert response.json()["errors"]


def test_include_excluded_lists_a_conflict_of_interest_with_its_reason(world: World) -> None:
    conflicted = world.api.expert(name="回避专家", conflicts=[world.enterprise["id"]])
    assert conflicted["id"] not in ids(world.experts_for())
    page = world.experts_for(include_excluded="true")
    assert page["total"] == 3
    last = page["items"][-1]
    assert last["expert_id"] == conflicted["id"], "excluded pairs come after the others"
    assert last["excluded"] is True
    assert [r["code"] for r in last["exclusions"]] == ["conflict_of_interest"]
    assert last["reasons"][0]["code"] == "conflict_of_interest"
    assert "回避" in last["exclusions"][0]["zh"] and last["exclusions"][0]["en"]


def test_include_excluded_names_origin_and_inactivity(world: World) -> None:
    foreign = world.api.expert(name="Hans Weber", origin="foreign", region="Munich")
    inactive = world.api.expert(name="停用专家", active=False)
    demand = world.api.demand(world.enterprise["id"], accepted_origins=["in_province"])
    page = world.experts_for(demand["id"], include_excluded="true")
    reasons = {i["expert_id"]: {r["code"] for r in i["exclusions"]} for i in page["items"]}
    assert "origin_not_accepted" in reasons[foreign["id"]]
    assert "inactive" in reasons[inactive["id"]]
    assert reasons[world.strong["id"]] == set()


def test_an_enterprise_sees_suggestions_only_for_its_own_demands(world: World) -> None:
    own = world.api.headers("enterprise", enterprise_id=world.enterprise["id"])
    other = world.api.headers("enterprise", enterprise_id=world.other_enterprise["id"])
    url = f"/demands/{world.demand['id']}/suggestions"
    assert world.client.get(url, headers=own).status_code == 200
    assert world.client.get(url, headers=other).status_code == 403
    expert = world.api.headers("expert", expert_id=world.strong["id"])
    assert world.client.get(url, headers=expert).status_code == 403
    assert world.client.get(url).status_code == 401
    assert world.client.get("/demands/999999/suggestions", headers=ADMIN).status_code == 404


def test_a_specialist_sees_only_their_own_suggestions(world: World) -> None:
    own = world.api.headers("expert", expert_id=world.strong["id"])
    other = world.api.headers("expert", expert_id=world.weak["id"])
    url = f"/experts/{world.strong['id']}/suggestions"
    assert world.client.get(url, headers=own).status_code == 200
    assert world.client.get(url, headers=other).status_code == 403
    enterprise = world.api.headers("enterprise", enterprise_id=world.enterprise["id"])
    assert world.client.get(url, headers=enterprise).status_code == 403
    assert world.client.get("/experts/999999/suggestions", headers=ADMIN).status_code == 404


def test_contact_details_only_for_administrators_and_engaged_parties(world: World) -> None:
    enterprise = world.api.headers("enterprise", enterprise_id=world.enterprise["id"])
    expert = world.api.headers("expert", expert_id=world.strong["id"])
    url = f"/demands/{world.demand['id']}/suggestions"

    def expert_contact(headers: dict) -> object:
        items = world.client.get(url, headers=headers).json()["items"]
        return next(i for i in items if i["expert_id"] == world.strong["id"])["expert"]["contact"]

    def enterprise_contact() -> object:
        items = world.client.get(f"/experts/{world.strong['id']}/suggestions", headers=expert).json()["items"]
        return items[0]["demand"]["contact"] if items else "no item"

    assert expert_contact(ADMIN)["phone"] == "13900000000"
    assert expert_contact(enterprise) is None
    assert enterprise_contact() is None
    # An offer on another demand of the same enterprise makes them counterparts.
    second = world.api.demand(world.enterprise["id"], title="轴承寿命预测", headcount=1)
    offered = world.client.post(
        f"/demands/{second['id']}/selections", json={"expert_id": world.strong["id"]}, headers=enterprise
    )
    assert offered.status_code == 201, offered.text
    assert expert_contact(enterprise)["phone"] == "13900000000"
    assert enterprise_contact()["email"].endswith("@example.com")


def test_suggestions_appear_in_the_openapi_document(world: World) -> None:
    paths = world.client.get("/openapi.json").json()["paths"]
    assert "/demands/{demand_id}/suggestions" in paths and "/experts/{expert_id}/suggestions" in paths


def test_a_key_of_another_kind_cannot_read_by_guessing(world: World) -> None:
    key = world.api.key("expert", expert_id=world.weak["id"])["key"]
    response = world.client.get(f"/experts/{world.strong['id']}/suggestions", headers=bearer(key))
    assert response.status_code == 403
    assert response.json()["type"].endswith("/forbidden")


def test_a_specialist_already_offered_the_demand_is_no_longer_suggested_for_it(world: World) -> None:
    selected = world.client.post(
        f"/demands/{world.demand['id']}/selections", json={"expert_id": world.strong["id"]}, headers=ADMIN
    )
    assert selected.status_code == 201
    assert world.strong["id"] not in {s["expert_id"] for s in world.experts_for()["items"]}
    listed = world.experts_for(include_excluded=True)["items"]
    mine = next(s for s in listed if s["expert_id"] == world.strong["id"])
    assert mine["excluded"] and [r["code"] for r in mine["exclusions"]] == ["already_engaged"]
    assert world.demand["id"] not in {s["demand_id"] for s in world.demands_for(world.strong["id"])["items"]}
    world.client.post(f"/engagements/{selected.json()['id']}/decline", headers=ADMIN)
    assert world.strong["id"] in {s["expert_id"] for s in world.experts_for()["items"]}
