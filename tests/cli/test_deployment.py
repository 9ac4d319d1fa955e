"""docker-compose.yml runs PostgreSQL (healthy), then the migrations (once), then the API; .env.example names its
settings."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def test_postgres_16_with_a_healthcheck_and_a_named_volume(compose: dict) -> None:
    db = compose["services"]["db"]
    assert db["image"] == "postgres:16"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    volume = db["volumes"][0].split(":")[0]
    assert volume in compose["volumes"]


def test_migrations_run_once_after_the_database_is_healthy(compose: dict) -> None:
    migrate = compose["services"]["migrate"]
    assert migrate["command"] == ["expertmatch", "db", "upgrade"]
    assert migrate["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert migrate["restart"] == "no"


def test_the_api_starts_after_the_migrations_succeeded_and_reports_readiness(compose: dict) -> None:
    api = compose["services"]["api"]
    assert api["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert api["command"][:3] == ["expertmatch", "serve", "--no-migrate"]
    env = api["environment"]
    assert env["EXPERTMATCH_ADMIN_KEY"].startswith("${EXPERTMATCH_ADMIN_KEY:?")
    assert env["DATABASE_URL"].startswith("postgresql+psycopg://") and "@db:5432/" in env["DATABASE_URL"]
    assert env["PROMETHEUS_MULTIPROC_DIR"] and "EXPERTMATCH_WORKERS" in env
    assert "/readyz" in " ".join(api["healthcheck"]["test"])
    assert api["build"] == "." and (ROOT / "Dockerfile").is_file()


def test_the_dockerfile_builds_from_python_311_slim_with_pip_install() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert dockerfile.splitlines()[1] == "FROM python:3.11-slim"
    assert "RUN pip install ." in dockerfile and "USER expertmatch" in dockerfile


def test_env_example_names_every_variable_compose_reads(compose: dict) -> None:
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    for name in set(re.findall(r"\$\{([A-Z_]+)", text)):
        assert f"{name}=" in example, name


def _compose_client() -> list[str] | None:
    """The compose client on this machine: the v1 `docker-compose` binary or the `docker compose` plugin, if any."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=60)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


COMPOSE = _compose_client()


@pytest.mark.skipif(COMPOSE is None, reason="no docker compose client installed (the file is still read above)")
def test_compose_config_passes_when_the_admin_key_is_set() -> None:
    client = COMPOSE
    env = {**os.environ, "EXPERTMATCH_ADMIN_KEY": "a-long-random-secret"}
    done = subprocess.run([*client, "config", "-q"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    env.pop("EXPERTMATCH_ADMIN_KEY")
    missing = subprocess.run([*client, "config", "-q"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert missing.returncode != 0 and "EXPERTMATCH_ADMIN_KEY" in missing.stderr
