"""Fixtures for the programme lifecycle (SPEC §7): an app with demand review on, a unit and its specialist."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from service.main import create_app
from tests.factories import ADMIN, Api


@pytest.fixture
def review_client(settings, engine) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """A client of an app with EXPERTMATCH_DEMAND_REVIEW=true."""
    app = create_app(settings.model_copy(update={"demand_review": True}))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def review_api(review_client: TestClient) -> Api:
    return Api(review_client)


def events_of(engine, type_: str) -> list[dict]:  # type: ignore[no-untyped-def]
    """The outbox rows of one type, oldest first."""
    import json

    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT data, parties FROM outbox_event WHERE type = :t ORDER BY id"), {"t": type_}
        ).all()
    return [
        {"data": d if isinstance(d, dict) else json.loads(d), "parties": p if isinstance(p, dict) else json.loads(p)}
        for d, p in rows
    ]


def unit(api: Api, **overrides) -> dict:  # type: ignore[no-untyped-def]
    body = {"name": "大连理工大学", "kind": "university", "region": "大连市", **overrides}
    response = api.client.post("/units", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    return response.json()
