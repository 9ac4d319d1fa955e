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
    assert "USER expertmatch" in dockerfile


def test_the_dockerfile_installs_the_locked_dependencies_before_copying_the_code() -> None:
    """A code change must not reinstall numpy, SciPy, scikit-learn and OR-Tools: their layer comes first."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")  # join continued lines
    steps = [line for line in text.splitlines() if line.split(" ", 1)[0] in {"COPY", "RUN"}]
    deps = next(i for i, step in enumerate(steps) if "pip install -c constraints.txt -r" in step)
    assert steps[deps - 1] == "COPY pyproject.toml constraints.txt ./", "only the dependency list and lock before it"
    code = next(i for i, step in enumerate(steps) if step.startswith("COPY service"))
    assert deps < code
    package = next(i for i, step in enumerate(steps) if "pip install --no-deps" in step)
    assert code < package, "the package itself is installed after the code, without touching the dependencies"


def test_compose_requires_every_secret_and_hard_codes_no_setting(compose: dict) -> None:
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    references = re.findall(r"\$\{([A-Z_]+)(:?[-?])?([^}]*)\}", text)
    assert references
    for name, operator, _ in references:
        if any(word in name for word in ("PASSWORD", "SECRET", "KEY", "TOKEN")):
            assert operator == ":?", f"${{{name}}} must be required (${{{name}:?message}}), not defaulted"
    api = compose["services"]["api"]["environment"]
    for name, value in api.items():
        if name.startswith("EXPERTMATCH_"):
            assert str(value).startswith(f"${{{name}"), f"{name} is hard-coded in compose: {value!r}"
    assert compose["services"]["db"]["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")


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


SECRETS = {"EXPERTMATCH_ADMIN_KEY": "a-long-random-secret", "POSTGRES_PASSWORD": "another-long-secret"}


@pytest.mark.skipif(COMPOSE is None, reason="no docker compose client installed (the file is still read above)")
@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_compose_config_passes_with_the_secrets_and_refuses_without_each(missing: str, tmp_path: Path) -> None:
    client = COMPOSE
    # Run from a copy so that a developer's own .env cannot supply the secret this test leaves out.
    for name in ("docker-compose.yml", "Dockerfile"):
        (tmp_path / name).write_bytes((ROOT / name).read_bytes())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EXPERTMATCH_", "POSTGRES_"))}
    env.update(SECRETS)
    run = {"cwd": tmp_path, "capture_output": True, "text": True, "timeout": 60}
    done = subprocess.run([*client, "config"], env=env, **run)
    assert done.returncode == 0, done.stderr
    resolved = yaml.safe_load(done.stdout)["services"]["api"]["environment"]
    assert resolved["EXPERTMATCH_LOG_JSON"] in ("true", True) and resolved["EXPERTMATCH_WORKERS"] in ("", None)
    assert ":another-long-secret@db:5432/" in resolved["DATABASE_URL"]
    env.pop(missing)
    refused = subprocess.run(
        [*client, "config", "-q"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert refused.returncode != 0 and missing in refused.stderr
