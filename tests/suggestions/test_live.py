"""The worker's live matcher: start-up fit, change-log gaps, and refits that never block a request."""

from __future__ import annotations

import json
import time

from sqlalchemy import insert
from sqlmodel import Session

from service.common import RecordChange, utcnow
from service.suggestions.live import LiveMatcher
from service.suggestions.pages import RenderedPage, render_experts
from service.suggestions.profiles import load_open_demands
from tests.factories import ADMIN
from tests.suggestions.conftest import World


def _demand(engine, demand_id: int):  # type: ignore[no-untyped-def]
    with Session(engine) as db:
        return load_open_demands(db, [demand_id])[demand_id]


def _expert_ids(live: LiveMatcher, engine, demand_id: int) -> list[int]:  # type: ignore[no-untyped-def]
    with Session(engine) as db:
        items, _ = live.suggest_experts(db, _demand(engine, demand_id), limit=50, offset=0, include_excluded=False)
    return [s.expert_id for s in items]


def _log_change(engine, live: LiveMatcher, change_id: int, expert_id: int) -> None:  # type: ignore[no-untyped-def]
    """Write one change-log row by hand (ids out of order make gaps), then let `live` read the log."""
    with Session(engine) as db:
        db.execute(
            insert(RecordChange).values(id=change_id, kind="expert", record_id=expert_id, op="upsert", at=utcnow())
        )
        db.commit()
        live.sync(db)


def test_a_matcher_built_at_start_up_knows_the_database(world: World, engine) -> None:  # type: ignore[no-untyped-def]
    live = LiveMatcher(engine).build()
    assert live.matcher is not None
    assert set(live.matcher.experts_) == {world.strong["id"], world.weak["id"], world.unrelated["id"]}
    assert set(live.matcher.demands_) == {world.demand["id"]}
    assert _expert_ids(live, engine, world.demand["id"])[0] == world.strong["id"]


def test_an_empty_database_gives_an_empty_matcher_until_the_first_records(engine, api) -> None:  # type: ignore[no-untyped-def]
    live = LiveMatcher(engine).build()
    assert live.matcher is None
    enterprise = api.enterprise()
    demand = api.demand(enterprise["id"])
    expert = api.expert()
    assert _expert_ids(live, engine, demand["id"]) == [expert["id"]]


def test_a_gap_that_never_fills_is_given_up_after_the_timeout(world: World, engine) -> None:  # type: ignore[no-untyped-def]
    live = LiveMatcher(engine, gap_timeout=0.2).build()
    top = live.watermark
    _log_change(engine, live, top + 3, world.weak["id"])
    assert live.watermark == top + 3
    assert [(g.lo, g.hi) for g in live._gaps] == [(top + 1, top + 2)]
    time.sleep(0.3)
    with Session(engine) as db:
        live.sync(db)
    assert live._gaps == [] and live.stats.gaps_expired == 2


def test_a_large_index_refits_in_the_background_and_catches_up(world: World, engine) -> None:  # type: ignore[no-untyped-def]
    # Treat even this small corpus as large: no inline refit, a background one once anything changed.
    live = LiveMatcher(engine, inline_refit_docs=0, min_refit_changes=1).build()
    assert _expert_ids(live, engine, world.demand["id"]).count(world.unrelated["id"]) == 0
    # Words the fitted vocabulary has never seen: the upsert alone cannot make them match.
    response = world.client.patch(
        f"/experts/{world.unrelated['id']}", json={"keywords": ["量子退火", "拓扑优化"]}, headers=ADMIN
    )
    assert response.status_code == 200
    demand = world.client.patch(f"/demands/{world.demand['id']}", json={"keywords": ["量子退火"]}, headers=ADMIN)
    assert demand.status_code == 200
    _expert_ids(live, engine, world.demand["id"])  # catches up, and starts the refit off the request path
    deadline = time.monotonic() + 60
    while live.stats.background_refits == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live.stats.background_refits == 1
    assert world.unrelated["id"] in _expert_ids(live, engine, world.demand["id"])
    live.close()


def test_a_repeated_question_is_answered_from_the_cache_until_a_write_changes_the_state(world: World, engine) -> None:  # type: ignore[no-untyped-def]
    live = LiveMatcher(engine).build()
    uncached = LiveMatcher(engine, cache_bytes=0).build()
    demand_id = world.demand["id"]

    def ask(matcher: LiveMatcher) -> RenderedPage:
        with Session(engine) as db:
            matcher.catch_up(db)
        return matcher.page(
            ("experts", demand_id),
            lambda m: m.suggest_experts(demand_id, limit=10, offset=0, include_excluded=True),
            render_experts,
        )

    def body(page: RenderedPage) -> dict:
        return json.loads(page.body(limit=10, offset=0, entitled=lambda _: True))

    first = ask(live)
    assert ask(live) is first and live.stats.cached_answers == 1
    assert body(ask(uncached)) == body(first) and uncached.stats.cached_answers == 0
    # The strongest specialist is made inactive: the next question is computed afresh and shows it.
    world.api.client.patch(f"/experts/{world.strong['id']}", json={"active": False}, headers=ADMIN)
    after = ask(live)
    assert after is not first and live.stats.cached_answers == 1
    assert body(after) == body(ask(uncached))
    assert next(i for i in body(after)["items"] if i["expert_id"] == world.strong["id"])["excluded"]


def test_a_worker_started_from_a_shared_state_answers_at_once_and_catches_up_from_its_watermark(  # type: ignore[no-untyped-def]
    world: World, engine
) -> None:
    supervisor = LiveMatcher(engine).build()
    shared = supervisor.shareable_state()
    assert shared is not None and shared.matcher is not None
    shared.matcher.warm_up()
    worker = LiveMatcher(engine).start(seed=shared)
    assert not worker.warming and worker._building is None  # no build of its own
    assert worker.matcher is shared.matcher
    assert _expert_ids(worker, engine, world.demand["id"])[0] == world.strong["id"]
    # Written after the supervisor's build: the worker's next question reads it from the change log.
    twin = world.api.expert(name="王新")
    assert twin["id"] in _expert_ids(worker, engine, world.demand["id"])[:2]
    assert worker.stats.warming_builds == 0


def test_a_warming_matcher_has_no_state_to_share(engine) -> None:  # type: ignore[no-untyped-def]
    assert LiveMatcher(engine).shareable_state() is None
    assert LiveMatcher(engine).build().shareable_state() is not None  # an empty database is a complete state


def test_a_worker_forked_long_after_the_shared_build_still_reads_the_gaps_open_then(world: World, engine) -> None:  # type: ignore[no-untyped-def]
    supervisor = LiveMatcher(engine, gap_timeout=0.2).build()
    top = supervisor.watermark
    _log_change(engine, supervisor, top + 3, world.weak["id"])
    assert [(g.lo, g.hi) for g in supervisor._gaps] == [(top + 1, top + 2)]
    time.sleep(0.3)  # past the supervisor's wait: a worker started now must not give those ids up unread
    worker = LiveMatcher(engine).start(seed=supervisor.shareable_state())
    _log_change(engine, worker, top + 1, world.strong["id"])
    assert worker.stats.gaps_filled == 1 and worker.stats.gaps_expired == 0
    assert [(g.lo, g.hi) for g in worker._gaps] == [(top + 2, top + 2)]


def test_the_supervisor_prepares_every_specialist_s_explanations_before_forking(world: World, app, settings) -> None:  # type: ignore[no-untyped-def]
    from service.main import SharedIndex

    assert SharedIndex(app, settings).build()
    matcher = app.state.shared_index.matcher
    assert len(matcher.experts_) >= 3 and set(matcher._packed) == set(matcher.experts_)
    # turned off: a quicker start, and each worker works the data out on first use (warm_up's two one-item pages
    # explain at most two specialists)
    assert SharedIndex(app, settings.model_copy(update={"prepare_explanations": False})).build()
    unprepared = app.state.shared_index.matcher
    assert unprepared is not matcher and len(unprepared._profiles) <= 2 and len(unprepared._packed) == 0
