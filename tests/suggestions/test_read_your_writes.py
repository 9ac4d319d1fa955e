"""A write shows in the very next suggestion request, on this worker and on any other, without a refit per request."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, text
from sqlmodel import Session

from service.common import RecordChange, utcnow
from service.experts.models import Expert
from tests.conftest import BACKEND
from tests.factories import ADMIN
from tests.suggestions.conftest import World, ids


def _patch_expert(world: World, expert_id: int, **body: object) -> None:
    response = world.client.patch(f"/experts/{expert_id}", json=body, headers=ADMIN)
    assert response.status_code == 200, response.text


def _exclusions(page: dict, expert_id: int) -> set[str]:
    item = next(i for i in page["items"] if i["expert_id"] == expert_id)
    return {r["code"] for r in item["exclusions"]}


def test_a_new_specialist_shows_in_the_next_request(world: World) -> None:
    world.experts_for()
    new = world.api.expert(name="新专家", keywords=["故障诊断", "轴承"], fields=["轴承故障诊断"])
    assert new["id"] in ids(world.experts_for())


def test_a_text_change_shows_in_the_next_request(world: World) -> None:
    assert world.unrelated["id"] not in ids(world.experts_for())
    _patch_expert(world, world.unrelated["id"], keywords=["故障诊断", "轴承", "深度学习"])
    assert world.unrelated["id"] in ids(world.experts_for())
    _patch_expert(world, world.unrelated["id"], keywords=["催化剂"])
    assert world.unrelated["id"] not in ids(world.experts_for())


def test_deactivating_and_declaring_a_conflict_exclude_at_once(world: World) -> None:
    world.experts_for()
    _patch_expert(world, world.strong["id"], active=False)
    assert world.strong["id"] not in ids(world.experts_for())
    assert _exclusions(world.experts_for(include_excluded="true"), world.strong["id"]) == {"inactive"}
    _patch_expert(world, world.strong["id"], active=True, conflicts=[world.enterprise["id"]])
    assert _exclusions(world.experts_for(include_excluded="true"), world.strong["id"]) == {"conflict_of_interest"}
    _patch_expert(world, world.strong["id"], conflicts=[])
    assert world.strong["id"] in ids(world.experts_for())


def test_capacity_and_load_follow_engagements(world: World) -> None:
    _patch_expert(world, world.strong["id"], capacity=1)
    before = next(i for i in world.experts_for()["items"] if i["expert_id"] == world.strong["id"])
    assert before["components"]["capacity"] == 1.0
    other = world.api.demand(world.enterprise["id"], title="轴承寿命预测")
    offer = world.client.post(
        f"/demands/{other['id']}/selections", json={"expert_id": world.strong["id"]}, headers=ADMIN
    )
    assert offer.status_code == 201, offer.text
    assert world.strong["id"] not in ids(world.experts_for())
    assert _exclusions(world.experts_for(include_excluded="true"), world.strong["id"]) == {"no_capacity"}
    _patch_expert(world, world.strong["id"], capacity=3)
    after = next(i for i in world.experts_for()["items"] if i["expert_id"] == world.strong["id"])
    assert after["components"]["capacity"] == pytest.approx(2 / 3, abs=1e-3)
    declined = world.client.post(f"/engagements/{offer.json()['id']}/decline", headers=ADMIN)
    assert declined.status_code == 200
    restored = next(i for i in world.experts_for()["items"] if i["expert_id"] == world.strong["id"])
    assert restored["components"]["capacity"] == 1.0


def test_demand_changes_show_in_specialists_suggestions(world: World) -> None:
    assert world.demands_for(world.unrelated["id"])["items"] == []
    patched = world.client.patch(
        f"/demands/{world.demand['id']}", json={"keywords": ["催化剂", "有机化学"]}, headers=ADMIN
    )
    assert patched.status_code == 200
    assert ids(world.demands_for(world.unrelated["id"]), "demand_id") == [world.demand["id"]]
    new = world.api.demand(world.other_enterprise["id"], title="催化剂寿命评估", keywords=["催化剂"])
    assert new["id"] in ids(world.demands_for(world.unrelated["id"]), "demand_id")
    assert world.client.delete(f"/demands/{new['id']}", headers=ADMIN).status_code == 204
    assert new["id"] not in ids(world.demands_for(world.unrelated["id"]), "demand_id")


def test_a_deleted_specialist_disappears(world: World) -> None:
    world.experts_for()
    assert world.client.delete(f"/experts/{world.weak['id']}", headers=ADMIN).status_code == 204
    assert world.weak["id"] not in ids(world.experts_for(include_excluded="true"))


def test_a_write_through_one_worker_shows_in_the_next_request_to_another(
    second_client: TestClient, world: World
) -> None:
    # Both workers built their matchers before the writes below; only the change log can tell the second one.
    assert ids(world.experts_for(client=second_client)) == ids(world.experts_for())
    new = world.api.expert(name="跨进程专家", keywords=["故障诊断", "轴承", "深度学习"], fields=["轴承故障诊断"])
    assert new["id"] in ids(world.experts_for(client=second_client))
    second_client.patch(f"/experts/{new['id']}", json={"active": False}, headers=ADMIN).raise_for_status()
    assert new["id"] not in ids(world.experts_for())
    _patch_expert(world, world.strong["id"], conflicts=[world.enterprise["id"]])
    assert world.strong["id"] not in ids(world.experts_for(client=second_client))
    world.client.patch(f"/demands/{world.demand['id']}", json={"status": "cancelled"}, headers=ADMIN).raise_for_status()
    assert world.demands_for(world.weak["id"], client=second_client)["items"] == []


def test_catching_up_applies_only_the_changes_without_refitting(world: World) -> None:
    for n in range(10):
        world.api.expert(name=f"专家{n}", keywords=["故障诊断"], title="教授")
    live = world.client.app.state.matcher  # type: ignore[attr-defined]
    live.refit_now()
    world.experts_for()
    refits, upserts = live.stats.inline_refits, live.stats.upserts
    _patch_expert(world, world.weak["id"], title="教授")  # words the index knows: no reason to refit
    world.experts_for()
    assert live.stats.upserts == upserts + 1
    assert live.stats.inline_refits == refits and live.stats.background_refits == 0
    world.experts_for()
    assert live.stats.upserts == upserts + 1, "nothing new, nothing applied"


def test_a_change_committed_out_of_id_order_is_not_missed(world: World, engine) -> None:  # type: ignore[no-untyped-def]
    """Simulate a commit-order gap: change id n+2 is visible before id n+1, whose transaction commits later."""
    world.experts_for()
    live = world.client.app.state.matcher  # type: ignore[attr-defined]
    with Session(engine) as db:
        top = live.watermark
        # The later-numbered change commits first (it names an unrelated record).
        db.execute(
            insert(RecordChange).values(id=top + 2, kind="expert", record_id=world.weak["id"], op="upsert", at=utcnow())
        )
        db.commit()
    world.experts_for()
    assert live.watermark == top + 2
    with Session(engine) as db:
        # The earlier-numbered transaction: it changed a profile, then committed.
        db.execute(
            text("UPDATE expert SET keywords = :kw WHERE id = :id"),
            {"kw": '["故障诊断", "轴承", "深度学习"]', "id": world.unrelated["id"]},
        )
        db.execute(
            insert(RecordChange).values(
                id=top + 1, kind="expert", record_id=world.unrelated["id"], op="upsert", at=utcnow()
            )
        )
        db.commit()
    assert world.unrelated["id"] in ids(world.experts_for())


@pytest.mark.postgres
@pytest.mark.skipif(BACKEND != "postgres", reason="SQLite serialises writers: ids are handed out in commit order")
def test_a_slow_transaction_that_commits_after_a_faster_one_is_seen(world: World, engine) -> None:  # type: ignore[no-untyped-def]
    world.experts_for()
    slow = Session(engine)
    try:
        expert = slow.get(Expert, world.unrelated["id"])
        expert.keywords = ["故障诊断", "轴承", "深度学习"]  # type: ignore[union-attr]
        slow.add(expert)
        slow.flush()  # takes the lower change id, not committed yet
        _patch_expert(world, world.weak["id"], title="高级工程师")  # a higher id, committed at once
        assert world.unrelated["id"] not in ids(world.experts_for())
        slow.commit()
    finally:
        slow.close()
    assert world.unrelated["id"] in ids(world.experts_for())
