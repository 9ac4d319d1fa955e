"""Parties with engagements in every state, for the issue ledger, vouchers and assessments."""

from __future__ import annotations

import pytest

from tests.engagements.conftest import Parties, parties  # noqa: F401 - the fixture is used by these tests
from tests.factories import ADMIN


def raise_issue(p: Parties, engagement_id: int, headers: dict | None = None, **body):  # type: ignore[no-untyped-def]
    """POST an issue (as enterprise A unless told otherwise) and return the response."""
    payload = {"title": "误报率偏高", "description": "3号机组误报约12%。", **body}
    return p.client.post(f"/engagements/{engagement_id}/issues", json=payload, headers=headers or p.ent_a)


@pytest.fixture
def active(parties: Parties) -> dict:  # noqa: F811
    """An active engagement between enterprise A's demand and specialist X."""
    return parties.active()


__all__ = ["ADMIN", "Parties", "raise_issue"]
