"""Periodic assessment of SPEC §8.3: the parts, the grades, adjustment with a reason, reproducibility, access."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from service.assessments.models import grade_of
from service.assessments.service import period_window, score_parts
from tests.incentives.conftest import ADMIN, Parties, raise_issue

YEAR = str(datetime.now(UTC).year)


def _log(p: Parties, engagement_id: int, hours: float) -> None:
    today = datetime.now(UTC).date().isoformat()
    body = {"date": today, "hours": hours, "summary": "现场服务"}
    assert p.client.post(f"/engagements/{engagement_id}/logs", json=body, headers=ADMIN).status_code == 201


def _serve(p: Parties) -> dict:
    """Specialist X: two completed engagements rated 5 and 4 with 50 logged hours, one resolved issue of two, one
    terminated engagement; specialist Y serves nothing."""
    first = p.active()
    _log(p, first["id"], 24)
    _log(p, first["id"], 20)
    resolved = raise_issue(p, first["id"]).json()
    raise_issue(p, first["id"])
    p.client.post(f"/issues/{resolved['id']}/responses", json={"summary": "好", "resolved": True}, headers=p.exp_x)
    p.move(first["id"], "complete")
    p.client.post(f"/engagements/{first['id']}/rating", json={"rating": 5}, headers=p.ent_a)
    demand2 = p.api.demand(p.enterprise_a["id"], title="第二个需求")
    second = p.active(demand_id=demand2["id"])
    _log(p, second["id"], 6)
    p.move(second["id"], "complete")
    p.client.post(f"/engagements/{second['id']}/rating", json={"rating": 4}, headers=p.ent_a)
    demand3 = p.api.demand(p.enterprise_a["id"], title="第三个需求")
    third = p.active(demand_id=demand3["id"])
    p.move(third["id"], "terminate")
    return {"first": first, "second": second, "third": third}


def _score(assessment: dict, expert_id: int) -> dict:
    return next(s for s in assessment["scores"]["items"] if s["expert_id"] == expert_id)


def test_the_score_is_the_sum_of_documented_parts_and_the_grade_follows(parties: Parties) -> None:
    _serve(parties)
    response = parties.client.post("/assessments", json={"period": YEAR}, headers=ADMIN)
    assert response.status_code == 201, response.text
    assessment = response.json()
    assert [p["name"] for p in assessment["parts"]] == ["ratings", "service_hours", "issues", "completion"]
    assert sum(p["max_points"] for p in assessment["parts"]) == 100
    x = _score(assessment, parties.expert_x["id"])
    # ratings mean 4.5 -> 35 * 3.5 / 4; 50 h of 3 x 40 h; issues 1 of 2 resolved, on time -> 7.5 + 5;
    # completion 2 of 3 ended -> 20 * 2 / 3.
    assert x["parts"] == {"ratings": 30.62, "service_hours": 8.33, "issues": 12.5, "completion": 13.33}
    assert x["computed_score"] == x["score"] == 64.8 and x["grade"] == "pass" and x["assessed"] is True
    assert x["figures"]["served"] == 3 and x["figures"]["hours"] == 50 and x["figures"]["mean_rating"] == 4.5
    y = _score(assessment, parties.expert_y["id"])
    assert (y["assessed"], y["score"], y["grade"]) == (False, None, None)
    assert assessment["grades"] == {"excellent": 0, "good": 0, "pass": 1, "fail": 0, "not_assessed": 1}
    figures = parties.client.get("/stats", headers=ADMIN).json()["assessment"]
    assert (figures["id"], figures["period"], figures["experts"], figures["mean_score"]) == (
        assessment["id"], YEAR, 2, 64.8
    )  # fmt: skip
    assert figures["grades"] == assessment["grades"]


def test_recomputing_over_the_same_data_gives_the_same_scores(parties: Parties) -> None:
    _serve(parties)
    first = parties.client.post("/assessments", json={"period": YEAR}, headers=ADMIN).json()
    second = parties.client.post("/assessments", json={"period": YEAR}, headers=ADMIN).json()
    assert first["id"] != second["id"]
    assert first["scores"]["items"] == second["scores"]["items"] and first["grades"] == second["grades"]


def test_data_outside_the_period_does_not_count(parties: Parties) -> None:
    _serve(parties)
    last_year = str(int(YEAR) - 1)
    assessment = parties.client.post("/assessments", json={"period": last_year}, headers=ADMIN).json()
    assert all(not s["assessed"] for s in assessment["scores"]["items"])
    assert assessment["starts_on"] == f"{last_year}-01-01" and assessment["ends_on"] == f"{YEAR}-01-01"


def test_an_administrator_adjusts_a_score_with_a_reason_and_it_is_audited(parties: Parties) -> None:
    _serve(parties)
    assessment = parties.client.post("/assessments", json={"period": YEAR}, headers=ADMIN).json()
    path = f"/assessments/{assessment['id']}/scores/{parties.expert_x['id']}"
    adjusted = parties.client.patch(path, json={"score": 91, "reason": "获省厅表彰"}, headers=ADMIN)
    assert adjusted.status_code == 200, adjusted.text
    body = adjusted.json()
    assert (body["score"], body["computed_score"], body["grade"], body["adjusted"]) == (91, 64.8, "excellent", True)
    assert body["adjust_reason"] == "获省厅表彰"
    events = [e for e in parties.audit("assessment", assessment["id"]) if e["action"] == "adjusted"]
    assert events[0]["detail"]["reason"] == "获省厅表彰" and events[0]["detail"]["from_score"] == 64.8
    assert (events[0]["from_status"], events[0]["to_status"]) == ("pass", "excellent")
    bad_bodies = (
        ({"score": 91}, "body.reason"),
        ({"score": 101, "reason": "x"}, "body.score"),
        ({"score": 50, "reason": ""}, "body.reason"),
        ({"score": "90", "reason": "x"}, "body.score"),
    )
    for bad, field in bad_bodies:
        response = parties.client.patch(path, json=bad, headers=ADMIN)
        assert response.status_code == 422 and field in [e["field"] for e in response.json()["errors"]], bad
    assert parties.client.patch(path, json={"score": 10, "reason": "x"}, headers=parties.exp_x).status_code == 403
    missing = f"/assessments/{assessment['id']}/scores/999999"
    assert parties.client.patch(missing, json={"score": 10, "reason": "x"}, headers=ADMIN).status_code == 404
    assert parties.client.get(path.rsplit("/scores", 1)[0], headers=ADMIN).json()["grades"]["excellent"] == 1


def test_a_specialist_sees_only_their_own_score_and_enterprises_none(parties: Parties) -> None:
    _serve(parties)
    assessment = parties.client.post("/assessments", json={"period": YEAR}, headers=ADMIN).json()
    own = parties.client.get(f"/assessments/{assessment['id']}", headers=parties.exp_x).json()
    assert [s["expert_id"] for s in own["scores"]["items"]] == [parties.expert_x["id"]] and own["grades"] is None
    assert parties.client.get(f"/assessments/{assessment['id']}", headers=parties.ent_a).status_code == 403
    assert parties.client.get("/assessments", headers=parties.ent_a).status_code == 403
    assert parties.client.post("/assessments", json={"period": YEAR}, headers=parties.exp_x).status_code == 403
    only_x = parties.client.post(
        "/assessments", json={"period": YEAR, "expert_ids": [parties.expert_x["id"]]}, headers=ADMIN
    ).json()
    assert parties.client.get(f"/assessments/{only_x['id']}", headers=parties.exp_y).status_code == 403
    listed = parties.client.get("/assessments", headers=parties.exp_y).json()
    assert [a["id"] for a in listed["items"]] == [assessment["id"]]
    assert parties.client.get("/assessments/999999", headers=ADMIN).status_code == 404


def test_bad_assessment_bodies_answer_422(parties: Parties) -> None:
    for body, field in (
        ({}, "body.period"),
        ({"period": "2025-13"}, "body.period"),
        ({"period": "2025-Q5"}, "body.period"),
        ({"period": "25"}, "body.period"),
        ({"period": 2025}, "body.period"),
        ({"period": "2025", "expert_ids": []}, "body.expert_ids"),
        ({"period": "2025", "expert_ids": [999_999]}, "body.expert_ids"),
        ({"period": "2025", "expert_ids": [0]}, "body.expert_ids.0"),
        ({"period": "2025", "scope": "all"}, "body.scope"),
    ):
        response = parties.client.post("/assessments", json=body, headers=ADMIN)
        assert response.status_code == 422, (body, response.text)
        assert field in [e["field"] for e in response.json()["errors"]], (body, response.json())
    assert parties.client.get("/assessments", headers=ADMIN).json()["total"] == 0


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [("2025", "2025-01-01", "2026-01-01"), ("2025-H2", "2025-07-01", "2026-01-01"),
     ("2025-Q1", "2025-01-01", "2025-04-01"), ("2025-12", "2025-12-01", "2026-01-01")],
)  # fmt: skip
def test_periods_are_years_halves_quarters_or_months(period: str, start: str, end: str) -> None:
    assert tuple(d.isoformat() for d in period_window(period)) == (start, end)


def test_parts_give_neutral_halves_without_data_and_full_marks_at_the_targets() -> None:
    neutral = score_parts(ratings=[], hours=0, served=1, issues=[], completed=0, terminated=0, hours_target=40)
    assert neutral == {"ratings": 17.5, "service_hours": 0.0, "issues": 25.0, "completion": 10.0}
    best = score_parts(
        ratings=[5, 5], hours=80, served=2, issues=[(True, True)], completed=2, terminated=0, hours_target=40
    )
    assert sum(best.values()) == 100
    assert [grade_of(s).value for s in (90, 89.9, 75, 60, 59.9)] == ["excellent", "good", "good", "pass", "fail"]


def test_the_last_grade_moves_suggestions_only_when_its_weight_is_set(parties: Parties, settings, engine) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from service.main import create_app

    twin = parties.api.expert(name="孪生专家")  # the same profile as X: equal text relevance
    assessment = parties.client.post(
        "/assessments", json={"period": YEAR, "expert_ids": [parties.expert_x["id"], twin["id"]]}, headers=ADMIN
    ).json()
    for expert_id, score in ((parties.expert_x["id"], 40), (twin["id"], 95)):
        parties.client.patch(
            f"/assessments/{assessment['id']}/scores/{expert_id}",
            json={"score": score, "reason": "测试"},
            headers=ADMIN,
        )

    def ranking(client: TestClient) -> list[tuple[int, float]]:
        items = client.get(f"/demands/{parties.demand['id']}/suggestions", headers=ADMIN).json()["items"]
        return [
            (i["expert_id"], i["components"]["assessment"])
            for i in items
            if i["expert_id"] in {parties.expert_x["id"], twin["id"]}
        ]

    default = ranking(parties.client)
    assert default[0][0] == parties.expert_x["id"]  # weight 0: ties broken by id, the grade changes nothing
    assert dict(default) == {parties.expert_x["id"]: 0.0, twin["id"]: 1.0}
    weighted = settings.model_copy(update={"weight_assessment": 0.1})
    with TestClient(create_app(weighted), raise_server_exceptions=False) as client:
        items = ranking(client)
        assert items[0][0] == twin["id"]
        reasons = client.get(f"/demands/{parties.demand['id']}/suggestions", headers=ADMIN).json()["items"]
        twin_item = next(i for i in reasons if i["expert_id"] == twin["id"])
        assert any("优秀" in r.get("zh", "") or "excellent" in str(r) for r in twin_item["reasons"])
