"""Teams (SPEC §8.4): records, bad input, selection as one specialist, capacity, conflicts, suggestions."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import ADMIN, Api


@pytest.fixture
def world(api: Api) -> dict[str, Any]:
    """Enterprise A with an open demand on wind-turbine gearbox diagnosis; a lead, a gearbox member, a chemist."""
    enterprise = api.enterprise()
    other = api.enterprise(name="鞍山钢铁示范企业", region="鞍山市")
    demand = api.demand(enterprise["id"], headcount=2)
    lead = api.expert(
        name="李明",
        fields=["项目管理"],
        keywords=["技术转移"],
        bio="负责团队的组织与协调。",
        achievements="主持省级项目3项。",
        capacity=1,
    )
    gearbox = api.expert(
        name="王强",
        fields=["机械故障诊断", "振动信号处理"],
        keywords=["故障诊断", "深度学习", "轴承"],
        bio="长期从事风电齿轮箱轴承故障诊断研究。",
    )
    chemist = api.expert(
        name="赵静", fields=["高分子材料"], keywords=["涂料", "防腐"], bio="研究海洋防腐涂料。", achievements=""
    )
    return {
        "enterprise": enterprise,
        "other": other,
        "demand": demand,
        "lead": lead,
        "gearbox": gearbox,
        "chemist": chemist,
    }


def team_body(w: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    body = {
        "name": "风电装备智能运维服务团队",
        "lead_expert_id": w["lead"]["id"],
        "member_ids": [w["lead"]["id"], w["gearbox"]["id"]],
        "fields": ["风电装备"],
        "keywords": ["齿轮箱"],
        "bio": "一体化运维服务。",
    }
    body.update(overrides)
    return body


def create_team(api: Api, w: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    response = api.client.post("/teams", json=team_body(w, **overrides), headers=ADMIN)
    assert response.status_code == 201, response.text
    return response.json()


def select_team(api: Api, demand_id: int, team_id: int, headers: dict | None = None):  # type: ignore[no-untyped-def]
    return api.client.post(f"/demands/{demand_id}/selections", json={"team_id": team_id}, headers=headers or ADMIN)


def test_creating_a_team_answers_201_with_its_members_and_the_leads_capacity(api: Api, world) -> None:
    team = create_team(api, world)
    assert team["lead_expert_id"] == world["lead"]["id"]
    assert team["member_ids"] == [world["lead"]["id"], world["gearbox"]["id"]]
    assert [m["is_lead"] for m in team["members"]] == [True, False]
    assert team["members"][1]["name"] == "王强"
    assert "contact" not in team["members"][0]
    assert (team["capacity"], team["load"], team["active"], team["version"]) == (1, 0, True, 1)
    read = api.client.get(f"/teams/{team['id']}", headers=ADMIN).json()
    assert read == team
    listed = api.client.get("/teams", params={"expert_id": world["gearbox"]["id"]}, headers=ADMIN).json()
    assert [t["id"] for t in listed["items"]] == [team["id"]] and listed["total"] == 1
    assert api.client.get("/teams", params={"expert_id": world["chemist"]["id"]}, headers=ADMIN).json()["total"] == 0
    assert api.client.get("/teams", params={"q": "运维"}, headers=ADMIN).json()["total"] == 1


@pytest.mark.parametrize(
    ("change", "field", "status"),
    [
        ({"extra": 1}, "body.extra", 422),
        ({"name": ""}, "body.name", 422),
        ({"name": 5}, "body.name", 422),
        ({"lead_expert_id": "1"}, "body.lead_expert_id", 422),
        ({"member_ids": "1,2"}, "body.member_ids", 422),
        ({"member_ids": [True, 2]}, "body.member_ids.0", 422),
        ({"member_ids": [0, 2]}, "body.member_ids.0", 422),
        ({"member_ids": list(range(1, 23))}, "body.member_ids", 422),
        ({"keywords": ["x"] * 31}, "body.keywords", 422),
        ({"bio": None}, "body.bio", 422),
    ],
)
def test_a_malformed_team_body_answers_422_naming_the_field(api: Api, world, change, field, status) -> None:
    response = api.client.post("/teams", json=team_body(world, **change), headers=ADMIN)
    assert response.status_code == status, response.text
    assert field in [e["field"] for e in response.json()["errors"]]
    assert api.client.get("/teams", headers=ADMIN).json()["total"] == 0


def test_a_specialist_listed_twice_answers_422(api: Api, world) -> None:
    lead, member = world["lead"]["id"], world["gearbox"]["id"]
    response = api.client.post("/teams", json=team_body(world, member_ids=[lead, member, lead]), headers=ADMIN)
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["field"] == "body.member_ids" and f"specialist {lead} more than once" in error["message"]


def test_a_team_of_one_answers_422(api: Api, world) -> None:
    response = api.client.post("/teams", json=team_body(world, member_ids=[world["lead"]["id"]]), headers=ADMIN)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "body.member_ids"


def test_a_lead_who_is_not_a_member_answers_422(api: Api, world) -> None:
    body = team_body(world, member_ids=[world["gearbox"]["id"], world["chemist"]["id"]])
    response = api.client.post("/teams", json=body, headers=ADMIN)
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "team-lead-not-member" and problem["errors"][0]["field"] == "body.lead_expert_id"


def test_an_unknown_member_answers_422_naming_it(api: Api, world) -> None:
    body = team_body(world, member_ids=[world["lead"]["id"], 999_999])
    response = api.client.post("/teams", json=body, headers=ADMIN)
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "body.member_ids", "message": "no expert with id 999999", "type": "invalid-input"}
    ]


def test_an_unknown_team_answers_404_and_selecting_it_422(api: Api, world) -> None:
    assert api.client.get("/teams/999999", headers=ADMIN).status_code == 404
    assert api.client.patch("/teams/999999", json={"name": "x"}, headers=ADMIN).status_code == 404
    response = select_team(api, world["demand"]["id"], 999_999)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "body.team_id"


@pytest.mark.parametrize("body", [{}, {"expert_id": 1, "team_id": 1}, {"team_id": None}, {"team_id": "1"}])
def test_a_selection_names_exactly_one_specialist_or_team(api: Api, world, body) -> None:
    response = api.client.post(f"/demands/{world['demand']['id']}/selections", json=body, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert api.client.get("/engagements", headers=ADMIN).json()["total"] == 0


def test_selecting_a_team_opens_one_engagement_on_the_leads_capacity(api: Api, world) -> None:
    team = create_team(api, world)
    response = select_team(api, world["demand"]["id"], team["id"])
    assert response.status_code == 201, response.text
    engagement = response.json()
    assert engagement["team_id"] == team["id"] and engagement["expert_id"] == world["lead"]["id"]
    assert engagement["status"] == "offered" and engagement["mode"] == "enterprise_selection"
    assert engagement["score"] is None or 0 <= engagement["score"] <= 1
    assert api.client.get(f"/teams/{team['id']}", headers=ADMIN).json()["load"] == 1
    listed = api.client.get("/engagements", params={"team_id": team["id"]}, headers=ADMIN).json()
    assert [e["id"] for e in listed["items"]] == [engagement["id"]]
    # The lead's capacity (1) is spent: neither the lead alone nor the team again, on another demand.
    second = api.demand(world["enterprise"]["id"], title="第二个需求")
    full = select_team(api, second["id"], team["id"])
    assert full.status_code == 409 and full.json()["code"] == "expert-capacity-full"
    solo = api.client.post(
        f"/demands/{second['id']}/selections", json={"expert_id": world["lead"]["id"]}, headers=ADMIN
    )
    assert solo.status_code == 409 and solo.json()["code"] == "expert-capacity-full"
    # A member's own capacity is untouched: they may still serve another demand alone.
    member = api.client.post(
        f"/demands/{second['id']}/selections", json={"expert_id": world["gearbox"]["id"]}, headers=ADMIN
    )
    assert member.status_code == 201, member.text


def test_the_lead_accepts_a_teams_offer_and_the_demand_counts_it_once(api: Api, world) -> None:
    team = create_team(api, world)
    engagement = select_team(api, world["demand"]["id"], team["id"]).json()
    lead_key = api.headers("expert", expert_id=world["lead"]["id"])
    member_key = api.headers("expert", expert_id=world["gearbox"]["id"])
    assert api.client.post(f"/engagements/{engagement['id']}/accept", headers=member_key).status_code == 403
    accepted = api.client.post(f"/engagements/{engagement['id']}/accept", headers=lead_key)
    assert accepted.status_code == 200 and accepted.json()["status"] == "active"
    demand = api.client.get(f"/demands/{world['demand']['id']}", headers=ADMIN).json()
    assert demand["status"] == "open"  # headcount 2, one engagement


def test_a_members_conflict_of_interest_forbids_selecting_the_team(api: Api, world) -> None:
    api.client.patch(
        f"/experts/{world['gearbox']['id']}", json={"conflicts": [world["enterprise"]["id"]]}, headers=ADMIN
    )
    team = create_team(api, world)
    response = select_team(api, world["demand"]["id"], team["id"])
    assert response.status_code == 409
    problem = response.json()
    assert problem["code"] == "conflict-of-interest" and problem["expert_id"] == world["gearbox"]["id"]
    assert problem["team_id"] == team["id"]


def test_an_inactive_member_makes_the_team_unselectable(api: Api, world) -> None:
    api.client.patch(f"/experts/{world['gearbox']['id']}", json={"active": False}, headers=ADMIN)
    team = create_team(api, world)
    assert team["active"] is False
    response = select_team(api, world["demand"]["id"], team["id"])
    assert response.status_code == 409 and response.json()["code"] == "expert-inactive"


def test_a_member_engaged_alone_blocks_the_team_on_that_demand_and_back(api: Api, world) -> None:
    team = create_team(api, world)
    demand_id = world["demand"]["id"]
    solo = api.client.post(
        f"/demands/{demand_id}/selections", json={"expert_id": world["gearbox"]["id"]}, headers=ADMIN
    )
    assert solo.status_code == 201
    blocked = select_team(api, demand_id, team["id"])
    assert blocked.status_code == 409 and blocked.json()["code"] == "pair-already-engaged"
    assert blocked.json()["expert_id"] == world["gearbox"]["id"]
    assert api.client.post(f"/engagements/{solo.json()['id']}/decline", headers=ADMIN).status_code == 200
    assert select_team(api, demand_id, team["id"]).status_code == 201
    again = api.client.post(
        f"/demands/{demand_id}/selections", json={"expert_id": world["gearbox"]["id"]}, headers=ADMIN
    )
    assert again.status_code == 409 and again.json()["code"] == "pair-already-engaged"
    assert again.json()["team_id"] == team["id"]


def test_a_member_cannot_declare_a_conflict_with_an_enterprise_their_team_serves(api: Api, world) -> None:
    team = create_team(api, world)
    select_team(api, world["demand"]["id"], team["id"])
    response = api.client.patch(
        f"/experts/{world['gearbox']['id']}", json={"conflicts": [world["enterprise"]["id"]]}, headers=ADMIN
    )
    assert response.status_code == 409 and response.json()["code"] == "conflict-with-live-engagement"
    deactivate = api.client.patch(f"/experts/{world['gearbox']['id']}", json={"active": False}, headers=ADMIN)
    assert deactivate.status_code == 409 and deactivate.json()["code"] == "expert-has-live-engagements"
    # Their own capacity is not the team's: lowering it stays allowed.
    capacity = api.client.patch(f"/experts/{world['gearbox']['id']}", json={"capacity": 1}, headers=ADMIN)
    assert capacity.status_code == 200


def test_joining_a_team_with_a_live_engagement_checks_the_joiners_conflicts(api: Api, world) -> None:
    api.client.patch(
        f"/experts/{world['chemist']['id']}", json={"conflicts": [world["enterprise"]["id"]]}, headers=ADMIN
    )
    team = create_team(api, world)
    select_team(api, world["demand"]["id"], team["id"])
    members = [world["lead"]["id"], world["gearbox"]["id"], world["chemist"]["id"]]
    response = api.client.patch(f"/teams/{team['id']}", json={"member_ids": members}, headers=ADMIN)
    assert response.status_code == 409 and response.json()["code"] == "conflict-of-interest"
    assert api.client.get(f"/teams/{team['id']}", headers=ADMIN).json()["member_ids"] == members[:2]


def test_the_lead_cannot_change_while_the_team_has_live_engagements(api: Api, world) -> None:
    team = create_team(api, world)
    engagement = select_team(api, world["demand"]["id"], team["id"]).json()
    response = api.client.patch(f"/teams/{team['id']}", json={"lead_expert_id": world["gearbox"]["id"]}, headers=ADMIN)
    assert response.status_code == 409 and response.json()["code"] == "team-has-live-engagements"
    assert api.client.delete(f"/teams/{team['id']}", headers=ADMIN).status_code == 409
    api.client.post(f"/engagements/{engagement['id']}/decline", headers=ADMIN)
    moved = api.client.patch(f"/teams/{team['id']}", json={"lead_expert_id": world["gearbox"]["id"]}, headers=ADMIN)
    assert moved.status_code == 200 and moved.json()["lead_expert_id"] == world["gearbox"]["id"]
    assert moved.json()["version"] == 2


def test_patching_members_replaces_them_and_the_lead_must_stay_one(api: Api, world) -> None:
    team = create_team(api, world)
    new = [world["chemist"]["id"], world["lead"]["id"]]
    response = api.client.patch(f"/teams/{team['id']}", json={"member_ids": new}, headers=ADMIN)
    assert response.status_code == 200 and response.json()["member_ids"] == new
    assert response.json()["version"] == 2
    without_lead = [world["chemist"]["id"], world["gearbox"]["id"]]
    refused = api.client.patch(f"/teams/{team['id']}", json={"member_ids": without_lead}, headers=ADMIN)
    assert refused.status_code == 422 and refused.json()["code"] == "team-lead-not-member"


def test_the_lead_changes_the_teams_text_but_not_its_members(api: Api, world) -> None:
    team = create_team(api, world)
    lead_key = api.headers("expert", expert_id=world["lead"]["id"])
    member_key = api.headers("expert", expert_id=world["gearbox"]["id"])
    ok = api.client.patch(f"/teams/{team['id']}", json={"keywords": ["轴承", "数字孪生"]}, headers=lead_key)
    assert ok.status_code == 200 and ok.json()["keywords"] == ["轴承", "数字孪生"]
    members = api.client.patch(
        f"/teams/{team['id']}", json={"member_ids": [world["lead"]["id"], world["chemist"]["id"]]}, headers=lead_key
    )
    assert members.status_code == 403 and members.json()["errors"][0]["field"] == "body.member_ids"
    assert api.client.patch(f"/teams/{team['id']}", json={"bio": "x"}, headers=member_key).status_code == 403


def test_a_specialist_who_leads_a_team_cannot_be_deleted_and_a_member_leaves_it(api: Api, world) -> None:
    team = create_team(api, world, member_ids=[world["lead"]["id"], world["gearbox"]["id"], world["chemist"]["id"]])
    response = api.client.delete(f"/experts/{world['lead']['id']}", headers=ADMIN)
    assert response.status_code == 409 and response.json()["code"] == "expert-leads-team"
    assert api.client.delete(f"/experts/{world['chemist']['id']}", headers=ADMIN).status_code == 204
    assert api.client.get(f"/teams/{team['id']}", headers=ADMIN).json()["member_ids"] == [
        world["lead"]["id"],
        world["gearbox"]["id"],
    ]
    assert api.client.delete(f"/teams/{team['id']}", headers=ADMIN).status_code == 204
    assert api.client.get(f"/teams/{team['id']}", headers=ADMIN).status_code == 404
    assert api.client.delete(f"/experts/{world['lead']['id']}", headers=ADMIN).status_code == 204


def test_team_suggestions_rank_the_team_and_say_which_member_matched(api: Api, world) -> None:
    team = create_team(api, world)
    chemists = create_team(
        api,
        world,
        name="海洋防腐团队",
        lead_expert_id=world["chemist"]["id"],
        member_ids=[world["chemist"]["id"], world["lead"]["id"]],
        fields=[],
        keywords=[],
        bio="",
    )
    response = api.client.get(f"/demands/{world['demand']['id']}/team-suggestions", headers=ADMIN)
    assert response.status_code == 200, response.text
    page = response.json()
    items = page["items"]
    assert items[0]["team_id"] == team["id"] and items[0]["expert_id"] == world["lead"]["id"]
    assert items[0]["matched_member_id"] == world["gearbox"]["id"]
    assert items[0]["members"][0]["expert_id"] == world["gearbox"]["id"] and items[0]["members"][0]["is_lead"] is False
    assert items[0]["members"][0]["text"] > items[0]["members"][1]["text"]
    assert items[0]["members"][0]["evidence"] is not None
    assert items[0]["team"]["member_ids"] == [world["lead"]["id"], world["gearbox"]["id"]]
    assert 0 < items[0]["score"] <= 1 and items[0]["components"]["text"] > 0 and items[0]["matched_terms"]
    assert chemists["id"] not in [i["team_id"] for i in items]  # no text relevance at all: not a suggestion
    assert page["total"] == len(items)


def test_a_team_is_excluded_for_a_members_conflict_and_listed_with_the_reason(api: Api, world) -> None:
    api.client.patch(
        f"/experts/{world['gearbox']['id']}", json={"conflicts": [world["enterprise"]["id"]]}, headers=ADMIN
    )
    team = create_team(api, world)
    path = f"/demands/{world['demand']['id']}/team-suggestions"
    assert api.client.get(path, headers=ADMIN).json()["total"] == 0
    page = api.client.get(path, params={"include_excluded": True}, headers=ADMIN).json()
    assert [i["team_id"] for i in page["items"]] == [team["id"]]
    assert page["items"][0]["excluded"] is True
    assert "conflict" in page["items"][0]["exclusions"][0]["code"]


def test_a_teams_demand_suggestions_say_which_member_matched(api: Api, world) -> None:
    team = create_team(api, world)
    response = api.client.get(f"/teams/{team['id']}/suggestions", headers=ADMIN)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [i["demand_id"] for i in items] == [world["demand"]["id"]]
    assert items[0]["team_id"] == team["id"] and items[0]["matched_member_id"] == world["gearbox"]["id"]
    assert items[0]["demand"]["enterprise_name"] == world["enterprise"]["name"]


def test_team_suggestions_of_a_demand_that_is_not_open_answer_409(api: Api, world) -> None:
    draft = api.demand(world["enterprise"]["id"], status="draft")
    response = api.client.get(f"/demands/{draft['id']}/team-suggestions", headers=ADMIN)
    assert response.status_code == 409 and response.json()["code"] == "demand-not-open"
    assert api.client.get("/demands/999999/team-suggestions", headers=ADMIN).status_code == 404


def test_a_repeated_external_id_answers_409_and_a_null_in_a_patch_422(api: Api, world) -> None:
    team = create_team(api, world, external_id="T-2026-001")
    again = api.client.post("/teams", json=team_body(world, external_id="T-2026-001"), headers=ADMIN)
    assert again.status_code == 409 and again.json()["code"] == "unique-value-taken"
    assert again.json()["errors"][0]["field"] == "body.external_id"
    for field in ("name", "lead_expert_id", "member_ids", "fields", "keywords", "bio"):
        response = api.client.patch(f"/teams/{team['id']}", json={field: None}, headers=ADMIN)
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == f"body.{field}", field
    assert api.client.get(f"/teams/{team['id']}", headers=ADMIN).json()["version"] == 1


def test_the_openapi_document_gives_examples_for_team_bodies_that_the_api_accepts(api: Api, world) -> None:
    schemas = api.client.get("/openapi.json").json()["components"]["schemas"]
    example = schemas["TeamCreate"]["examples"][0]
    assert set(example) >= {"name", "lead_expert_id", "member_ids", "fields", "keywords", "bio"}
    assert example["lead_expert_id"] in example["member_ids"]
    assert {"team_id": 1} in schemas["SelectionCreate"]["examples"]
    ids = [world["lead"]["id"], world["gearbox"]["id"], world["chemist"]["id"]]
    body = {**example, "lead_expert_id": ids[0], "member_ids": ids}
    created = api.client.post("/teams", json=body, headers=ADMIN)
    assert created.status_code == 201, created.text
    patch = api.client.patch(f"/teams/{created.json()['id']}", json=schemas["TeamUpdate"]["examples"][0], headers=ADMIN)
    assert patch.status_code == 200, patch.text
