"""A request's "nothing changed" check: one round trip on PostgreSQL, and never a reason to miss a write."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from sqlalchemy import create_engine, event, insert
from sqlmodel import Session

from service.common import RecordChange, utcnow
from service.suggestions.live import LiveMatcher
from service.suggestions.pages import render_experts
from tests.conftest import BACKEND
from tests.suggestions.conftest import World

pytestmark = pytest.mark.skipif(
    BACKEND != "postgres", reason="SQLite reads cost no round trip: every request catches up the full way there"
)


def _log_row(engine, change_id: int, expert_id: int) -> None:  # type: ignore[no-untyped-def]
    """A change-log row written by hand and not read by the matcher."""
    with Session(engine) as db:
        db.execute(
            insert(RecordChange).values(id=change_id, kind="expert", record_id=expert_id, op="upsert", at=utcnow())
        )
        db.commit()


def test_nothing_changed_costs_one_statement_and_no_connection_of_the_main_pool(world: World, engine) -> None:  # type: ignore[no-untyped-def]
    live = LiveMatcher(engine).build()
    with Session(engine) as db:
        live.catch_up(db)  # opens the check's own connection (its first use asks the server for its version)
    probe = live._probe()
    assert probe is not None
    statements: list[str] = []
    checkouts: list[object] = []

    class Counted(psycopg.Cursor):  # every statement sent on the check's connections, pings included
        def execute(self, query, params=None, **kwargs):  # type: ignore[no-untyped-def, override]
            statements.append(str(query))
            return super().execute(query, params, **kwargs)

    def on_probe_checkout(dbapi_connection, *args) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.cursor_factory = Counted

    def on_checkout(*args) -> None:  # type: ignore[no-untyped-def]
        checkouts.append(args)

    event.listen(probe, "checkout", on_probe_checkout)
    event.listen(engine, "checkout", on_checkout)
    applied = live.stats.applied_changes
    try:
        with Session(engine) as db:
            for _ in range(5):
                live.catch_up(db)
    finally:
        event.remove(probe, "checkout", on_probe_checkout)
        event.remove(engine, "checkout", on_checkout)
    # one SELECT a request on the check's own connections (no ping, no BEGIN), and the main pool not touched at all
    assert len(statements) == 5 and all(s.lstrip().upper().startswith("SELECT") for s in statements)
    assert checkouts == [] and live.stats.applied_changes == applied
    live.close()


def test_a_change_above_the_watermark_or_in_an_open_gap_is_read(world: World, engine) -> None:  # type: ignore[no-untyped-def]
    live = LiveMatcher(engine).build()
    top = live.watermark
    assert live._unchanged()
    _log_row(engine, top + 2, world.weak["id"])
    assert not live._unchanged()
    with Session(engine) as db:
        live.catch_up(db)  # reads top + 2, leaves top + 1 as an open gap
    assert [(g.lo, g.hi) for g in live._gaps] == [(top + 1, top + 1)] and live._unchanged()
    _log_row(engine, top + 1, world.strong["id"])
    assert not live._unchanged()
    with Session(engine) as db:
        live.catch_up(db)
    assert live._gaps == [] and live._unchanged()
    live.close()


def test_a_catch_up_in_flight_sends_the_request_the_full_way(world: World, engine) -> None:  # type: ignore[no-untyped-def]
    live = LiveMatcher(engine).build()
    assert live._unchanged()
    with live._sync_lock:  # another request is applying what it read: its page version may not be bumped yet
        assert not live._unchanged()
    live.close()


def test_an_unusable_check_falls_back_to_the_full_catch_up(world: World, engine) -> None:  # type: ignore[no-untyped-def]
    live = LiveMatcher(engine).build()
    # the check's connections cannot be had (here: a server that is not there)
    live._probe_engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert not live._unchanged()
    twin = world.api.expert(name="王新")
    with Session(engine) as db:
        live.catch_up(db)
    assert twin["id"] in live.matcher.experts_
    live.close()


def test_readers_racing_writers_see_every_write_committed_before_they_asked(world: World, engine) -> None:  # type: ignore[no-untyped-def]
    """Readers ask through the page cache (the case where a stale answer could hide) while a writer adds
    specialists; every answer to a request started after a write was acknowledged holds that specialist."""
    live = LiveMatcher(engine).build()
    demand_id = world.demand["id"]
    key = ("experts", demand_id, 1000, 0, True)
    acknowledged: list[tuple[float, int]] = []
    answers: list[tuple[float, set[int]]] = []
    failures: list[BaseException] = []
    done = threading.Event()

    def compute(matcher):  # type: ignore[no-untyped-def]
        return matcher.suggest_experts(demand_id, limit=1000, offset=0, include_excluded=True)

    def reader() -> None:
        try:
            with Session(engine) as db:
                while not done.is_set():
                    started = time.monotonic()
                    live.catch_up(db)
                    page = live.page(key, compute, render_experts)
                    answers.append((started, {item[0] for item in page.items}))
        except BaseException as exc:  # noqa: BLE001 — reported by the test thread
            failures.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for n in range(12):
            new = world.api.expert(name=f"新专家{n}")
            acknowledged.append((time.monotonic(), new["id"]))
            time.sleep(0.02)
        time.sleep(0.2)
    finally:
        done.set()
        for t in threads:
            t.join(timeout=60)
    assert not failures, failures
    checked = 0
    for started, seen in answers:
        for at, expert_id in acknowledged:
            if started > at:
                assert expert_id in seen, f"specialist {expert_id} written before the request began is missing"
                checked += 1
    assert checked > 0 and live.stats.cached_answers > 0
    live.close()
