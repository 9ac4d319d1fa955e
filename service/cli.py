"""The `expertmatch` command line, grouped by noun: serve, db, keys, demo, import, export, evaluate."""

from __future__ import annotations

import importlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlmodel import Session

from service.config import get_settings
from service.db import make_engine
from service.transfer.columns import Kind
from service.transfer.readers import Format

app = typer.Typer(help="expertmatch: match technology specialists to enterprises' demands.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
demo_app = typer.Typer(help="Demo repository.", no_args_is_help=True)
import_app = typer.Typer(
    help="Import records from CSV, XLSX or JSON Lines (English or Chinese headers; see fixtures/import/README.md).",
    no_args_is_help=True,
)
export_app = typer.Typer(help="Export records as CSV, XLSX or JSON Lines.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(demo_app, name="demo")
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")

console = Console(stderr=True)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="target revision")] = "head") -> None:
    """Apply the Alembic migrations to DATABASE_URL."""
    from service.migrate import upgrade

    settings = get_settings()
    upgrade(settings.database_url, revision)
    console.print(f"[green]database at {revision}[/green]: {_safe_url(settings.database_url)}")


@demo_app.command("load")
def demo_load() -> None:
    """Load the demo enterprises, demands and specialists (existing external ids are skipped)."""
    from service.demo import load_demo

    settings = get_settings()
    engine = make_engine(settings)
    report = load_demo(engine, settings.fixtures_dir / "demo")
    console.print(f"loaded {report.enterprises} enterprises, {report.demands} demands, {report.experts} specialists")


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="admin | enterprise | expert | unit")] = "admin",
    enterprise_id: Annotated[int | None, typer.Option(help="for an enterprise key")] = None,
    expert_id: Annotated[int | None, typer.Option(help="for an expert key")] = None,
    unit_id: Annotated[int | None, typer.Option(help="for a unit key")] = None,
    label: Annotated[str | None, typer.Option(help="a note to recognise the key by")] = None,
) -> None:
    """Mint an API key and print it (it is shown only this once)."""
    from service.errors import DomainError
    from service.keys import service as keys_service
    from service.keys.models import ApiKeyCreateAdapter

    ids = {"enterprise_id": enterprise_id, "expert_id": expert_id, "unit_id": unit_id}
    try:
        key_in = ApiKeyCreateAdapter.validate_python(
            {"role": role, "label": label, **{k: v for k, v in ids.items() if v is not None}}
        )
        with Session(make_engine(get_settings())) as db_session:
            created = keys_service.create(db_session=db_session, key_in=key_in)
    except (DomainError, ValueError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"key {created.id} ({created.role}) created")
    typer.echo(created.key)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[int, typer.Argument(help="the key's id")]) -> None:
    """Revoke an API key."""
    from service.errors import DomainError
    from service.keys import service as keys_service

    try:
        with Session(make_engine(get_settings())) as db_session:
            keys_service.revoke(db_session=db_session, key_id=key_id)
    except DomainError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"key {key_id} revoked")


@app.command("worker")
def worker() -> None:
    """Run the webhook delivery worker alone (fan-out, signed deliveries, retries, deadline notices) until Ctrl-C."""
    import signal
    import types

    from service.suggestions.live import LiveMatcher, matcher_factory
    from service.webhooks.worker import DeliveryWorker

    settings = get_settings()
    engine = make_engine(settings)
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


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="bind address (EXPERTMATCH_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (EXPERTMATCH_PORT)")] = None,
    workers: Annotated[int | None, typer.Option(help="worker processes (EXPERTMATCH_WORKERS)")] = None,
    migrate: Annotated[bool, typer.Option(help="apply migrations first")] = True,
    demo: Annotated[bool, typer.Option(help="load the demo repository and print an administrator key")] = False,
) -> None:
    """Serve the REST API with uvicorn."""
    import uvicorn

    settings = get_settings()
    if migrate:
        db_upgrade("head")
    if demo:
        demo_load()
        _print_admin_key(settings)
    from service.observability import MULTIPROC_ENV, log_config, prepare_multiprocess_dir

    host = host or settings.host
    port = port or settings.port
    workers = workers or settings.workers
    own_metrics_dir = None
    if workers > 1 and not os.environ.get(MULTIPROC_ENV):
        # Several workers: /metrics must add up every worker's counters (prometheus-client multiprocess mode).
        own_metrics_dir = os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="expertmatch-metrics-")
    prepare_multiprocess_dir()
    console.print(f"[bold]expertmatch[/bold] on http://{host}:{port}  (docs: http://{host}:{port}/docs)")
    uvicorn.run(
        "service.main:app",
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level.lower(),
        log_config=log_config(settings),
        access_log=False,
    )
    if own_metrics_dir is not None:
        shutil.rmtree(own_metrics_dir, ignore_errors=True)


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

    settings = get_settings()
    engine = make_engine(settings)
    try:
        source = open_records(file, fmt)
        with _progress_reporter(f"{kind} from {file.name}", interval) as progress:
            report = import_source(engine, kind, source, atomic=atomic, chunk_size=chunk_size, progress=progress)
    except FileError as exc:
        console.print(f"{file}: {exc}", markup=False, highlight=False, soft_wrap=True, style="red")
        raise typer.Exit(2) from exc
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        tail = "nothing was written" if atomic else "chunks committed before the failure stay"
        console.print(f"database error: {reason} ({tail})", markup=False, highlight=False, soft_wrap=True, style="red")
        raise typer.Exit(3) from exc
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
        file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV, XLSX or JSONL")],
        atomic: Annotated[bool, typer.Option("--atomic", help="all rows or none: any bad row writes nothing")] = False,
        fmt: Annotated[Format, typer.Option("--format", help="file format (auto: by extension)")] = Format.auto,
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
    import_app.command(kind.value)(command)


def _export_command(kind: Kind) -> None:
    def command(
        fmt: Annotated[
            Format | None,
            typer.Option("--format", help="csv | xlsx | jsonl (default: by --output's extension, else csv)"),
        ] = None,
        output: Annotated[Path | None, typer.Option("--output", "-o", help="file to write (default: stdout)")] = None,
        headers: Annotated[str, typer.Option(help="en (field names) | zh (Chinese template headers)")] = "en",
    ) -> None:
        _run_export(kind, fmt, output, headers)

    command.__doc__ = f"Export every {kind[:-1]} record, in id order, in a form that imports again unchanged."
    if kind is Kind.engagements:
        command.__doc__ = "Export every engagement, in id order (engagements are not imported)."
    export_app.command(kind.value)(command)


def _run_export(kind: Kind, fmt: Format | None, output: Path | None, headers: str) -> None:
    from service.transfer.exporter import export

    _export_with(
        str(kind), fmt, output, headers, lambda engine, f, handle: export(engine, kind, f, handle, headers=headers)
    )


def _export_with(label: str, fmt: Format | None, output: Path | None, headers: str, write: Callable[..., int]) -> None:
    """Check the options, then run `write(engine, fmt, handle)` to stdout or atomically to `output`."""
    if headers not in {"en", "zh"}:
        console.print("--headers must be en or zh", style="red")
        raise typer.Exit(2)
    if fmt is None or fmt is Format.auto:
        suffix = output.suffix.lower().lstrip(".") if output else ""
        fmt = {"xlsx": Format.xlsx, "jsonl": Format.jsonl, "ndjson": Format.jsonl, "json": Format.jsonl}.get(
            suffix, Format.csv
        )
    engine = make_engine(get_settings())
    try:
        if output is None:
            if fmt is Format.xlsx and sys.stdout.isatty():
                console.print("XLSX is binary: write it to a file with --output", style="red")
                raise typer.Exit(2)
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
    Format | None, typer.Option("--format", help="csv | xlsx | jsonl (default: by --output's extension, else csv)")
]
OutputOption = Annotated[Path | None, typer.Option("--output", "-o", help="file to write (default: stdout)")]
HeadersOption = Annotated[str, typer.Option(help="en (field names) | zh (Chinese headers and values)")]


def _finance_command(what: str, doc: str) -> None:
    def command(fmt: FormatOption = None, output: OutputOption = None, headers: HeadersOption = "en") -> None:
        from service.vouchers.exports import export

        _export_with(
            what, fmt, output, headers, lambda engine, f, handle: export(engine, what, f, handle, headers=headers)
        )

    command.__doc__ = doc
    export_app.command(what)(command)


_finance_command(
    "vouchers", "Export every innovation voucher (amount, redeemed, balance, expiry, status) for the finance office."
)
_finance_command(
    "redemptions",
    "Export every voucher redemption (engagement, parties, amount, balance after) for the finance office.",
)


@export_app.command("assessment")
def export_assessment(
    assessment_id: Annotated[int, typer.Argument(help="the assessment's id (GET /assessments)")],
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
        console.print(str(exc), style="red")
        raise typer.Exit(2) from exc


@app.command(
    "evaluate",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def evaluate(
    ctx: typer.Context,
    data: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="labelled pairs (JSON)")],
) -> None:
    """Evaluate the matcher on labelled data: runs matching.evaluate on DATA.json, passing any further options on."""
    try:
        module = importlib.import_module("matching.evaluate")
    except ModuleNotFoundError as exc:
        if exc.name not in {"matching.evaluate", "matching"}:
            raise
        console.print("matching.evaluate is not available in this installation", style="red")
        raise typer.Exit(2) from exc
    main = getattr(module, "main", None)
    if main is None:
        console.print("matching.evaluate has no main() to run", style="red")
        raise typer.Exit(2)
    code = main([str(data), *ctx.args])
    raise typer.Exit(int(code or 0))


def _print_admin_key(settings) -> None:  # type: ignore[no-untyped-def]
    if settings.admin_key is not None:
        console.print("administrator key: the value of EXPERTMATCH_ADMIN_KEY")
        return
    from service.keys import service as keys_service
    from service.keys.models import AdminKeyCreate

    with Session(make_engine(settings)) as db_session:
        created = keys_service.create(db_session=db_session, key_in=AdminKeyCreate(role="admin", label="serve --demo"))
    console.print(f"administrator key: [bold]{created.key}[/bold]")
    console.print("  try: curl -H 'Authorization: Bearer <key>' http://HOST:PORT/experts?limit=3")


def _safe_url(url: str) -> str:
    """The URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    app()
