"""The harness empties the database before every test even while a straggler of the previous test still reads."""

from __future__ import annotations

import contextlib
import threading
import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from tests.conftest import BACKEND, empty_database
from tests.factories import Api


@pytest.mark.skipif(BACKEND != "postgres", reason="TRUNCATE's table locks are PostgreSQL's")
@pytest.mark.filterwarnings("ignore:emptying the test database")
def test_emptying_survives_a_reader_that_deadlocks_with_it(api: Api, engine: Engine) -> None:
    api.expert(name="留下的专家")
    straggler = create_engine(engine.url, poolclass=NullPool)
    with straggler.connect() as reader:
        # The reader holds `expert` (late in TRUNCATE's order) and then asks for `team`, which TRUNCATE takes first:
        # a lock cycle PostgreSQL breaks by aborting one side.
        reader.execute(text("SELECT count(*) FROM expert")).one()
        emptying = threading.Thread(target=empty_database, args=(engine,))
        emptying.start()
        blocked_at = _wait_until_blocked(reader)
        assert blocked_at is not None, "TRUNCATE never waited for the reader's lock"
        with contextlib.suppress(OperationalError):  # the reader may be the deadlock's victim
            reader.execute(text("SELECT count(*) FROM team")).one()
        reader.rollback()
        emptying.join(timeout=60)
        assert not emptying.is_alive()
    straggler.dispose()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM expert")).scalar_one() == 0


def _wait_until_blocked(reader) -> str | None:  # type: ignore[no-untyped-def]
    """The query of the session that waits for a lock in this database (polled for up to 10 s)."""
    for _ in range(200):
        row = reader.execute(
            text("SELECT query FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")
        ).first()
        if row is not None:
            return row[0]
        time.sleep(0.05)
    return None
