"""No empty or partial answer while a worker's index warms up: a bulk import followed at once by requests.

Until the worker's index holds every committed record, a suggestion request waits (up to `warmup_wait_s`) or
answers 503 `index-warming` with Retry-After; a 200 always carries the full ranking. The import below is larger
than a worker applies inline (`inline_changes`), so the worker rebuilds its index in the background meanwhile.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from bench.text_corpus import Generator
from service.config import Settings
from service.main import create_app
from service.suggestions.live import LiveMatcher
from service.transfer.importer import import_file
from tests.factories import ADMIN, Api
from tests.load.conftest import bulk_load

pytestmark = pytest.mark.slow

N_IMPORTED = 1200  # above LiveMatcher's default inline_changes (1000)


def _import_specialists(engine, tmp_path: Path, n: int = N_IMPORTED) -> None:  # type: ignore[no-untyped-def]
    """The command line's bulk import (JSON Lines, one transaction) of `n` generated specialists."""
    path = tmp_path / "experts.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for p in Generator(seed=5).experts(n):
            row = {
                "name": p.name,
                "institution": p.institution,
                "institution_type": p.institution_type,
                "origin": p.origin,
                "region": p.region,
                "title": p.title,
                "fields": list(p.fields),
                "keywords": list(p.keywords),
                "bio": p.bio,
                "achievements": p.achievements,
                "capacity": p.capacity,
                "external_id": f"IMP-{p.id}",
            }
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    report = import_file(engine, "experts", path, atomic=True)
    assert report.ok and report.created == n


def _full_ranking(engine, demand_id: int, **paging: Any) -> tuple[list[int], int]:  # type: ignore[no-untyped-def]
    """What a freshly built index answers: the reference for 'every committed record'."""
    live = LiveMatcher(engine).build()
    with Session(engine) as db:
        items, total = live.suggest_experts(db, live.matcher.demands_[demand_id], **paging)  # type: ignore[union-attr]
    return [s.expert_id for s in items], total


def _demand(api: Api) -> dict:
    enterprise = api.enterprise(name="示范煤机企业", industry="煤矿智能化")
    return api.demand(
        enterprise["id"],
        title="综采工作面5G专网与智能化改造",
        description="井下综采工作面5G通信网络、液压支架远程控制与视频分析。",
        keywords=["5G", "综采", "工作面", "通信网络"],
        industry="煤矿智能化",
    )


def _check(response: Any, expected: tuple[list[int], int]) -> str:
    """'warming' for a well-formed 503, 'full' for a 200 with the whole ranking; anything else fails."""
    if response.status_code == 503:
        problem = response.json()
        assert problem["code"] == "index-warming" and problem["status"] == 503, problem
        assert "warming" in problem["detail"]
        assert int(response.headers["Retry-After"]) >= 1
        return "warming"
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["total"] == expected[1], "a 200 must hold every committed record, never a partial list"
    assert [i["expert_id"] for i in page["items"]] == expected[0]
    return "full"


def test_requests_right_after_a_bulk_import_answer_503_warming_until_the_index_holds_it(
    settings: Settings, engine, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    at_once = settings.model_copy(update={"warmup_wait_s": 0.0})
    with TestClient(create_app(at_once), raise_server_exceptions=False) as client:
        demand = _demand(Api(client))
        url = f"/demands/{demand['id']}/suggestions"
        assert client.get(url, headers=ADMIN).json()["total"] == 0  # no specialist yet: an empty list is the truth
        _import_specialists(engine, tmp_path)
        expected = _full_ranking(engine, demand["id"], limit=10, offset=0, include_excluded=False)
        assert expected[1] > 0
        outcomes: list[str] = []
        errors: list[BaseException] = []

        def ask() -> None:
            try:
                deadline = time.monotonic() + 300
                while time.monotonic() < deadline:
                    outcome = _check(client.get(url, headers=ADMIN), expected)
                    outcomes.append(outcome)
                    if outcome == "full":
                        return
                    time.sleep(0.05)
                raise AssertionError("still warming after 300 s")
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=ask) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        print(
            f"\nafter a bulk import of {N_IMPORTED} specialists: {outcomes.count('warming')} answers 503 warming, "
            f"then {outcomes.count('full')} full answers; none partial"
        )
        assert outcomes[0] == "warming", "the very first request came before the rebuild could finish"
        assert outcomes.count("full") == len(threads)
        assert client.app.state.matcher.stats.warming_builds >= 1  # type: ignore[attr-defined]


def test_a_request_after_a_bulk_import_waits_for_the_index_when_allowed(
    settings: Settings, engine, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    patient = settings.model_copy(update={"warmup_wait_s": 300.0})
    with TestClient(create_app(patient), raise_server_exceptions=False) as client:
        demand = _demand(Api(client))
        url = f"/demands/{demand['id']}/suggestions"
        client.get(url, headers=ADMIN)
        _import_specialists(engine, tmp_path)
        expected = _full_ranking(engine, demand["id"], limit=10, offset=0, include_excluded=False)
        assert _check(client.get(url, headers=ADMIN), expected) == "full"


def test_a_worker_starting_on_a_full_database_answers_warming_then_the_full_list(settings: Settings, engine) -> None:  # type: ignore[no-untyped-def]
    bulk_load(engine, 1200, 5)
    expected = _full_ranking(engine, 1, limit=10, offset=0, include_excluded=False)
    at_once = settings.model_copy(update={"warmup_wait_s": 0.0})
    with TestClient(create_app(at_once), raise_server_exceptions=False) as client:
        seen = []
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            seen.append(_check(client.get("/demands/1/suggestions", headers=ADMIN), expected))
            if seen[-1] == "full":
                break
            ready = client.get("/readyz")  # not ready while warming (a load balancer sends nothing yet)
            assert ready.status_code == 200 or ready.json()["status"] == "warming"
            time.sleep(0.1)
        assert seen[0] == "warming" and seen[-1] == "full"
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200
