"""The programme's figures on a small dataset whose answers are known."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from tests.factories import ADMIN, Api


def _select(api: Api, demand_id: int, expert_id: int) -> int:
    response = api.client.post(f"/demands/{demand_id}/selections", json={"expert_id": expert_id}, headers=ADMIN)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _move(api: Api, engagement_id: int, action: str) -> None:
    api.client.post(f"/engagements/{engagement_id}/{action}", headers=ADMIN).raise_for_status()


@pytest.fixture
def programme(api: Api, engine) -> dict:  # type: ignore[no-untyped-def]
    ent = api.enterprise(region="大连市", industry="装备制造")["id"]
    d1 = api.demand(ent, region="大连市", industry="装备制造")["id"]
    d2 = api.demand(ent, region="沈阳市", industry="石油化工")["id"]
    api.demand(ent, region="大连市", industry="装备制造", status="draft")
    d4 = api.demand(ent, region="鞍山市", industry="冶金")["id"]
    d5 = api.demand(ent, region="大连市", industry="装备制造")["id"]
    api.client.patch(f"/demands/{d4}", json={"status": "cancelled"}, headers=ADMIN).raise_for_status()
    x = api.expert(name="省内专家", origin="in_province", capacity=2)["id"]
    y = api.expert(name="Foreign Expert", origin="foreign", region="Munich", capacity=1)["id"]
    api.expert(name="省外专家", origin="out_of_province", region="北京市", active=False)
    e_active = _select(api, d5, x)
    _move(api, e_active, "accept")  # d5 matched (headcount 1)
    e_offered = _select(api, d1, y)  # y full
    e_declined = _select(api, d2, x)
    _move(api, e_declined, "decline")
    # Publication and first-engagement times: 2 h (d5), 6 h (d1), 1 h (d2) -> median 2 h.
    published = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    with engine.begin() as conn:
        for demand_id in (d1, d2, d5):
            conn.execute(
                text("UPDATE demand SET published_at = :at WHERE id = :id"), {"at": published, "id": demand_id}
            )
        for engagement_id, hour in ((e_active, 12), (e_offered, 16), (e_declined, 11)):
            conn.execute(
                text("UPDATE engagement SET created_at = :at WHERE id = :id"),
                {"at": published.replace(hour=hour), "id": engagement_id},
            )
    return {"enterprise": ent}


def test_stats_give_the_programme_figures(api: Api, programme: dict) -> None:
    response = api.client.get("/stats", headers=ADMIN)
    assert response.status_code == 200, response.text
    stats = response.json()
    assert stats["demands"] == {
        "total": 5,
        "by_status": {"open": 2, "cancelled": 1, "draft": 1, "matched": 1},
        "by_region": {"大连市": 3, "沈阳市": 1, "鞍山市": 1},
        "by_industry": {"装备制造": 3, "冶金": 1, "石油化工": 1},
    }
    assert stats["experts"] == {
        "total": 3,
        "active": 2,
        "by_origin": {"foreign": 1, "in_province": 1, "out_of_province": 1},
        "by_load": {"1": 1, "full": 1},
    }
    assert stats["engagements"] == {
        "total": 3,
        "by_mode": {"enterprise_selection": 3},
        "by_status": {"active": 1, "declined": 1, "offered": 1},
    }
    assert stats["open_demands_matched"] == {"open": 2, "matched": 1, "share": pytest.approx(1 / 3)}
    assert stats["time_to_first_engagement"] == {"demands": 3, "median_seconds": 7200.0, "median_hours": 2.0}


def test_stats_on_an_empty_programme(api: Api) -> None:
    stats = api.client.get("/stats", headers=ADMIN).json()
    assert stats["demands"]["total"] == 0 and stats["experts"]["by_load"] == {}
    assert stats["open_demands_matched"]["share"] is None
    assert stats["time_to_first_engagement"] == {"demands": 0, "median_seconds": None, "median_hours": None}


def test_stats_are_for_administrators(api: Api, programme: dict) -> None:
    enterprise = api.headers("enterprise", enterprise_id=programme["enterprise"])
    assert api.client.get("/stats", headers=enterprise).status_code == 403
    assert api.client.get("/stats").status_code == 401
