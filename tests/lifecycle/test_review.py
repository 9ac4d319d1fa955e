"""Demand review (SPEC §7.1): drafts, submission, approval or return with a comment, the history, suggestions."""

from __future__ import annotations

from tests.factories import ADMIN, Api, demand_body
from tests.lifecycle.conftest import events_of


def _setup(api: Api) -> tuple[dict, dict]:
    enterprise = api.enterprise()
    return enterprise, api.headers("enterprise", enterprise_id=enterprise["id"])


def test_an_enterprise_demand_starts_draft_under_review_whatever_its_body_says(review_api: Api) -> None:
    enterprise, ent = _setup(review_api)
    response = review_api.client.post("/demands", json=demand_body(enterprise["id"], status="open"), headers=ent)
    assert response.status_code == 201 and response.json()["status"] == "draft"
    assert response.json()["published_at"] is None
    admin_made = review_api.demand(enterprise["id"])
    assert admin_made["status"] == "open"


def test_without_the_setting_an_enterprise_demand_is_created_open(api: Api) -> None:
    enterprise, ent = _setup(api)
    response = api.client.post("/demands", json=demand_body(enterprise["id"]), headers=ent)
    assert response.json()["status"] == "open"


def test_submit_approve_publishes_and_history_lists_every_step(review_api: Api, engine) -> None:  # type: ignore[no-untyped-def]
    client = review_api.client
    enterprise, ent = _setup(review_api)
    demand = client.post("/demands", json=demand_body(enterprise["id"]), headers=ent).json()
    # Publishing by PATCH is refused while review is on.
    refused = client.patch(f"/demands/{demand['id']}", json={"status": "open"}, headers=ent)
    assert refused.status_code == 409 and refused.json()["code"] == "review-required"
    submitted = client.post(f"/demands/{demand['id']}/submit", headers=ent)
    assert submitted.status_code == 200 and submitted.json()["status"] == "in_review"
    again = client.post(f"/demands/{demand['id']}/submit", headers=ent)
    assert again.status_code == 409 and again.json()["code"] == "illegal-demand-transition"
    frozen = client.patch(f"/demands/{demand['id']}", json={"title": "改标题"}, headers=ent)
    assert frozen.status_code == 409 and frozen.json()["code"] == "demand-in-review"
    by_enterprise = client.post(f"/demands/{demand['id']}/review", json={"decision": "approve"}, headers=ent)
    assert by_enterprise.status_code == 403
    approved = client.post(
        f"/demands/{demand['id']}/review", json={"decision": "approve", "comment": "同意发布"}, headers=ADMIN
    )
    assert approved.status_code == 200
    assert approved.json()["status"] == "open" and approved.json()["published_at"] is not None
    history = client.get(f"/demands/{demand['id']}/reviews", headers=ent).json()
    assert [(h["action"], h["decision"], h["actor_role"]) for h in history["items"]] == [
        ("submitted", None, "enterprise"),
        ("approved", "approve", "admin"),
    ]
    assert history["items"][1]["comment"] == "同意发布" and history["total"] == 2
    published = events_of(engine, "demand.published")
    assert [e["data"]["demand"]["id"] for e in published] == [demand["id"]]
    assert published[0]["parties"] == {"enterprise": [enterprise["id"]]}


def test_return_sends_the_demand_back_to_draft_with_the_comment(review_api: Api, engine) -> None:  # type: ignore[no-untyped-def]
    client = review_api.client
    enterprise, ent = _setup(review_api)
    demand = client.post("/demands", json=demand_body(enterprise["id"]), headers=ent).json()
    client.post(f"/demands/{demand['id']}/submit", headers=ent)
    no_comment = client.post(f"/demands/{demand['id']}/review", json={"decision": "return"}, headers=ADMIN)
    assert no_comment.status_code == 422 and no_comment.json()["errors"][0]["field"] == "body.comment"
    returned = client.post(
        f"/demands/{demand['id']}/review", json={"decision": "return", "comment": "请补充技术指标"}, headers=ADMIN
    )
    assert returned.status_code == 200 and returned.json()["status"] == "draft"
    history = client.get(f"/demands/{demand['id']}/reviews", headers=ADMIN).json()["items"]
    assert history[-1]["action"] == "returned" and history[-1]["comment"] == "请补充技术指标"
    assert events_of(engine, "demand.returned")[0]["data"]["comment"] == "请补充技术指标"
    # Reviewing a draft is an illegal move; so is a bad decision.
    again = client.post(f"/demands/{demand['id']}/review", json={"decision": "approve"}, headers=ADMIN)
    assert again.status_code == 409 and again.json()["code"] == "demand-not-in-review"
    bad = client.post(f"/demands/{demand['id']}/review", json={"decision": "maybe"}, headers=ADMIN)
    assert bad.status_code == 422
    extra = client.post(f"/demands/{demand['id']}/review", json={"decision": "approve", "x": 1}, headers=ADMIN)
    assert extra.status_code == 422


def test_a_demand_in_review_is_never_suggested_nor_selectable(review_api: Api) -> None:
    client = review_api.client
    enterprise, ent = _setup(review_api)
    expert = review_api.expert(keywords=["焊接机器人"], fields=["焊接"])
    demand = client.post(
        "/demands", json=demand_body(enterprise["id"], title="焊接机器人改造", keywords=["焊接机器人"]), headers=ent
    ).json()
    client.post(f"/demands/{demand['id']}/submit", headers=ent)
    suggestions = client.get(f"/demands/{demand['id']}/suggestions", headers=ADMIN)
    assert suggestions.status_code == 409 and suggestions.json()["code"] == "demand-not-open"
    for_expert = client.get(f"/experts/{expert['id']}/suggestions", headers=ADMIN).json()
    assert demand["id"] not in [item["demand_id"] for item in for_expert["items"]]
    selected = client.post(f"/demands/{demand['id']}/selections", json={"expert_id": expert["id"]}, headers=ent)
    assert selected.status_code == 409 and selected.json()["code"] == "demand-not-open"
    other = review_api.headers("expert", expert_id=expert["id"])
    assert client.get(f"/demands/{demand['id']}", headers=other).status_code == 403
    client.post(f"/demands/{demand['id']}/review", json={"decision": "approve"}, headers=ADMIN)
    for_expert = client.get(f"/experts/{expert['id']}/suggestions", headers=ADMIN).json()
    assert demand["id"] in [item["demand_id"] for item in for_expert["items"]]


def test_the_review_history_is_for_the_enterprise_and_administrators(review_api: Api) -> None:
    client = review_api.client
    enterprise, ent = _setup(review_api)
    other = review_api.enterprise(name="别家企业", credit_code=None)
    demand = client.post("/demands", json=demand_body(enterprise["id"]), headers=ent).json()
    other_headers = review_api.headers("enterprise", enterprise_id=other["id"])
    assert client.get(f"/demands/{demand['id']}/reviews", headers=other_headers).status_code == 403
    assert client.post(f"/demands/{demand['id']}/submit", headers=other_headers).status_code == 403
    assert client.get("/demands/999999/reviews", headers=ADMIN).status_code == 404
