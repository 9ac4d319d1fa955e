"""The importer's fast construction of new records holds exactly what the domain's `build` would make."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session

from service.enterprises.models import Enterprise, EnterpriseCreate
from service.experts import service as experts_service
from service.experts.models import Expert, ExpertCreate
from service.transfer.importer import new_record
from tests.factories import enterprise_body, expert_body

BOOKKEEPING = {"id", "created_at", "updated_at"}


def columns(model: type, record: Any) -> dict[str, Any]:
    return {c.key: getattr(record, c.key) for c in model.__table__.columns if c.key not in BOOKKEEPING}


@pytest.mark.parametrize(
    "body",
    [
        expert_body(),
        {"name": "最少字段"},
        expert_body(fields=["a", "a", "b"], contact=None, travels=False, active=False, external_id="X-1"),
        expert_body(contact={"email": "x@example.com"}, languages=[], bio="  padded  "),
    ],
)
def test_a_new_expert_holds_what_build_makes(engine, body: dict[str, Any]) -> None:
    expert_in = ExpertCreate.model_validate(body)
    with Session(engine) as session:
        built = experts_service.build(db_session=session, expert_in=expert_in)
    fast = new_record(Expert, expert_in)
    assert columns(Expert, fast) == columns(Expert, built)
    assert fast.id is None and fast.created_at.tzinfo is not None and fast.version == 1


@pytest.mark.parametrize("body", [enterprise_body(), {"name": "只有名称"}, enterprise_body(size=None, contact=None)])
def test_a_new_enterprise_holds_what_the_api_makes(body: dict[str, Any]) -> None:
    enterprise_in = EnterpriseCreate.model_validate(body)
    built = Enterprise.model_validate(enterprise_in.model_dump(mode="json"))
    assert columns(Enterprise, new_record(Enterprise, enterprise_in)) == columns(Enterprise, built)
