"""`open_engagement`, the function rounds and assignments call, used directly; and the matcher's change log."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from service.auth import Principal
from service.engagements import service
from service.engagements.models import Engagement, EngagementMode, EngagementStatus
from service.errors import Conflict, NotFound
from service.keys.models import Role
from tests.engagements.conftest import Parties
from tests.factories import ADMIN

ADMIN_PRINCIPAL = Principal(role=Role.admin, key_id=None)


def test_open_engagement_tags_round_engagements_and_leaves_the_commit_to_the_caller(parties: Parties, engine) -> None:
    with Session(engine, expire_on_commit=False) as db_session:
        engagement = service.open_engagement(
            db_session=db_session,
            demand_id=parties.demand["id"],
            expert_id=parties.expert_x["id"],
            mode=EngagementMode.round,
            status=EngagementStatus.active,
            score=0.73,
            actor=ADMIN_PRINCIPAL,
            round_id=7,
            commit=False,
        )
        assert engagement.id is not None
        db_session.rollback()
    with Session(engine) as db_session:
        assert db_session.exec(select(Engagement)).all() == [], "rolled back with the caller's transaction"
    with Session(engine, expire_on_commit=False) as db_session:
        engagement = service.open_engagement(
            db_session=db_session,
            demand_id=parties.demand["id"],
            expert_id=parties.expert_x["id"],
            mode=EngagementMode.round,
            status=EngagementStatus.active,
            score=0.73,
            actor=ADMIN_PRINCIPAL,
            round_id=7,
        )
    body = parties.client.get("/engagements?round_id=7", headers=ADMIN).json()["items"][0]
    assert body["id"] == engagement.id
    assert body["mode"] == "round" and body["status"] == "active" and body["score"] == 0.73
    assert body["round_id"] == 7 and body["assignment_id"] is None
    assert parties.demand_now()["status"] == "matched"


def test_open_engagement_raises_domain_errors_naming_what_broke(parties: Parties, engine) -> None:
    kwargs = dict(
        mode=EngagementMode.enterprise_selection,
        status=EngagementStatus.offered,
        score=None,
        actor=ADMIN_PRINCIPAL,
    )
    with Session(engine) as db_session:
        with pytest.raises(NotFound):
            service.open_engagement(db_session=db_session, demand_id=999, expert_id=parties.expert_x["id"], **kwargs)
        with pytest.raises(NotFound):
            service.open_engagement(db_session=db_session, demand_id=parties.demand["id"], expert_id=999, **kwargs)
        service.open_engagement(
            db_session=db_session, demand_id=parties.demand["id"], expert_id=parties.expert_x["id"], **kwargs
        )
        with pytest.raises(Conflict) as caught:
            service.open_engagement(
                db_session=db_session, demand_id=parties.demand["id"], expert_id=parties.expert_y["id"], **kwargs
            )
        assert caught.value.code == "demand-headcount-full"
        with pytest.raises(ValueError):
            service.open_engagement(
                db_session=db_session,
                demand_id=parties.demand["id"],
                expert_id=parties.expert_y["id"],
                **{**kwargs, "status": EngagementStatus.completed},
            )


def test_the_live_pair_index_backs_the_service_up_in_the_database(parties: Parties, engine) -> None:
    parties.offered()
    with engine.connect() as conn, pytest.raises(Exception) as caught:
        conn.execute(
            text(
                "INSERT INTO engagement (created_at, updated_at, version, demand_id, expert_id, enterprise_id, mode,"
                " status) VALUES (CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1, :d, :x, :e, 'round', 'active')"
            ),
            {"d": parties.demand["id"], "x": parties.expert_x["id"], "e": parties.enterprise_a["id"]},
        )
        conn.commit()
    assert "unique" in str(caught.value).lower()


def test_every_engagement_change_logs_matcher_changes_for_its_expert_and_demand(parties: Parties, engine) -> None:
    def changes() -> list[tuple[str, int]]:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT kind, record_id FROM record_change ORDER BY id")).all()
        return [(kind, record_id) for kind, record_id in rows]

    start = len(changes())
    engagement = parties.offered()
    after_offer = changes()[start:]
    assert ("expert", parties.expert_x["id"]) in after_offer and ("demand", parties.demand["id"]) in after_offer
    mark = len(changes())
    parties.move(engagement["id"], "decline")
    after_decline = changes()[mark:]
    assert ("expert", parties.expert_x["id"]) in after_decline and ("demand", parties.demand["id"]) in after_decline
