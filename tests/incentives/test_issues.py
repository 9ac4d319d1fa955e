"""The issue ledger of SPEC §8.1: raise, answer, resolve, confirm, reopen, overdue, filters and figures."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text
from sqlmodel import Session

from service.issues.models import Issue
from tests.incentives.conftest import ADMIN, Parties, raise_issue


def _today() -> date:
    return datetime.now(UTC).date()


def _respond(p: Parties, issue_id: int, resolved: bool, headers: dict | None = None):  # type: ignore[no-untyped-def]
    return p.client.post(
        f"/issues/{issue_id}/responses", json={"summary": "已处理", "resolved": resolved}, headers=headers or p.exp_x
    )


def test_an_issue_goes_open_answered_resolved_confirmed_with_its_answers(parties: Parties, active: dict) -> None:
    created = raise_issue(parties, active["id"], due_date=(_today() + timedelta(days=7)).isoformat())
    assert created.status_code == 201, created.text
    issue = created.json()
    assert issue["status"] == "open" and issue["overdue"] is False and issue["responses"] == []
    assert (issue["enterprise_id"], issue["expert_id"]) == (parties.enterprise_a["id"], parties.expert_x["id"])

    answered = _respond(parties, issue["id"], resolved=False)
    assert answered.status_code == 201 and answered.json()["status"] == "answered"
    resolved = _respond(parties, issue["id"], resolved=True)
    assert resolved.json()["status"] == "resolved" and resolved.json()["resolved_at"] is not None
    assert [r["resolved"] for r in resolved.json()["responses"]] == [False, True]

    confirmed = parties.client.post(
        f"/issues/{issue['id']}/confirm", json={"satisfaction": 4, "comment": "满意"}, headers=parties.ent_a
    )
    assert confirmed.status_code == 200, confirmed.text
    body = confirmed.json()
    assert (body["status"], body["satisfaction"], body["confirm_comment"]) == ("confirmed", 4, "满意")
    actions = [e["action"] for e in parties.audit("issue", issue["id"])]
    assert actions == ["raised", "answered", "resolved", "confirmed"]


def test_reopening_a_resolved_issue_makes_it_open_again_and_clears_the_resolution(
    parties: Parties, active: dict
) -> None:
    issue = raise_issue(parties, active["id"]).json()
    _respond(parties, issue["id"], resolved=True)
    reopened = parties.client.post(f"/issues/{issue['id']}/reopen", json={"reason": "又出现了"}, headers=parties.ent_a)
    assert reopened.status_code == 200, reopened.text
    assert (reopened.json()["status"], reopened.json()["resolved_at"], reopened.json()["reopened"]) == ("open", None, 1)
    # Answered again and resolved again; then it can be confirmed.
    assert _respond(parties, issue["id"], resolved=True).json()["status"] == "resolved"
    assert parties.client.post(f"/issues/{issue['id']}/reopen", headers=parties.ent_a).json()["reopened"] == 2


def test_illegal_moves_answer_409_and_change_nothing(parties: Parties, active: dict) -> None:
    issue = raise_issue(parties, active["id"]).json()
    for path, body in (("confirm", {"satisfaction": 5}), ("reopen", {})):
        response = parties.client.post(f"/issues/{issue['id']}/{path}", json=body, headers=parties.ent_a)
        assert response.status_code == 409 and response.json()["code"] == "illegal-issue-transition", response.text
    _respond(parties, issue["id"], resolved=True)
    again = _respond(parties, issue["id"], resolved=False)
    assert again.status_code == 409 and again.json()["status_now"] == "resolved"
    parties.client.post(f"/issues/{issue['id']}/confirm", json={"satisfaction": 3}, headers=parties.ent_a)
    for path, body in (("confirm", {"satisfaction": 5}), ("reopen", {})):
        response = parties.client.post(f"/issues/{issue['id']}/{path}", json=body, headers=parties.ent_a)
        assert response.status_code == 409
    assert _respond(parties, issue["id"], resolved=True).status_code == 409
    now = parties.client.get(f"/issues/{issue['id']}", headers=ADMIN).json()
    assert (now["status"], now["satisfaction"], len(now["responses"])) == ("confirmed", 3, 1)


def test_issues_are_raised_only_on_active_engagements(parties: Parties) -> None:
    offered = parties.offered()
    response = raise_issue(parties, offered["id"])
    assert response.status_code == 409 and response.json()["code"] == "engagement-not-active"
    parties.move(offered["id"], "accept")
    parties.move(offered["id"], "complete")
    assert raise_issue(parties, offered["id"]).status_code == 409
    assert raise_issue(parties, 999_999).status_code == 404


def test_an_issue_raised_during_service_can_still_be_answered_after_completion(parties: Parties, active: dict) -> None:
    issue = raise_issue(parties, active["id"]).json()
    parties.move(active["id"], "complete")
    assert _respond(parties, issue["id"], resolved=True).status_code == 201


def test_bad_issue_bodies_answer_422_naming_the_field(parties: Parties, active: dict) -> None:
    yesterday = (_today() - timedelta(days=2)).isoformat()
    cases = [
        ({"title": "", "description": "x"}, "body.title"),
        ({"title": "t"}, "body.description"),
        ({"title": "t", "description": "x", "due_date": "2026-13-01"}, "body.due_date"),
        ({"title": "t", "description": "x", "due_date": yesterday}, "body.due_date"),
        ({"title": "t\x00", "description": "x"}, "body.title"),
        ({"title": "t", "description": "x", "priority": "high"}, "body.priority"),
    ]
    for body, field in cases:
        response = parties.client.post(f"/engagements/{active['id']}/issues", json=body, headers=parties.ent_a)
        assert response.status_code == 422, (body, response.text)
        assert field in [e["field"] for e in response.json()["errors"]], (body, response.json())
    issue = raise_issue(parties, active["id"]).json()
    for path, body, field in (
        ("responses", {"summary": "x"}, "body.resolved"),
        ("responses", {"summary": "", "resolved": True}, "body.summary"),
        ("confirm", {"satisfaction": 6}, "body.satisfaction"),
        ("confirm", {}, "body.satisfaction"),
    ):
        headers = parties.exp_x if path == "responses" else parties.ent_a
        response = parties.client.post(f"/issues/{issue['id']}/{path}", json=body, headers=headers)
        assert response.status_code == 422 and field in [e["field"] for e in response.json()["errors"]]
    assert parties.client.get("/issues?overdue=maybe", headers=ADMIN).status_code == 422
    assert parties.client.get("/issues?status=closed", headers=ADMIN).status_code == 422
    assert parties.client.get(f"/issues/{issue['id']}", headers=ADMIN).json()["status"] == "open"


def test_only_the_right_party_may_act_on_an_issue(parties: Parties, active: dict) -> None:
    assert raise_issue(parties, active["id"], headers=parties.exp_x).status_code == 403
    assert raise_issue(parties, active["id"], headers=parties.ent_b).status_code == 403
    issue = raise_issue(parties, active["id"]).json()
    assert _respond(parties, issue["id"], resolved=True, headers=parties.ent_a).status_code == 403
    assert _respond(parties, issue["id"], resolved=True, headers=parties.exp_y).status_code == 403
    _respond(parties, issue["id"], resolved=True)
    confirm = {"satisfaction": 5}
    assert parties.client.post(f"/issues/{issue['id']}/confirm", json=confirm, headers=parties.exp_x).status_code == 403
    assert parties.client.post(f"/issues/{issue['id']}/reopen", headers=parties.ent_b).status_code == 403
    assert parties.client.get(f"/issues/{issue['id']}", headers=parties.exp_y).status_code == 403
    assert parties.client.get(f"/issues/{issue['id']}", headers=parties.exp_x).status_code == 200
    assert parties.client.get("/issues/424242", headers=ADMIN).status_code == 404


def test_lists_filter_by_party_status_and_overdue_and_show_only_ones_own(parties: Parties, engine) -> None:
    first = parties.active()
    other_demand = parties.api.demand(parties.enterprise_b["id"], title="另一个需求")
    second = parties.active(demand_id=other_demand["id"], expert_id=parties.expert_y["id"], headers=parties.ent_b)
    late = raise_issue(parties, first["id"], due_date=_today().isoformat()).json()
    on_time = raise_issue(parties, first["id"]).json()
    theirs = raise_issue(parties, second["id"], headers=parties.ent_b).json()
    # Make one issue's due date pass, as time would.
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE issue SET due_date = :d WHERE id = :i"),
            {"d": _today() - timedelta(days=3), "i": late["id"]},
        )

    def ids(query: str, headers: dict) -> list[int]:
        response = parties.client.get(f"/issues{query}", headers=headers)
        assert response.status_code == 200, response.text
        return [i["id"] for i in response.json()["items"]]

    assert ids("", ADMIN) == [late["id"], on_time["id"], theirs["id"]]
    assert ids("", parties.ent_a) == [late["id"], on_time["id"]]
    assert ids("", parties.exp_y) == [theirs["id"]]
    assert ids("", parties.ent_b) == [theirs["id"]]
    assert ids(f"?expert_id={parties.expert_y['id']}", ADMIN) == [theirs["id"]]
    assert ids(f"?enterprise_id={parties.enterprise_a['id']}", ADMIN) == [late["id"], on_time["id"]]
    assert ids("?overdue=true", ADMIN) == [late["id"]]
    assert ids("?overdue=false", ADMIN) == [on_time["id"], theirs["id"]]
    assert ids("?overdue=true", parties.exp_y) == []
    assert parties.client.get(f"/issues/{late['id']}", headers=ADMIN).json()["overdue"] is True
    _respond(parties, late["id"], resolved=True)
    assert ids("?overdue=true", ADMIN) == []
    assert ids("?status=resolved", ADMIN) == [late["id"]]
    assert ids(f"?engagement_id={second['id']}", ADMIN) == [theirs["id"]]
    per_engagement = parties.client.get(f"/engagements/{first['id']}/issues", headers=parties.exp_x)
    assert [i["id"] for i in per_engagement.json()["items"]] == [late["id"], on_time["id"]]
    assert parties.client.get(f"/engagements/{first['id']}/issues", headers=parties.exp_y).status_code == 403


def test_stats_count_raised_resolved_overdue_and_the_median_days_to_resolve(parties: Parties, engine) -> None:
    engagement = parties.active()
    issues = [raise_issue(parties, engagement["id"], due_date=_today().isoformat()).json() for _ in range(4)]
    for issue in issues[:3]:
        _respond(parties, issue["id"], resolved=True)
    parties.client.post(f"/issues/{issues[0]['id']}/confirm", json={"satisfaction": 5}, headers=parties.ent_a)
    parties.client.post(f"/issues/{issues[1]['id']}/confirm", json={"satisfaction": 2}, headers=parties.ent_a)
    with Session(engine) as db_session:
        # Back-date the raising so that the three resolutions took 1, 2 and 6 days; the open one is now late.
        for issue, days in zip(issues[:3], (1, 2, 6), strict=True):
            row = db_session.get(Issue, issue["id"])
            row.created_at = row.resolved_at - timedelta(days=days)
            db_session.add(row)
        late = db_session.get(Issue, issues[3]["id"])
        late.due_date = _today() - timedelta(days=1)
        db_session.add(late)
        db_session.commit()
    figures = parties.client.get("/stats", headers=ADMIN).json()["issues"]
    assert figures["raised"] == 4 and figures["resolved"] == 3 and figures["overdue"] == 1
    assert figures["by_status"] == {"open": 1, "answered": 0, "resolved": 1, "confirmed": 2}
    assert abs(figures["median_days_to_resolve"] - 2.0) < 0.01
    assert figures["mean_satisfaction"] == 3.5
