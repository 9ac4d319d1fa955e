"""What a new user sees when a command fails: one or two plain lines, a documented exit code, no traceback."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import ExitCode, app
from service.config import get_settings

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def run_at(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """`run_at(url, *args)`: run the command line against DATABASE_URL=url, catching what it raises."""
    monkeypatch.delenv("EXPERTMATCH_DATABASE_URL", raising=False)
    monkeypatch.delenv("EXPERTMATCH_ADMIN_KEY", raising=False)
    monkeypatch.delenv("EXPERTMATCH_DEBUG", raising=False)

    def run(url: str, *args: str):  # type: ignore[no-untyped-def]
        monkeypatch.setenv("DATABASE_URL", url)
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(app, [str(a) for a in args])
        finally:
            get_settings.cache_clear()

    return run


def _plain(result, code: int) -> list[str]:  # type: ignore[no-untyped-def]
    """The result failed with `code` in one or two plain lines on stderr and nothing raised."""
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 2 and "Traceback" not in result.stderr, result.stderr
    return lines


COMMANDS_NEEDING_THE_SCHEMA = [
    ("import", "enterprises", str(ROOT / "fixtures" / "import" / "enterprises.csv")),
    ("export", "experts"),
    ("keys", "create"),
    ("keys", "revoke", "1"),
    ("demo", "load"),
]


@pytest.mark.parametrize("args", COMMANDS_NEEDING_THE_SCHEMA, ids=lambda a: " ".join(a[:2]))
def test_a_command_on_a_fresh_database_says_to_run_db_upgrade(run_at, tmp_path: Path, args: tuple) -> None:
    missing = tmp_path / "fresh.db"
    lines = _plain(run_at(f"sqlite:///{missing}", *args), ExitCode.SCHEMA)
    assert "expertmatch db upgrade" in lines[-1]
    assert not missing.exists(), "a failed command must not leave an empty database file behind"

    sqlite3.connect(tmp_path / "empty.db").close()  # a file without the tables
    lines = _plain(run_at(f"sqlite:///{tmp_path / 'empty.db'}", *args), ExitCode.SCHEMA)
    assert "no expertmatch tables" in lines[0] and "expertmatch db upgrade" in lines[1]


def test_after_db_upgrade_the_same_command_works(run_at, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert run_at(url, "db", "upgrade").exit_code == 0
    assert run_at(url, "export", "experts").exit_code == 0


def test_a_database_behind_the_code_says_to_run_db_upgrade(run_at, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    from alembic import command

    from service.migrate import alembic_config

    command.upgrade(alembic_config(url), "head")
    command.downgrade(alembic_config(url), "-1")
    lines = _plain(run_at(url, "export", "experts"), ExitCode.SCHEMA)
    assert "is at revision" in lines[0] and "expertmatch db upgrade" in lines[1]


@pytest.mark.parametrize("args", [("db", "upgrade"), *COMMANDS_NEEDING_THE_SCHEMA], ids=lambda a: " ".join(a[:2]))
def test_an_unreachable_postgresql_is_named_with_what_to_check(run_at, args: tuple) -> None:
    url = f"postgresql+psycopg://expertmatch:secret-password@127.0.0.1:{_free_port()}/expertmatch"
    lines = _plain(run_at(url, *args), ExitCode.DATABASE)
    assert lines[0].startswith("error: cannot reach the database at ") and "refused" in lines[0].lower()
    assert "secret-password" not in "\n".join(lines)
    assert "is PostgreSQL running" in lines[1]


def test_debug_shows_the_traceback(run_at, tmp_path: Path) -> None:
    result = run_at(f"sqlite:///{tmp_path / 'fresh.db'}", "--debug", "export", "experts")
    assert result.exit_code != 0 and result.exception is not None and not isinstance(result.exception, SystemExit)


def test_an_enterprise_key_without_its_enterprise_is_a_plain_message(cli) -> None:
    lines = _plain(cli_result := _invoke(cli, "keys", "create", "--role", "enterprise"), ExitCode.USAGE)
    assert lines == ["error: an enterprise key belongs to one enterprise: give its id with --enterprise-id ID"]
    assert "validation error" not in cli_result.output
    lines = _plain(_invoke(cli, "keys", "create", "--role", "expert"), ExitCode.USAGE)
    assert "--expert-id" in lines[0]
    lines = _plain(_invoke(cli, "keys", "create", "--expert-id", "3"), ExitCode.USAGE)
    assert lines == ["error: an admin key takes no --expert-id"]
    lines = _plain(_invoke(cli, "keys", "create", "--role", "enterprise", "--enterprise-id", "99999"), ExitCode.USAGE)
    assert lines == ["error: enterprise_id: enterprise 99999 does not exist"]
    unknown = _invoke(cli, "keys", "create", "--role", "boss")
    assert unknown.exit_code == 2 and "'boss' is not one of 'admin', 'enterprise', 'expert'" in unknown.stderr


def _invoke(cli, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args))


def test_export_to_a_missing_directory_is_a_plain_message(cli, tmp_path: Path) -> None:
    lines = _plain(_invoke(cli, "export", "experts", "-o", str(tmp_path / "nowhere" / "x.csv")), ExitCode.USAGE)
    assert "there is no directory" in lines[0]


def test_export_into_a_pipe_closed_early_exits_quietly(cli, database_url: str) -> None:
    """`expertmatch export experts | head -1`: the reader leaves after one line; export stops, silent, exit 0."""
    assert cli("demo", "load").exit_code == 0  # about 200 kB of CSV: more than a pipe holds
    env = {**os.environ, "DATABASE_URL": database_url}
    env.pop("EXPERTMATCH_DATABASE_URL", None)
    done = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {sys.executable} -m service.cli export experts | head -1"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("\ufeffexternal_id,") and done.stdout.count("\n") == 1
    assert done.stderr == ""


def test_serve_on_a_taken_port_says_so_before_any_banner(run_at, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_at(f"sqlite:///{tmp_path / 'x.db'}", "serve", "--port", str(port), "--workers", "1")
    lines = _plain(result, ExitCode.PORT)
    assert result.stdout == "", "no banner for a server that cannot start"
    assert lines[0] == f"error: port {port} on 127.0.0.1 is already in use (another server is listening there)"
    assert "expertmatch serve --port " in lines[1] and "EXPERTMATCH_PORT=" in lines[1]
    assert not (tmp_path / "x.db").exists(), "the port is checked before the migrations run"


def _every_command(group=None, path=()):  # type: ignore[no-untyped-def]
    import typer.main

    group = group or typer.main.get_command(app)
    yield path
    for name, command in getattr(group, "commands", {}).items():
        yield from _every_command(command, (*path, name))


@pytest.mark.parametrize("path", list(_every_command()), ids=lambda p: " ".join(p) or "expertmatch")
def test_help_has_no_type_noise(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    noises = ("<bool>", "<str>", "<int>", "<path>", "<file>", "<float>", "{data}", "{file}", "╭")
    # evaluate shows matching.evaluate's own argparse help, whose {a,b} lists name real choices.
    for noise in noises if path == ("evaluate",) else (*noises, "{"):
        assert noise not in result.stdout, (noise, result.stdout)


def test_help_names_the_values_and_the_exit_codes() -> None:
    serve = CliRunner().invoke(app, ["serve", "--help"]).stdout
    assert "--port PORT" in serve and "--workers N" in serve and "--demo / --no-demo" in serve
    top = CliRunner().invoke(app, ["--help"]).stdout
    assert "4 schema missing or behind" in top and "--debug" in top


def test_evaluate_help_lists_the_options_of_matching_evaluate() -> None:
    result = CliRunner().invoke(app, ["evaluate", "--help"])
    assert result.exit_code == 0
    assert result.stdout.startswith("usage: expertmatch evaluate")
    for option in ("--k", "--variant", "--json", "--split", "--variants"):
        assert option in result.stdout
    bare = CliRunner().invoke(app, ["evaluate"])
    assert bare.exit_code == 2 and "usage: expertmatch evaluate" in bare.stdout
