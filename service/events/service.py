"""Recording events: the one call every domain makes, in its own transaction, to say what happened."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import exists, select
from sqlmodel import Session

from service.events.models import Event, EventType


def _ids(values: Iterable[int | None]) -> list[int]:
    return sorted({int(v) for v in values if v is not None})


def record(
    *,
    db_session: Session,
    type: EventType,
    data: dict[str, Any],
    enterprises: Iterable[int | None] = (),
    experts: Iterable[int | None] = (),
    units: Iterable[int | None] = (),
    dedupe_key: str | None = None,
) -> Event | None:
    """Add an outbox row to the caller's transaction (it commits or rolls back with the change).

    With `dedupe_key`, an event already recorded under that key is not recorded again (returns None).
    """
    if dedupe_key is not None and db_session.execute(select(exists().where(Event.dedupe_key == dedupe_key))).scalar():
        return None
    parties = {"enterprise": _ids(enterprises), "expert": _ids(experts), "unit": _ids(units)}
    event = Event(
        type=EventType(type).value, data=data, parties={k: v for k, v in parties.items() if v}, dedupe_key=dedupe_key
    )
    db_session.add(event)
    return event
