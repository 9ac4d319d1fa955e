"""Over HTTP, on the demo repository: every suggestion's explanation is true (both sides), and topic fit comes
first in every list."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from matching.records import DemandProfile, ExpertProfile
from matching.scoring import Evidence, Reason, Suggestion
from service.config import Settings
from service.demo import load_demo
from service.main import create_app
from tests.factories import ADMIN
from tests.matching.test_explanations import assert_true_explanation


@pytest.fixture
def demo_client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    load_demo(engine, settings.fixtures_dir / "demo")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def _all(client: TestClient, path: str) -> list[dict]:
    out: list[dict] = []
    while True:
        page = client.get(path, params={"limit": 100, "offset": len(out)}, headers=ADMIN).json()
        out += page["items"]
        if len(out) >= page["total"] or not page["items"]:
            return out


def _expert(rec: dict) -> ExpertProfile:
    return ExpertProfile(
        id=rec["id"],
        title=rec.get("title") or "",
        fields=tuple(rec.get("fields") or ()),
        keywords=tuple(rec.get("keywords") or ()),
        bio=rec.get("bio") or "",
        achievements=rec.get("achievements") or "",
    )


def _demand(rec: dict) -> DemandProfile:
    return DemandProfile(
        id=rec["id"],
        enterprise_id=rec["enterprise_id"],
        title=rec["title"],
        description=rec.get("description") or "",
        keywords=tuple(rec.get("keywords") or ()),
        industry=rec.get("industry") or "",
    )


def _suggestion(item: dict, demand_id: int, expert_id: int) -> Suggestion:
    ev = item["evidence"]
    return Suggestion(
        demand_id=demand_id,
        expert_id=expert_id,
        score=item["score"],
        components=item["components"],
        matched_terms=item["matched_terms"],
        missing_keywords=item["missing_keywords"],
        evidence=Evidence(**ev) if ev else None,
        reasons=[Reason(code=r["code"], en=r["en"], zh=r["zh"]) for r in item["reasons"]],
    )


def _topic_first(items: list[dict]) -> None:
    if items:
        first = items[0]["components"]["text"]
        assert not [i for i in items[1:] if i["components"]["text"] >= max(2 * first, 0.2)]


def test_demo_suggestions_over_http_are_true_and_topic_first_on_both_sides(demo_client: TestClient) -> None:
    experts = {e["id"]: _expert(e) for e in _all(demo_client, "/experts")}
    demands = {d["id"]: _demand(d) for d in _all(demo_client, "/demands")}
    assert len(experts) >= 200 and len(demands) >= 100
    checked = 0
    for d_id, demand in demands.items():
        r = demo_client.get(f"/demands/{d_id}/suggestions", params={"limit": 10}, headers=ADMIN)
        if r.status_code == 409:  # a demand that is no longer open has no suggestions
            continue
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        _topic_first(items)
        for item in items:
            assert_true_explanation(_suggestion(item, d_id, item["expert_id"]), experts[item["expert_id"]], demand)
            checked += 1
    for e_id, expert in experts.items():
        r = demo_client.get(f"/experts/{e_id}/suggestions", params={"limit": 10}, headers=ADMIN)
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        _topic_first(items)
        for item in items:
            assert_true_explanation(_suggestion(item, item["demand_id"], e_id), expert, demands[item["demand_id"]])
            checked += 1
    assert checked >= 2000
