"""The page cache stays under its bound in bytes however many distinct large pages are asked for."""

from __future__ import annotations

import gc
import hashlib
import tracemalloc
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import service.suggestions.pages as pages_module
from service.config import Settings
from service.main import create_app
from tests.factories import ADMIN
from tests.load.conftest import bulk_load

pytestmark = pytest.mark.slow

BOUND_MIB = 4
PAGES = 40
LIMIT = 400


def test_many_distinct_large_pages_stay_under_the_cache_bound(settings: Settings, engine) -> None:  # type: ignore[no-untyped-def]
    bulk_load(engine, 1200, 5)
    bounded = settings.model_copy(update={"suggestion_cache_mib": BOUND_MIB, "warmup_wait_s": 300.0})
    bound = BOUND_MIB * 2**20
    with TestClient(create_app(bounded), raise_server_exceptions=False) as client:
        live = client.app.state.matcher  # type: ignore[attr-defined]
        first = client.get("/demands/1/suggestions", params={"limit": LIMIT}, headers=ADMIN)
        assert first.status_code == 200, first.text
        assert first.json()["total"] >= LIMIT + PAGES, "every page below must be a full one"
        tracemalloc.start()
        try:
            # One enterprise key's abuse from the issue: the same demand, a different offset every time.
            sizes = []
            for offset in range(1, PAGES + 1):
                response = client.get(
                    "/demands/1/suggestions", params={"limit": LIMIT, "offset": offset}, headers=ADMIN
                )
                assert response.status_code == 200
                assert len(response.json()["items"]) == LIMIT
                sizes.append(len(response.content))
                last = hashlib.sha256(response.content).digest()
                del response
            gc.collect()  # responses already sent are garbage, not the cache's
            snapshot = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
        # Memory still held that the rendering code allocated: the cached pages, measured by the interpreter.
        held = sum(
            stat.size
            for stat in snapshot.filter_traces([tracemalloc.Filter(True, str(Path(pages_module.__file__)))]).statistics(
                "filename"
            )
        )
        cache = live.cache
        unbounded = sum(sizes)
        print(
            f"\n{PAGES} distinct pages of {LIMIT} items ({unbounded / 2**20:.1f} MiB of JSON in all); cache bound "
            f"{BOUND_MIB} MiB: {len(cache)} pages cached, {cache.nbytes / 2**20:.2f} MiB accounted, "
            f"{held / 2**20:.2f} MiB held by the rendering code (tracemalloc), {cache.evictions} evictions"
        )
        assert unbounded > 4 * bound, "the pages asked for are much larger than the bound together"
        assert cache.nbytes <= bound
        assert held <= bound, "what the interpreter sees held must be within the bound too"
        assert cache.evictions > 0 and len(cache) >= 2
        assert held >= 0.5 * cache.nbytes, "the accounting must not undercount what is held"
        # The newest pages are the ones kept: the last one asked is answered from the cache.
        hits = live.stats.cached_answers
        again = client.get("/demands/1/suggestions", params={"limit": LIMIT, "offset": PAGES}, headers=ADMIN)
        assert again.status_code == 200 and live.stats.cached_answers == hits + 1
        assert hashlib.sha256(again.content).digest() == last
