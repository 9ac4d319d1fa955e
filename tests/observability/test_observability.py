"""Request ids, structured logs and Prometheus metrics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from service.main import create_app
from service.observability import WORKFLOW_METRICS, configure_logging
from tests.factories import ADMIN

ROOT = Path(__file__).resolve().parents[2]


def count(route: str, status: int, method: str = "GET") -> float:
    labels = {"method": method, "route": route, "status": str(status)}
    return REGISTRY.get_sample_value("expertmatch_http_requests_total", labels) or 0.0


def test_a_request_id_is_generated_and_echoed(client: TestClient) -> None:
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]
    assert len(first) == 32 and first != second


def test_a_clients_request_id_is_honoured(client: TestClient) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "trace-42:abc"}).headers["X-Request-ID"] == "trace-42:abc"


@pytest.mark.parametrize("bad", ["has space", "x" * 129, 'quote"d', "new\tline"])
def test_an_unsafe_request_id_is_replaced(client: TestClient, bad: str) -> None:
    echoed = client.get("/healthz", headers={"X-Request-ID": bad}).headers["X-Request-ID"]
    assert echoed != bad and len(echoed) == 32


def test_errors_carry_the_request_id_too(client: TestClient) -> None:
    response = client.get("/experts/1")
    assert response.status_code == 401 and response.headers["X-Request-ID"]


def test_every_log_line_is_one_json_object_with_the_request_id(settings, engine, capsys) -> None:
    app = create_app(settings.model_copy(update={"log_json": True}))
    with TestClient(app) as client:
        capsys.readouterr()
        client.post("/experts", json={"name": "x"}, headers={**ADMIN, "X-Request-ID": "req-1"})
        client.get("/nowhere", headers={"X-Request-ID": "req-2"})
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "expertmatch.access"]
    assert [(a["request_id"], a["method"], a["path"], a["status"]) for a in access] == [
        ("req-1", "POST", "/experts", 201),
        ("req-2", "GET", "/nowhere", 404),
    ]
    for line in access:
        assert set(line) >= {
            "time",
            "level",
            "logger",
            "message",
            "request_id",
            "method",
            "path",
            "status",
            "duration_ms",
        }
        assert line["time"].endswith("Z") and line["level"] == "INFO" and line["duration_ms"] >= 0
    assert access[0]["route"] == "/experts" and access[1]["route"] == "<unmatched>"


def test_text_logs_still_name_the_request(settings, engine, capsys) -> None:
    with TestClient(create_app(settings)) as client:
        capsys.readouterr()
        client.get("/healthz", headers={"X-Request-ID": "plain-1"})
    err = capsys.readouterr().err
    assert "expertmatch.access [plain-1] GET /healthz 200" in err


def test_logs_inside_a_request_carry_its_id(settings, engine, capsys) -> None:
    import logging

    app = create_app(settings.model_copy(update={"log_json": True}))

    @app.get("/_log_inside")
    def log_inside() -> dict:
        logging.getLogger("expertmatch.test").warning("inside the route")
        return {}

    with TestClient(app) as client:
        capsys.readouterr()
        client.get("/_log_inside", headers={"X-Request-ID": "inner-7"})
    (line,) = [json.loads(x) for x in capsys.readouterr().err.splitlines() if '"expertmatch.test"' in x]
    assert (line["message"], line["request_id"], line["level"]) == ("inside the route", "inner-7", "WARNING")


def test_an_unhandled_error_answers_a_500_problem_with_the_request_id(settings, engine, capsys) -> None:
    app = create_app(settings.model_copy(update={"log_json": True}))

    @app.get("/_boom")
    def boom() -> None:
        raise RuntimeError("kaboom")

    before = count("/_boom", 500)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/_boom", headers={"X-Request-ID": "boom-1"})
    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "boom-1"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "internal-error" and "boom-1" in response.json()["detail"]
    assert count("/_boom", 500) == before + 1
    logged = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
    assert any(x["request_id"] == "boom-1" and "kaboom" in x.get("exc_info", "") for x in logged)


def test_metrics_count_requests_by_route_template_and_status(client: TestClient, api) -> None:
    expert = api.expert()
    before = count("/experts/{expert_id}", 200)
    missing = count("/experts/{expert_id}", 404)
    client.get(f"/experts/{expert['id']}", headers=ADMIN)
    client.get(f"/experts/{expert['id']}", headers=ADMIN)
    client.get("/experts/999999", headers=ADMIN)
    assert count("/experts/{expert_id}", 200) == before + 2
    assert count("/experts/{expert_id}", 404) == missing + 1
    latency = REGISTRY.get_sample_value(
        "expertmatch_http_request_duration_seconds_count",
        {"method": "GET", "route": "/experts/{expert_id}", "status": "200"},
    )
    assert latency is not None and latency >= 2


def test_metrics_endpoint_serves_prometheus_text_with_the_workflow_metrics(client: TestClient) -> None:
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    body = response.text
    assert 'expertmatch_http_requests_total{method="GET",route="/healthz",status="200"}' in body
    for name in (
        "expertmatch_suggestion_latency_seconds",
        "expertmatch_matcher_index_size",
        "expertmatch_matcher_refresh_seconds",
        "expertmatch_assignment_solve_seconds",
        "expertmatch_round_solve_seconds",
    ):
        assert f"# TYPE {name} " in body
    assert len(WORKFLOW_METRICS) == 5


def test_configure_logging_replaces_its_own_handler(settings) -> None:
    import io
    import logging

    root = logging.getLogger()
    before = len(root.handlers)
    first = configure_logging(settings, stream=io.StringIO())
    second = configure_logging(settings, stream=io.StringIO())
    assert first not in root.handlers and second in root.handlers
    assert len(root.handlers) <= before + 1


def test_multiprocess_mode_adds_up_every_workers_metrics(tmp_path: Path) -> None:
    """With PROMETHEUS_MULTIPROC_DIR (several uvicorn workers), /metrics answers for all processes."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    worker = (
        "from service.observability import http_requests_total as c, matcher_index_size as g;"
        "c.labels('GET', '/x', '200').inc(); g.set({n})"
    )
    for n in (5, 9):
        subprocess.run([sys.executable, "-c", worker.format(n=n)], env=env, check=True, timeout=60)
    reader = (
        "from prometheus_client import generate_latest;"
        "from service.observability import metrics_registry;"
        "print(generate_latest(metrics_registry()).decode())"
    )
    out = subprocess.run(
        [sys.executable, "-c", reader], env=env, check=True, timeout=60, capture_output=True, text=True
    )
    assert 'expertmatch_http_requests_total{method="GET",route="/x",status="200"} 2.0' in out.stdout
    # Gauges of workers that have exited are not "live": a live worker's value is what counts.
    assert "expertmatch_matcher_index_size" in out.stdout


def sample(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def test_the_workflow_metrics_move_when_the_workflows_run(client: TestClient, api) -> None:
    enterprise = api.enterprise()
    demand = api.demand(enterprise["id"])
    expert = api.expert()
    before = {
        name: sample(name)
        for name in (
            "expertmatch_suggestion_latency_seconds_count",
            "expertmatch_matcher_refresh_seconds_count",
            "expertmatch_assignment_solve_seconds_count",
            "expertmatch_round_solve_seconds_count",
        )
    }
    assert client.get(f"/demands/{demand['id']}/suggestions", headers=ADMIN).status_code == 200
    assert client.get(f"/experts/{expert['id']}/suggestions", headers=ADMIN).status_code == 200
    assert client.post("/assignments", json={}, headers=ADMIN).status_code == 201
    body = {"name": "第一批", "demand_ids": [demand["id"]], "expert_ids": [expert["id"]]}
    round_id = client.post("/rounds", json=body, headers=ADMIN).json()["id"]
    assert client.post(f"/rounds/{round_id}/close", headers=ADMIN).status_code == 200
    after = {name: sample(name) for name in before}
    assert (
        after["expertmatch_suggestion_latency_seconds_count"]
        == before["expertmatch_suggestion_latency_seconds_count"] + 2
    )
    assert after["expertmatch_matcher_refresh_seconds_count"] > before["expertmatch_matcher_refresh_seconds_count"]
    assert (
        after["expertmatch_assignment_solve_seconds_count"] == before["expertmatch_assignment_solve_seconds_count"] + 1
    )
    assert after["expertmatch_round_solve_seconds_count"] == before["expertmatch_round_solve_seconds_count"] + 1
    assert sample("expertmatch_matcher_index_size") == 2  # one specialist, one open demand
