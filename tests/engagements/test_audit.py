"""The audit trail: every state change of an engagement or an interest leaves one row, readable by administrators."""

from __future__ import annotations

from datetime import date

import pytest

from tests.engagements.conftest import Parties
from tests.factories import ADMIN


def key_id(parties: Parties, headers: dict) -> int:
    """The id of the key behind these headers (the newest key of that party)."""
    keys = parties.client.get("/keys?limit=200", headers=ADMIN).json()["items"]
    secret = headers["Authorization"].removeprefix("Bearer ")
    return next(k["id"] for k in reversed(keys) if secret.startswith(k["prefix"]))


def test_every_engagement_change_is_audited_with_its_actor(parties: Parties) -> None:
    engagement = parties.offered()
    parties.move(engagement["id"], "accept", headers=parties.exp_x)
    parties.client.post(
        f"/engagements/{engagement['id']}/logs",
        json={"date": date.today().isoformat(), "hours": 2, "summary": "调研"},
        headers=parties.exp_x,
    )
    parties.move(engagement["id"], "complete", headers=parties.ent_a, reason="验收通过")
    parties.client.post(f"/engagements/{engagement['id']}/rating", json={"rating": 5}, headers=parties.ent_a)
    events = parties.audit("engagement", engagement["id"])
    assert [(e["action"], e["from_status"], e["to_status"]) for e in events] == [
        ("created", None, "offered"),
        ("accepted", "offered", "active"),
        ("logged", "active", "active"),
        ("completed", "active", "completed"),
        ("rated", "completed", "completed"),
    ]
    ent_key, exp_key = key_id(parties, parties.ent_a), key_id(parties, parties.exp_x)
    assert [(e["actor_role"], e["actor_key_id"], e["actor_party_id"]) for e in events] == [
        ("enterprise", ent_key, parties.enterprise_a["id"]),
        ("expert", exp_key, parties.expert_x["id"]),
        ("expert", exp_key, parties.expert_x["id"]),
        ("enterprise", ent_key, parties.enterprise_a["id"]),
        ("enterprise", ent_key, parties.enterprise_a["id"]),
    ]
    assert events[0]["detail"]["mode"] == "enterprise_selection"
    assert events[3]["detail"] == {"reason": "验收通过"} and events[4]["detail"] == {"rating": 5}
    assert all(e["entity"] == "engagement" and e["at"].endswith("Z") for e in events)


def test_the_demands_status_changes_are_audited_too(parties: Parties) -> None:
    engagement = parties.active()
    parties.move(engagement["id"], "terminate", headers=ADMIN)
    events = parties.audit("demand", parties.demand["id"])
    assert [(e["action"], e["from_status"], e["to_status"], e["actor_role"]) for e in events] == [
        ("matched", "open", "matched", "admin"),
        ("reopened", "matched", "open", "admin"),
    ]


@pytest.mark.parametrize("ending", ["decline", "terminate"])
def test_declines_and_terminations_are_audited(parties: Parties, ending: str) -> None:
    engagement = parties.offered() if ending == "decline" else parties.active()
    parties.move(engagement["id"], ending, headers=parties.exp_x, reason="时间冲突")
    last = parties.audit("engagement", engagement["id"])[-1]
    assert last["action"] == f"{ending}d" and last["to_status"] == f"{ending}d"
    assert last["detail"] == {"reason": "时间冲突"}


def test_interests_are_audited_from_creation_to_match_or_withdrawal(parties: Parties) -> None:
    demand, expert = parties.demand["id"], parties.expert_x["id"]
    first = parties.client.post(f"/experts/{expert}/interests", json={"demand_id": demand}, headers=parties.exp_x)
    first_id = first.json()["interest"]["id"]
    parties.client.delete(f"/experts/{expert}/interests/{demand}", headers=parties.exp_x)
    assert [(e["action"], e["to_status"]) for e in parties.audit("interest", first_id)] == [
        ("created", "pending"),
        ("withdrawn", "withdrawn"),
    ]
    second = parties.client.post(f"/experts/{expert}/interests", json={"demand_id": demand}, headers=parties.exp_x)
    third = parties.client.post(f"/demands/{demand}/interests", json={"expert_id": expert}, headers=parties.ent_a)
    engagement = third.json()["engagement"]
    for interest in (second.json()["interest"], third.json()["interest"]):
        events = parties.audit("interest", interest["id"])
        assert [(e["action"], e["to_status"]) for e in events] == [("created", "pending"), ("matched", "matched")]
        assert events[-1]["detail"] == {"engagement_id": engagement["id"], "mode": "mutual_selection"}
    created = parties.audit("engagement", engagement["id"])
    assert [(e["action"], e["to_status"], e["detail"]["mode"]) for e in created] == [
        ("created", "active", "mutual_selection")
    ]


def test_the_audit_trail_pages_and_filters(parties: Parties) -> None:
    engagement = parties.active()
    everything = parties.client.get("/audit", headers=ADMIN).json()
    assert everything["total"] == 3  # created, accepted, demand matched
    assert [e["id"] for e in everything["items"]] == sorted(e["id"] for e in everything["items"])
    accepted = parties.client.get("/audit?action=accepted", headers=ADMIN).json()
    assert accepted["total"] == 1 and accepted["items"][0]["entity_id"] == engagement["id"]
    page = parties.client.get("/audit?limit=1&offset=2", headers=ADMIN).json()
    assert page["items"] == everything["items"][2:] and page["total"] == 3
    assert parties.client.get("/audit?entity_id=0", headers=ADMIN).status_code == 422


@pytest.mark.parametrize("who", ["ent_a", "exp_x"])
def test_only_administrators_read_the_audit_trail(parties: Parties, who: str) -> None:
    assert parties.client.get("/audit", headers=getattr(parties, who)).status_code == 403
    assert parties.client.get("/audit").status_code == 401
