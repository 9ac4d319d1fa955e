"""Abuse of keys (throttled failures, weak administrator key) and the headers every answer carries."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from typer.testing import CliRunner

from service.config import Settings
from service.main import create_app
from tests.factories import ADMIN, ADMIN_KEY


@pytest.fixture
def throttled(settings, engine):  # type: ignore[no-untyped-def]
    tight = settings.model_copy(update={"auth_failure_limit": 5, "auth_failure_window_s": 60})
    app = create_app(tight)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_wrong_keys_are_throttled_per_client_with_retry_after(throttled) -> None:
    statuses = [throttled.get("/experts", headers={"Authorization": f"Bearer wrong-{i}"}).status_code for i in range(8)]
    assert statuses[:5] == [401] * 5
    assert statuses[5:] == [429] * 3
    refused = throttled.get("/experts", headers={"Authorization": "Bearer wrong-again"})
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["code"] == "too-many-failed-authentications"
    # While throttled, even a right key is not looked at: guessing learns nothing.
    assert throttled.get("/experts", headers=ADMIN).status_code == 429


def test_right_keys_and_missing_keys_do_not_count(throttled) -> None:
    for _ in range(10):
        assert throttled.get("/experts", headers=ADMIN).status_code == 200
        assert throttled.get("/experts").status_code == 401
    assert throttled.get("/experts", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_another_client_is_not_throttled(settings, engine) -> None:
    tight = settings.model_copy(update={"auth_failure_limit": 2})
    app = create_app(tight)
    with TestClient(app, client=("10.0.0.1", 1000)) as one, TestClient(app, client=("10.0.0.2", 1000)) as two:
        for _ in range(3):
            one.get("/experts", headers={"Authorization": "Bearer wrong"})
        assert one.get("/experts", headers=ADMIN).status_code == 429
        assert two.get("/experts", headers=ADMIN).status_code == 200


@pytest.mark.parametrize("key", ["a", "short-key-15chr"])
def test_a_weak_admin_key_is_refused_at_start(key) -> None:
    with pytest.raises(ValidationError, match="at least 16"):
        Settings(admin_key=key, _env_file=None)


def test_serve_refuses_a_weak_admin_key_with_a_clear_message(monkeypatch) -> None:
    from service.cli import app
    from service.config import get_settings

    monkeypatch.setenv("EXPERTMATCH_ADMIN_KEY", "a")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["serve", "--no-migrate"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    output = " ".join(result.output.split())  # rich wraps long lines
    assert "EXPERTMATCH_ADMIN_KEY is 1 characters long" in output
    assert "at least 16" in output


def test_a_long_admin_key_and_none_are_fine() -> None:
    assert Settings(admin_key=ADMIN_KEY, _env_file=None).admin_key is not None
    assert Settings(admin_key="", _env_file=None).admin_key is None


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("GET", "/healthz", {}),
        ("GET", "/docs", {}),
        ("GET", "/openapi.json", {}),
        ("GET", "/experts", {}),
        ("GET", "/experts", ADMIN),
        ("GET", "/experts/999", ADMIN),
        ("PUT", "/experts", ADMIN),
        ("GET", "/nowhere", {}),
    ],
)
def test_every_answer_carries_the_security_headers(client, method, path, headers) -> None:
    response = client.request(method, path, headers=headers)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "server" not in {k.lower() for k in response.headers}
    if headers:
        assert response.headers["Cache-Control"] == "no-store"


def test_a_405_lists_the_methods_the_path_takes(client) -> None:
    response = client.put("/experts", headers=ADMIN)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD, POST"
    response = client.post("/experts/1", headers=ADMIN)
    assert response.headers["Allow"] == "DELETE, GET, HEAD, PATCH"
    response = client.get("/rounds/1/close", headers=ADMIN)
    assert response.headers["Allow"] == "POST"
