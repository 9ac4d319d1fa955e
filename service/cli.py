"""The `expertmatch` command line, grouped by noun: serve, db, keys, demo, import, export, evaluate.

A failure prints one or two plain lines on stderr (what went wrong, then what to do) and exits with one of the codes
of `ExitCode`; `expertmatch --debug …` shows the traceback instead.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import io
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import IntEnum
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.core import TyperCommand, TyperGroup

from service.config import Settings, get_settings
from service.db import make_engine
from service.keys.models import Role
from service.transfer.columns import Kind
from service.transfer.readers import Format


class ExitCode(IntEnum):
    """The command line's exit codes (README, "Command line")."""

    OK = 0
    BAD_ROWS = 1  # an import found bad rows (the good ones went in unless --atomic)
    USAGE = 2  # a bad option, argument, file or record id
    DATABASE = 3  # the database is unreachable or refused the work
    SCHEMA = 4  # the database's schema is missing or behind: run `expertmatch db upgrade`
    PORT = 5  # serve: the address or port cannot be bound (in use, not on this machine, privileged)
    INTERNAL = 70  # a bug: rerun with --debug and report the traceback


class CliError(Exception):
    """A failure to report as one line and a hint, with its exit code."""

    def __init__(self, message: str, hint: str | None = None, code: ExitCode = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.message, self.hint, self.code = message, hint, code


# Errors click/typer report themselves (usage errors, exits, aborts). typer >= 0.22 vendors its own click, so both.
_PASS_THROUGH: tuple[type[BaseException], ...] = (
    typer.Exit,
    typer.Abort,
    click.exceptions.ClickException,
    click.exceptions.Exit,
    click.exceptions.Abort,
    *filter(None, [getattr(getattr(typer, "exceptions", None), "TyperException", None)]),
)


class _Group(TyperGroup):
    """The top-level group: turns every uncaught error into a plain message and a documented exit code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except _PASS_THROUGH:
            raise
        except BrokenPipeError:
            # The reader went away (`expertmatch export experts | head`): not an error of ours, so stop quietly.
            _silence_stdout()
            raise typer.Exit(ExitCode.OK) from None
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            error = _as_cli_error(exc)
            _report(error)
            raise typer.Exit(error.code) from None


class _Command(TyperCommand):
    """Help as operators read it: `FILE`, not `{FILE}` or `FILE <file>` (newer typer adds type labels)."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return [p[1:-1] if p.startswith("{") and p.endswith("}") else p for p in super().collect_usage_pieces(ctx)]

    def format_options(self, ctx: Any, formatter: Any) -> None:
        arguments, options = [], []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                arguments.append((param.metavar or (param.name or "").upper(), getattr(param, "help", None) or ""))
            else:
                options.append(record)
        for title, rows in (("Arguments", arguments), ("Options", options)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


app = typer.Typer(
    cls=_Group,
    no_args_is_help=True,
    # Plain click help: no rich panels, no <bool>/<str> type column; value options name their value (--port PORT).
    rich_markup_mode=None,
    pretty_exceptions_show_locals=False,  # --debug tracebacks must not print settings (the admin key) as locals
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True, rich_markup_mode=None)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True, rich_markup_mode=None)
demo_app = typer.Typer(help="Demo repository.", no_args_is_help=True, rich_markup_mode=None)
import_app = typer.Typer(
    help="Import records from CSV, XLSX or JSON Lines (English or Chinese headers; see fixtures/import/README.md).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
export_app = typer.Typer(help="Export records as CSV, XLSX or JSON Lines.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(demo_app, name="demo")
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")

console = Console(stderr=True)


@app.callback()
def main(
    debug: Annotated[
        bool, typer.Option("--debug", envvar="EXPERTMATCH_DEBUG", help="on an error, show the full traceback")
    ] = False,
) -> None:
    """expertmatch: match technology specialists to enterprises' demands.

    \b
    Exit codes: 0 done; 1 an import had bad rows; 2 bad usage or input;
    3 database unreachable or failed; 4 schema missing or behind (run
    `expertmatch db upgrade`); 5 serve cannot listen on its port; 70 a bug.
    A failure prints what went wrong and what to do; --debug adds the traceback.
    """


def _report(error: CliError) -> None:
    """Print the error and its hint as plain lines on stderr."""
    console.print(f"error: {error.message}", markup=False, highlight=False, soft_wrap=True, style="red")
    if error.hint:
        console.print(f"hint: {error.hint}", markup=False, highlight=False, soft_wrap=True)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's last flush cannot fail on the closed pipe again."""
    with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return " ".join(text.splitlines()[0].split()) if text else type(exc).__name__


def _as_cli_error(exc: Exception) -> CliError:
    """Classify an error nobody caught into a message, a hint and an exit code."""
    from sqlalchemy.exc import SQLAlchemyError

    if isinstance(exc, CliError):
        return exc
    if isinstance(exc, SQLAlchemyError):
        reason = _first_line(exc)
        if _is_missing_table(reason):
            return CliError(f"the database has no expertmatch tables ({reason})", _UPGRADE_HINT, ExitCode.SCHEMA)
        return CliError(f"database error: {reason}", "rerun with --debug for the details", ExitCode.DATABASE)
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        return CliError(f"{where}{exc.strerror or exc}", None, ExitCode.USAGE)
    return CliError(
        f"unexpected {type(exc).__name__}: {_first_line(exc)}",
        "this is a bug: rerun with --debug and report the traceback",
        ExitCode.INTERNAL,
    )


_UPGRADE_HINT = "run `expertmatch db upgrade` first (it creates or updates the schema at DATABASE_URL)"


def _is_missing_table(reason: str) -> bool:
    lowered = reason.lower()
    return "no such table" in lowered or ("relation" in lowered and "does not exist" in lowered)


def _connection_error(settings: Settings, exc: Exception) -> CliError:
    """The database cannot be reached: say where, why, and what to check."""
    from sqlalchemy.engine import make_url

    url = make_url(settings.database_url)
    reason = _first_line(exc).removeprefix("connection failed: ")
    # psycopg repeats the address before the reason; keep the reason ("Connection refused", "password …").
    reason = reason.rsplit(" failed: ", 1)[-1]
    if settings.is_sqlite:
        return CliError(
            f"cannot open the SQLite database {url.database}: {reason}",
            "check DATABASE_URL and that its directory exists and is writable",
            ExitCode.DATABASE,
        )
    where = f"{url.host or 'localhost'}:{url.port or 5432}"
    return CliError(
        f"cannot reach the database at {_safe_url(settings.database_url)}: {reason}",
        f"is PostgreSQL running at {where}? Start it (or run `docker compose up -d db`), or point DATABASE_URL "
        "elsewhere (unset, expertmatch uses the SQLite file expertmatch.db)",
        ExitCode.DATABASE,
    )


def _database(settings: Settings | None = None, *, schema: bool = True) -> Engine:
    """An engine for DATABASE_URL, after checking that it is reachable and (with `schema`) migrated to head."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from service.migrate import schema_problem

    settings = settings or get_settings()
    url = make_url(settings.database_url)
    sqlite_file = settings.is_sqlite and url.database not in (None, "", ":memory:")
    # Connecting would create an empty file: say what is missing instead.
    if schema and sqlite_file and not Path(url.database).exists():
        raise CliError(f"there is no database file {url.database} yet", _UPGRADE_HINT, ExitCode.SCHEMA)
    engine = make_engine(settings)
    try:
        with engine.connect() as connection:
            problem = schema_problem(connection) if schema else None
    except SQLAlchemyError as exc:
        engine.dispose()
        raise _connection_error(settings, exc) from exc
    if problem is not None:
        engine.dispose()
        raise CliError(f"the database {_safe_url(settings.database_url)} {problem}", _UPGRADE_HINT, ExitCode.SCHEMA)
    return engine


@db_app.command("upgrade", cls=_Command)
def db_upgrade(revision: Annotated[str, typer.Argument(metavar="REVISION", help="target revision")] = "head") -> None:
    """Create or update the schema at DATABASE_URL (Alembic migrations); a migrated database is left as it is."""
    from service.migrate import upgrade

    settings = get_settings()
    _database(settings, schema=False).dispose()  # unreachable: say so plainly before Alembic tries
    upgrade(settings.database_url, revision)
    console.print(f"[green]database at {revision}[/green]: {_safe_url(settings.database_url)}")


@demo_app.command("load", cls=_Command)
def demo_load() -> None:
    """Load the demo enterprises, demands and specialists (existing external ids are skipped)."""
    from service.demo import load_demo

    settings = get_settings()
    engine = _database(settings)
    try:
        report = load_demo(engine, settings.fixtures_dir / "demo")
    finally:
        engine.dispose()
    console.print(f"loaded {report.enterprises} enterprises, {report.demands} demands, {report.experts} specialists")


@keys_app.command("create", cls=_Command)
def keys_create(
    role: Annotated[
        Role, typer.Option(metavar="ROLE", help="admin | enterprise | expert | unit", show_default=True)
    ] = "admin",  # type: ignore[assignment]
    enterprise_id: Annotated[
        int | None, typer.Option(metavar="ID", help="the enterprise an enterprise key belongs to")
    ] = None,
    expert_id: Annotated[int | None, typer.Option(metavar="ID", help="the specialist an expert key belongs to")] = None,
    unit_id: Annotated[
        int | None, typer.Option(metavar="ID", help="the dispatching unit a unit key belongs to")
    ] = None,
    label: Annotated[str | None, typer.Option(metavar="TEXT", help="a note to recognise the key by")] = None,
) -> None:
    """Mint an API key and print it on stdout (it is shown only this once)."""
    from service.errors import DomainError
    from service.keys import service as keys_service
    from service.keys.models import ApiKeyCreateAdapter

    role = Role(role)
    options = {"--enterprise-id": enterprise_id, "--expert-id": expert_id, "--unit-id": unit_id}
    needs = {Role.enterprise: "--enterprise-id", Role.expert: "--expert-id", Role.unit: "--unit-id"}.get(role)
    given = [name for name, value in options.items() if value is not None]
    article = "an" if role.value[0] in "aeiou" else "a"
    if needs and needs not in given:
        raise CliError(f"{article} {role} key belongs to one {role}: give its id with {needs} ID")
    if extra := [name for name in given if name != needs]:
        raise CliError(f"{article} {role} key takes no {' or '.join(extra)}")
    ids = {"enterprise_id": enterprise_id, "expert_id": expert_id, "unit_id": unit_id}
    key_in = ApiKeyCreateAdapter.validate_python(
        {"role": role.value, "label": label, **{k: v for k, v in ids.items() if v is not None}}
    )
    engine = _database()
    try:
        with Session(engine) as db_session:
            created = keys_service.create(db_session=db_session, key_in=key_in)
    except DomainError as exc:
        raise CliError(str(exc).removeprefix("body.")) from exc
    finally:
        engine.dispose()
    console.print(f"key {created.id} ({created.role}) created")
    typer.echo(created.key)


@keys_app.command("revoke", cls=_Command)
def keys_revoke(key_id: Annotated[int, typer.Argument(metavar="KEY_ID", help="the key's id")]) -> None:
    """Revoke an API key."""
    from service.errors import DomainError
    from service.keys import service as keys_service

    engine = _database()
    try:
        with Session(engine) as db_session:
            keys_service.revoke(db_session=db_session, key_id=key_id)
    except DomainError as exc:
        raise CliError(str(exc).removeprefix("body.")) from exc
    finally:
        engine.dispose()
    console.print(f"key {key_id} revoked")


@app.command("worker", cls=_Command)
def worker() -> None:
    """Run the webhook delivery worker alone (fan-out, signed deliveries, retries, deadline notices) until Ctrl-C."""
    import signal
    import types

    from service.suggestions.live import LiveMatcher, matcher_factory
    from service.webhooks.worker import DeliveryWorker

    settings = get_settings()
    engine = _database(settings)
    live = LiveMatcher(engine, factory=matcher_factory(settings)).start()
    holder = types.SimpleNamespace(state=types.SimpleNamespace(matcher=live))

    def explain(db_session):  # type: ignore[no-untyped-def]
        from service.suggestions.live import explainer_for

        return explainer_for(holder, db_session)

    runner = DeliveryWorker(engine, settings, explain=explain)
    signal.signal(signal.SIGTERM, lambda *_: runner.stop(timeout=0))
    console.print(f"webhook worker on {_safe_url(settings.database_url)}; Ctrl-C stops it")
    try:
        runner.run_forever()
    except KeyboardInterrupt:
        pass
    finally:
        live.close()
        engine.dispose()


@app.command("serve", cls=_Command)
def serve(
    host: Annotated[str | None, typer.Option(metavar="HOST", help="bind address (EXPERTMATCH_HOST, 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(metavar="PORT", help="port (EXPERTMATCH_PORT, 8000)")] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            help="worker processes (EXPERTMATCH_WORKERS; default 1 on SQLite, one per core up to 4 on PostgreSQL)",
        ),
    ] = None,
    migrate: Annotated[bool, typer.Option(help="apply the migrations first")] = True,
    demo: Annotated[bool, typer.Option(help="load the demo repository and print an administrator key")] = False,
) -> None:
    """Serve the REST API.

    Checks the port, migrates, then prints on stdout where the API answers and a curl line to try (with --demo an
    administrator key too); logs go to stderr.
    """
    from service.workers import prepare_multiprocess_dir, usable_cores

    try:
        settings = get_settings()
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            console.print(f"[red]cannot start: {error['msg'].removeprefix('Value error, ')}[/red]")
        raise typer.Exit(2) from None
    host = host or settings.host
    port = settings.port if port is None else port
    if workers is not None and workers < 0:
        raise CliError(f"--workers {workers}: give a number of worker processes, 1 or more (0: the default)")
    workers = workers or settings.effective_workers
    _check_bindable(host, port)
    if workers > (cores := usable_cores()):
        console.print(
            f"warning: {workers} workers on {cores} core{'s' if cores > 1 else ''}: they compete for the CPU "
            "(the default is one per core, up to 4, on PostgreSQL)",
            markup=False,
            highlight=False,
            soft_wrap=True,
            style="yellow",
        )
    own_metrics_dir = None
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Several workers: /metrics must add up every worker's counters (prometheus-client multiprocess mode). Set
        # before prometheus-client is imported (it picks its mode then), as forked workers inherit that choice.
        own_metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="expertmatch-metrics-")
    try:
        prepare_multiprocess_dir()
        _serve(settings, host, port, workers, migrate=migrate, demo=demo)
    finally:
        if own_metrics_dir is not None:
            shutil.rmtree(own_metrics_dir, ignore_errors=True)


def _serve(settings: Settings, host: str, port: int, workers: int, *, migrate: bool, demo: bool) -> None:
    """Migrate, load the demo if asked, print the banner, run the workers."""
    from service.observability import log_config
    from service.workers import run_uvicorn

    if migrate:
        db_upgrade("head")
    else:
        try:
            _database(settings).dispose()
        except CliError as error:
            if error.code is not ExitCode.DATABASE:
                raise
            # Unreachable now may be reachable soon (compose, restarts): serve, and let /readyz say 503 meanwhile.
            console.print(f"warning: {error.message}", markup=False, highlight=False, soft_wrap=True, style="yellow")
    key = None
    if demo:
        demo_load()
        key = _demo_admin_key(settings)
    _print_banner(host, port, workers, key)
    shared = None
    if workers > 1 and settings.shared_index:
        from service.main import SharedIndex
        from service.main import app as asgi_app

        shared = SharedIndex(asgi_app, settings)
    run_uvicorn(
        "service.main:app",
        host=host,
        port=port,
        workers=workers,
        shared=shared,
        log_level=settings.log_level.lower(),
        log_config=log_config(settings),
        worker_timeout=settings.worker_timeout,
        server_header=False,  # no banner naming the server software
    )


def _check_bindable(host: str, port: int) -> None:
    """Refuse to start (before any banner) when uvicorn could not bind host:port."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise CliError(
            f"cannot bind {host}: {exc.strerror}", "pass --host 127.0.0.1 or 0.0.0.0", ExitCode.PORT
        ) from exc
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                free = _free_port_after(host, port)
                raise CliError(
                    f"port {port} on {host} is already in use (another server is listening there)",
                    f"stop that server, or choose another port: expertmatch serve --port {free} "
                    f"(or EXPERTMATCH_PORT={free})",
                    ExitCode.PORT,
                ) from exc
            if exc.errno == errno.EACCES:
                raise CliError(
                    f"no permission to listen on port {port}", "use a port above 1023, e.g. --port 8000", ExitCode.PORT
                ) from exc
            raise CliError(
                f"cannot listen on {host}:{port}: {exc.strerror}",
                "pass --host 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)",
                ExitCode.PORT,
            ) from exc


def _free_port_after(host: str, port: int) -> int:
    """The first port after `port` that can be bound now (to suggest one that works)."""
    for candidate in range(port + 1, min(port + 100, 65536)):
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, candidate))
            except OSError:
                continue
            return candidate
    return port + 1


def _print_banner(host: str, port: int, workers: int, key: str | None) -> None:
    """Where the API answers and a curl line that works as printed, on stdout."""
    # A wildcard address is not something to connect to: the same machine answers on loopback.
    reach = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    base = f"http://[{reach}]:{port}" if ":" in reach else f"http://{reach}:{port}"
    lines = [f"expertmatch on {base} ({workers} worker{'s' if workers > 1 else ''}); docs: {base}/docs"]
    if key == "$EXPERTMATCH_ADMIN_KEY":
        lines.append("administrator key: the value of EXPERTMATCH_ADMIN_KEY")
        lines.append(f'try: curl -s -H "Authorization: Bearer $EXPERTMATCH_ADMIN_KEY" "{base}/experts?limit=3"')
    elif key is not None:
        lines.append(f"administrator key (shown once, only its digest is stored): {key}")
        lines.append(f"try: curl -s -H 'Authorization: Bearer {key}' '{base}/experts?limit=3'")
    else:
        lines.append(f"try: curl -s {base}/healthz")
    typer.echo("\n".join(lines))
    sys.stdout.flush()


# --- import / export ----------------------------------------------------------------------------------------------


@contextmanager
def _progress_reporter(label: str, interval: float) -> Iterator[Callable]:
    """A rich progress bar on a terminal; elsewhere a plain line every `interval` seconds (quiet when negative)."""
    from service.transfer.importer import ImportReport
    from service.transfer.readers import RecordSource

    if console.is_terminal:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[rows]:,} rows"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console, transient=False) as bar:
            task = bar.add_task(label, total=None, rows=0)

            def update(source: RecordSource, report: ImportReport) -> None:
                bar.update(task, total=source.total, completed=source.position, rows=report.rows)

            yield update
        return
    last = [time.monotonic()]

    def plain(source: RecordSource, report: ImportReport) -> None:
        now = time.monotonic()
        if interval < 0 or now - last[0] < interval:
            return
        last[0] = now
        share = f" ({100 * source.position / source.total:.0f}%)" if source.total else ""
        console.print(
            f"progress: {label}: {report.rows} rows read{share}", markup=False, highlight=False, soft_wrap=True
        )

    yield plain


def _run_import(kind: Kind, file: Path, *, atomic: bool, fmt: Format, chunk_size: int, interval: float) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from service.transfer.importer import import_source
    from service.transfer.readers import FileError, open_records

    engine = _database()
    try:
        source = open_records(file, fmt)
        with _progress_reporter(f"{kind} from {file.name}", interval) as progress:
            report = import_source(engine, kind, source, atomic=atomic, chunk_size=chunk_size, progress=progress)
    except FileError as exc:
        raise CliError(f"{file}: {exc}") from exc
    except SQLAlchemyError as exc:
        tail = "nothing was written" if atomic else "chunks committed before the failure stay"
        error = _as_cli_error(exc)
        raise CliError(f"{error.message} ({tail})", error.hint, error.code) from exc
    finally:
        engine.dispose()
    for error in report.errors:
        console.print(str(error), markup=False, highlight=False, soft_wrap=True, style="red")
    if report.ignored_columns:
        names = ", ".join(report.ignored_columns)
        console.print(
            f"ignored unknown columns: {names}", markup=False, highlight=False, soft_wrap=True, style="yellow"
        )
    if report.without_key:
        console.print(
            f"{report.without_key} new records have no external_id: importing the file again would add them again",
            markup=False,
            highlight=False,
            soft_wrap=True,
            style="yellow",
        )
    summary = (
        f"{kind}: {report.rows} rows, {report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged, {len(report.errors)} bad"
    )
    if atomic and not report.committed:
        summary += " - nothing was written (--atomic)"
    console.print(summary, markup=False, highlight=False, soft_wrap=True, style="green" if report.ok else "red")
    if not report.ok:
        raise typer.Exit(1)


def _import_command(kind: Kind) -> None:
    def command(
        file: Annotated[
            Path, typer.Argument(metavar="FILE", exists=True, dir_okay=False, readable=True, help="CSV, XLSX or JSONL")
        ],
        atomic: Annotated[bool, typer.Option("--atomic", help="all rows or none: any bad row writes nothing")] = False,
        fmt: Annotated[
            Format, typer.Option("--format", metavar="FORMAT", help="auto | csv | xlsx | jsonl (auto: by extension)")
        ] = Format.auto,
        chunk_size: Annotated[int, typer.Option(min=1, max=100_000, help="rows per transaction", hidden=True)] = 500,
        progress_interval: Annotated[
            float, typer.Option(help="seconds between progress lines when not on a terminal", hidden=True)
        ] = 5.0,
    ) -> None:
        _run_import(kind, file, atomic=atomic, fmt=fmt, chunk_size=chunk_size, interval=progress_interval)

    command.__doc__ = (
        f"Import {kind}: every bad row is reported as 'line N: field: reason' while the good rows go in "
        "(or nothing does, with --atomic); rows matching an existing external_id"
        + (" or credit_code" if kind is Kind.enterprises else "")
        + " update it. Exit code 1 when any row was bad."
    )
    import_app.command(kind.value, cls=_Command)(command)


def _export_command(kind: Kind) -> None:
    def command(
        fmt: Annotated[
            Format | None,
            typer.Option(
                "--format", metavar="FORMAT", help="csv | xlsx | jsonl (default: by --output's extension, else csv)"
            ),
        ] = None,
        output: Annotated[
            Path | None, typer.Option("--output", "-o", metavar="FILE", help="file to write (default: stdout)")
        ] = None,
        headers: Annotated[
            str, typer.Option(metavar="en|zh", help="en (field names) | zh (Chinese template headers)")
        ] = "en",
    ) -> None:
        _run_export(kind, fmt, output, headers)

    command.__doc__ = f"Export every {kind[:-1]} record, in id order, in a form that imports again unchanged."
    if kind is Kind.engagements:
        command.__doc__ = "Export every engagement, in id order (engagements are not imported)."
    export_app.command(kind.value, cls=_Command)(command)


def _run_export(kind: Kind, fmt: Format | None, output: Path | None, headers: str) -> None:
    from service.transfer.exporter import export

    _export_with(
        str(kind), fmt, output, headers, lambda engine, f, handle: export(engine, kind, f, handle, headers=headers)
    )


def _export_with(label: str, fmt: Format | None, output: Path | None, headers: str, write: Callable[..., int]) -> None:
    """Check the options, then run `write(engine, fmt, handle)` to stdout or atomically to `output`."""
    if headers not in {"en", "zh"}:
        raise CliError(f"--headers must be en or zh, not {headers!r}")
    if fmt is None or fmt is Format.auto:
        suffix = output.suffix.lower().lstrip(".") if output else ""
        fmt = {"xlsx": Format.xlsx, "jsonl": Format.jsonl, "ndjson": Format.jsonl, "json": Format.jsonl}.get(
            suffix, Format.csv
        )
    if output is not None and not output.parent.is_dir():
        raise CliError(f"--output {output}: there is no directory {output.parent}")
    engine = _database()
    try:
        if output is None:
            if fmt is Format.xlsx and sys.stdout.isatty():
                raise CliError("XLSX is binary: write it to a file with --output FILE")
            count = write(engine, fmt, sys.stdout.buffer)
            sys.stdout.flush()
        else:
            # Write beside the target and rename, so a crash never leaves a half-written export under its name.
            partial = output.with_name(output.name + ".part")
            try:
                with partial.open("wb") as handle:
                    count = write(engine, fmt, handle)
                    handle.flush()
                    os.fsync(handle.fileno())
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
            partial.replace(output)
    finally:
        engine.dispose()
    where = f" to {output}" if output else ""
    console.print(f"exported {count} {label} as {fmt}{where}", markup=False, highlight=False, soft_wrap=True)


for _kind in (Kind.experts, Kind.enterprises, Kind.demands):
    _import_command(_kind)
for _kind in (Kind.experts, Kind.enterprises, Kind.demands, Kind.engagements):
    _export_command(_kind)


# --- the finance office's and the assessment's exports (SPEC §8) ---------------------------------------------------

FormatOption = Annotated[
    Format | None,
    typer.Option("--format", metavar="FORMAT", help="csv | xlsx | jsonl (default: by --output's extension, else csv)"),
]
OutputOption = Annotated[
    Path | None, typer.Option("--output", "-o", metavar="FILE", help="file to write (default: stdout)")
]
HeadersOption = Annotated[str, typer.Option(metavar="en|zh", help="en (field names) | zh (Chinese headers and values)")]


def _finance_command(what: str, doc: str) -> None:
    def command(fmt: FormatOption = None, output: OutputOption = None, headers: HeadersOption = "en") -> None:
        from service.vouchers.exports import export

        _export_with(
            what, fmt, output, headers, lambda engine, f, handle: export(engine, what, f, handle, headers=headers)
        )

    command.__doc__ = doc
    export_app.command(what, cls=_Command)(command)


_finance_command(
    "vouchers", "Export every innovation voucher (amount, redeemed, balance, expiry, status) for the finance office."
)
_finance_command(
    "redemptions",
    "Export every voucher redemption (engagement, parties, amount, balance after) for the finance office.",
)


@export_app.command("assessment", cls=_Command)
def export_assessment(
    assessment_id: Annotated[
        int, typer.Argument(metavar="ASSESSMENT_ID", help="the assessment's id (GET /assessments)")
    ],
    fmt: FormatOption = None,
    output: OutputOption = None,
    headers: HeadersOption = "en",
) -> None:
    """Export one periodic assessment: a row per specialist, each part of the score a column."""
    from service.assessments.exports import UnknownAssessment, export

    try:
        _export_with(
            "specialists",
            fmt,
            output,
            headers,
            lambda engine, f, handle: export(engine, assessment_id, f, handle, headers=headers),
        )
    except UnknownAssessment as exc:
        raise CliError(str(exc)) from exc


@app.command(
    "evaluate",
    cls=_Command,
    # Every option belongs to matching.evaluate: pass them on as they are, --help included (its help is shown).
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
def evaluate(
    ctx: typer.Context,
    data: Annotated[str | None, typer.Argument(metavar="DATA", help="labelled judgements (JSON)")] = None,
) -> None:
    """Evaluate the matcher on labelled judgements.

    Runs matching.evaluate on DATA (precision, recall, nDCG); every option is its own: see `expertmatch evaluate
    --help`.
    """
    module = _evaluate_module()
    asks_help = {"-h", "--help"} & {data, *ctx.args}
    if data is None or asks_help:
        typer.echo(_evaluate_help(module))
        raise typer.Exit(ExitCode.OK if asks_help else ExitCode.USAGE)
    if not Path(data).is_file():
        raise CliError(f"DATA {data}: there is no such file", "expertmatch evaluate --help lists what it takes")
    code = module.main([data, *ctx.args])
    raise typer.Exit(int(code or 0))


def _evaluate_module() -> Any:
    try:
        module = importlib.import_module("matching.evaluate")
    except ModuleNotFoundError as exc:
        if exc.name not in {"matching.evaluate", "matching"}:
            raise
        raise CliError("matching.evaluate is not available in this installation") from exc
    if getattr(module, "main", None) is None:
        raise CliError("matching.evaluate has no main() to run")
    return module


def _evaluate_help(module: Any) -> str:
    """matching.evaluate's own argparse help, under this command's name (so it lists the real options)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        module.main(["--help"])
    theirs, ours = "python -m matching.evaluate", "expertmatch evaluate"
    lines = out.getvalue().replace(theirs, ours).rstrip("\n").splitlines()
    # argparse indents the usage's continuation lines under the program name: re-indent them under ours.
    indent = " " * len(f"usage: {theirs} ")
    for i in range(1, len(lines)):
        if not lines[i].startswith(indent):
            break
        lines[i] = lines[i][len(theirs) - len(ours) :]
    return "\n".join(lines) or "usage: expertmatch evaluate DATA [options of matching.evaluate]"


def _demo_admin_key(settings: Settings) -> str:
    """The administrator key the banner shows: EXPERTMATCH_ADMIN_KEY from this shell, else a newly minted one."""
    if settings.admin_key is not None and os.environ.get("EXPERTMATCH_ADMIN_KEY", "").strip():
        return "$EXPERTMATCH_ADMIN_KEY"
    # Set in .env only (not in this shell), a curl line naming the variable would not work as printed: mint one.
    from service.keys import service as keys_service
    from service.keys.models import AdminKeyCreate

    engine = make_engine(settings)
    try:
        with Session(engine) as db_session:
            created = keys_service.create(
                db_session=db_session, key_in=AdminKeyCreate(role="admin", label="serve --demo")
            )
    finally:
        engine.dispose()
    return created.key


def _safe_url(url: str) -> str:
    """The URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    app()
