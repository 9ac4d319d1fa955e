"""Run `expertmatch` in-process with Typer's CliRunner against the test database."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from typer.testing import CliRunner, Result

from service.cli import app
from service.config import get_settings


@pytest.fixture
def cli(database_url: str, engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Result]]:
    """`cli("import", "experts", path)` runs the command with DATABASE_URL set to the (emptied) test database."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("EXPERTMATCH_DATABASE_URL", raising=False)
    monkeypatch.delenv("EXPERTMATCH_ADMIN_KEY", raising=False)
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    yield run
    get_settings.cache_clear()
