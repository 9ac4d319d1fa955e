"""Innovation vouchers of SPEC §8.2: issue, redeem against completed engagements, balance and expiry, figures."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session

from service.vouchers.models import Voucher
from tests.incentives.conftest import ADMIN, Parties


def _later(days: int = 365) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


def issue(p: Parties, **overrides):  # type: ignore[no-untyped-def]
    body = {
        "holder_type": "enterprise",
        "holder_id": p.enterprise_a["id"],
        "amount_cny": 1000,
        "valid_until": _later(),
        "purpose": "科技创新券",
        **overrides,
    }
    return p.client.post("/vouchers", json=body, headers=ADMIN)


def redeem(p: Parties, voucher_id: int, engagement_id: int, amount, headers: dict | None = None):  # type: ignore[no-untyped-def]
    return p.client.post(
        f"/vouchers/{voucher_id}/redeem",
        json={"engagement_id": engagement_id, "amount_cny": amount},
        headers=headers or p.ent_a,
    )


def test_a_voucher_is_redeemed_in_parts_down_to_zero_and_never_beyond(parties: Parties) -> None:
    created = issue(parties, amount_cny="1000.50")
    assert created.status_code == 201, created.text
    voucher = created.json()
    assert (voucher["amount_cny"], voucher["balance_cny"], voucher["status"]) == (1000.5, 1000.5, "active")
    engagement = parties.completed()
    first = redeem(parties, voucher["id"], engagement["id"], 400.25)
    assert first.status_code == 201, first.text
    assert first.json()["balance_cny"] == 600.25 and first.json()["redemption"]["amount_cny"] == 400.25
    too_much = redeem(parties, voucher["id"], engagement["id"], 600.26)
    assert too_much.status_code == 409 and too_much.json()["code"] == "voucher-insufficient-balance"
    assert too_much.json()["balance_cny"] == 600.25
    rest = redeem(parties, voucher["id"], engagement["id"], 600.25)
    assert rest.status_code == 201 and rest.json()["balance_cny"] == 0 and rest.json()["status"] == "exhausted"
    assert redeem(parties, voucher["id"], engagement["id"], 0.01).status_code == 409
    listed = parties.client.get(f"/vouchers/{voucher['id']}/redemptions", headers=parties.ent_a).json()
    assert [r["amount_cny"] for r in listed["items"]] == [400.25, 600.25] and listed["total"] == 2
    assert [e["action"] for e in parties.audit("voucher", voucher["id"])] == ["issued", "redeemed", "redeemed"]


def test_redemption_needs_a_completed_engagement_of_the_holder(parties: Parties) -> None:
    voucher = issue(parties).json()
    active = parties.active()
    refused = redeem(parties, voucher["id"], active["id"], 10)
    assert refused.status_code == 409 and refused.json()["code"] == "engagement-not-completed"
    other_demand = parties.api.demand(parties.enterprise_b["id"], title="乙企业需求")
    theirs = parties.completed(demand_id=other_demand["id"], expert_id=parties.expert_y["id"], headers=parties.ent_b)
    mismatch = redeem(parties, voucher["id"], theirs["id"], 10, headers=ADMIN)
    assert mismatch.status_code == 409 and mismatch.json()["code"] == "voucher-holder-mismatch"
    missing = redeem(parties, voucher["id"], 987_654, 10)
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "body.engagement_id"
    # A specialist's voucher goes with the specialist's engagements.
    expert_voucher = issue(parties, holder_type="expert", holder_id=parties.expert_y["id"]).json()
    assert redeem(parties, expert_voucher["id"], theirs["id"], 10, headers=parties.exp_y).status_code == 201
    assert parties.client.get(f"/vouchers/{voucher['id']}", headers=ADMIN).json()["balance_cny"] == 1000


def test_an_expired_voucher_is_refused_and_counted_as_expired(parties: Parties, engine) -> None:
    voucher = issue(parties, amount_cny=300).json()
    engagement = parties.completed()
    with Session(engine) as db_session:
        row = db_session.get(Voucher, voucher["id"])
        row.valid_until = datetime.now(UTC).date() - timedelta(days=1)
        db_session.add(row)
        db_session.commit()
    refused = redeem(parties, voucher["id"], engagement["id"], 10)
    assert refused.status_code == 409 and refused.json()["code"] == "voucher-expired"
    assert parties.client.get(f"/vouchers/{voucher['id']}", headers=ADMIN).json()["status"] == "expired"
    assert [v["id"] for v in parties.client.get("/vouchers?status=expired", headers=ADMIN).json()["items"]] == [
        voucher["id"]
    ]
    assert parties.client.get("/vouchers?status=active", headers=ADMIN).json()["total"] == 0


def test_the_last_valid_day_still_redeems(parties: Parties) -> None:
    voucher = issue(parties, valid_until=datetime.now(UTC).date().isoformat()).json()
    assert redeem(parties, voucher["id"], parties.completed()["id"], 1).status_code == 201


def test_bad_voucher_bodies_answer_422_naming_the_field_and_write_nothing(parties: Parties) -> None:
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    cases = [
        ({"amount_cny": 0}, "body.amount_cny"),
        ({"amount_cny": -5}, "body.amount_cny"),
        ({"amount_cny": 10.001}, "body.amount_cny"),
        ({"amount_cny": 1e12}, "body.amount_cny"),
        ({"amount_cny": "NaN"}, "body.amount_cny"),
        ({"holder_type": "unit"}, "body.holder_type"),
        ({"holder_id": 0}, "body.holder_id"),
        ({"holder_id": 999_999}, "body.holder_id"),
        ({"holder_type": "expert", "holder_id": 999_999}, "body.holder_id"),
        ({"valid_until": yesterday}, "body.valid_until"),
        ({"valid_until": "31/12/2027"}, "body.valid_until"),
        ({"purpose": "x" * 2001}, "body.purpose"),
        ({"colour": "red"}, "body.colour"),
    ]
    for overrides, field in cases:
        response = issue(parties, **overrides)
        assert response.status_code == 422, (overrides, response.text)
        assert field in [e["field"] for e in response.json()["errors"]], (overrides, response.json())
    voucher = issue(parties).json()
    engagement = parties.completed()
    for body, field in (
        ({"engagement_id": engagement["id"]}, "body.amount_cny"),
        ({"amount_cny": 5}, "body.engagement_id"),
        ({"engagement_id": "x", "amount_cny": 5}, "body.engagement_id"),
        ({"engagement_id": engagement["id"], "amount_cny": 0.001}, "body.amount_cny"),
    ):
        response = parties.client.post(f"/vouchers/{voucher['id']}/redeem", json=body, headers=parties.ent_a)
        assert response.status_code == 422 and field in [e["field"] for e in response.json()["errors"]]
    assert parties.client.get("/vouchers", headers=ADMIN).json()["total"] == 1
    assert parties.client.get(f"/vouchers/{voucher['id']}", headers=ADMIN).json()["balance_cny"] == 1000
    assert (
        parties.client.post(
            "/vouchers/999999/redeem", json={"engagement_id": 1, "amount_cny": 1}, headers=ADMIN
        ).status_code
        == 404
    )


def test_holders_see_only_their_own_vouchers(parties: Parties) -> None:
    mine = issue(parties).json()
    theirs = issue(parties, holder_id=parties.enterprise_b["id"]).json()
    expert_one = issue(parties, holder_type="expert", holder_id=parties.expert_x["id"]).json()

    def ids(headers: dict, query: str = "") -> list[int]:
        return [v["id"] for v in parties.client.get(f"/vouchers{query}", headers=headers).json()["items"]]

    assert ids(ADMIN) == [mine["id"], theirs["id"], expert_one["id"]]
    assert ids(parties.ent_a) == [mine["id"]]
    assert ids(parties.exp_x) == [expert_one["id"]]
    assert ids(parties.exp_y) == []
    assert ids(ADMIN, "?holder_type=expert") == [expert_one["id"]]
    assert ids(ADMIN, f"?holder_type=enterprise&holder_id={parties.enterprise_b['id']}") == [theirs["id"]]
    assert parties.client.get(f"/vouchers/{theirs['id']}", headers=parties.ent_a).status_code == 403
    engagement = parties.completed()
    assert redeem(parties, theirs["id"], engagement["id"], 1).status_code == 403


def test_stats_sum_issued_redeemed_outstanding_and_expired(parties: Parties, engine) -> None:
    first = issue(parties, amount_cny=1000).json()
    issue(parties, amount_cny="250.50")
    expired = issue(parties, amount_cny=100).json()
    engagement = parties.completed()
    redeem(parties, first["id"], engagement["id"], 300)
    redeem(parties, first["id"], engagement["id"], "0.25")
    with Session(engine) as db_session:
        row = db_session.get(Voucher, expired["id"])
        row.valid_until = date(2020, 1, 1)
        db_session.add(row)
        db_session.commit()
    figures = parties.client.get("/stats", headers=ADMIN).json()["vouchers"]
    assert figures == {
        "issued": 3,
        "issued_cny": 1350.5,
        "redeemed_cny": 300.25,
        "outstanding_cny": 950.25,
        "expired_cny": 100.0,
        "redemptions": 2,
    }
