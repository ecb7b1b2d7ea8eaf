"""``cdmo``: one command for each everyday task.

    cdmo refresh            run the Dagster refresh job in-process, with progress and a summary
    cdmo sql "SELECT ..."   query the warehouse read-only (``--csv`` for CSV)
    cdmo report             print (or ``--open``) the audit report
    cdmo ui                 serve the Dagster UI on 127.0.0.1
    cdmo extract TEXT       draft a source file from an article's plain text
    cdmo audit TEXT         audit a new article against the warehouse without changing it
    cdmo synth              generate a synthetic bulk corpus (benchmarks)

Errors are one clear line and what to do, with a non-zero exit; never a bare traceback.
"""

import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from typer._click import exceptions as click_exceptions  # the click vendored by typer

from cdmo_pipeline.config import PROJECT_ROOT, Settings, dagster_home
from cdmo_pipeline.core.errors import CdmoError
from cdmo_pipeline.supervise import DEFAULT_GRACE, run_supervised

app = typer.Typer(
    name="cdmo",
    help="Figures from market-research sources as an audited, queryable DuckDB dataset.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

EXIT_FAILED, EXIT_USAGE = 1, 2
# A project-local Dagster home: no telemetry, no welcome pop-up over the asset graph.
DAGSTER_YAML = "telemetry:\n  enabled: false\nnux:\n  enabled: false\n"


def _print_error(message: str, hint: str = "") -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    if hint:
        err.print(f"[dim]{hint}[/]", highlight=False, soft_wrap=True)


def fail(message: str, hint: str = "", code: int = EXIT_FAILED) -> None:
    """Inside a command: print the error and exit with ``code``."""
    _print_error(message, hint)
    raise typer.Exit(code)


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except CdmoError as exc:
        fail(str(exc), exc.hint, EXIT_USAGE)
        raise  # unreachable; for type checkers


def _ensure_dagster_home() -> Path:
    home = dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    return home


# refresh -----------------------------------------------------------------------------------


@app.command()
def refresh(
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the summary, no progress lines.")] = False,
) -> None:
    """Refresh the warehouse: the same Dagster job as the UI's, run in this process."""
    settings = _settings()
    _ensure_dagster_home()
    from dagster import DagsterInstance
    from dagster._core.storage.dagster_run import make_new_run_id

    from cdmo_pipeline.definitions import defs

    job = defs.resolve_job_def("refresh")
    run_id = make_new_run_id()
    started = time.monotonic()
    with DagsterInstance.get() as instance:
        watcher = _ProgressWatcher(instance, run_id, quiet=quiet)
        watcher.start()
        try:
            result = job.execute_in_process(
                instance=instance,
                run_id=run_id,
                raise_on_error=False,
                tags={"cdmo/trigger": "cli"},
                run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
            )
        finally:
            watcher.stop()
    elapsed = time.monotonic() - started
    if not result.success:
        message = _failure_message(result)
        fail(message, f"Run {run_id} failed after {elapsed:.1f} s; the published warehouse was not changed.")
    _summary(settings, run_id, elapsed)


class _ProgressWatcher(threading.Thread):
    """Prints the run's events as they are stored (the job runs in the main thread)."""

    def __init__(self, instance: object, run_id: str, *, quiet: bool) -> None:
        super().__init__(daemon=True)
        self.instance, self.run_id, self.quiet = instance, run_id, quiet
        self._halt = threading.Event()
        self._cursor: str | None = None

    def run(self) -> None:
        while not self._halt.is_set():
            self._drain()
            self._halt.wait(0.2)
        self._drain()

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)

    def _drain(self) -> None:
        from dagster import DagsterEventType

        kinds = {
            DagsterEventType.ASSET_MATERIALIZATION,
            DagsterEventType.ASSET_CHECK_EVALUATION,
            DagsterEventType.STEP_FAILURE,
            DagsterEventType.STEP_SKIPPED,
        }
        try:
            conn = self.instance.get_records_for_run(self.run_id, cursor=self._cursor, of_type=kinds)
        except Exception:  # the run may not be stored yet; try again on the next tick
            return
        self._cursor = conn.cursor
        for record in conn.records:
            if not self.quiet:
                _print_event(record.event_log_entry.dagster_event)


def _print_event(event: object) -> None:
    kind = event.event_type_value
    data = event.event_specific_data
    if kind == "ASSET_MATERIALIZATION":
        mat = data.materialization
        rows = mat.metadata.get("dagster/row_count")
        suffix = f" ({rows.value:,} rows)" if rows is not None else ""
        out.print(f"  [green]✓[/] {mat.asset_key.to_user_string()}{suffix}", highlight=False)
    elif kind == "ASSET_CHECK_EVALUATION":
        ev = data
        if ev.passed:
            return
        severity = getattr(ev.severity, "value", str(ev.severity))
        mark = "[yellow]⚠[/]" if severity == "WARN" else "[red]✗[/]"
        out.print(f"  {mark} check {ev.check_name}: {ev.description or 'failed'}", highlight=False)
    elif kind == "STEP_FAILURE":
        out.print(f"  [red]✗[/] {event.step_key} failed", highlight=False)


def _failure_message(result: object) -> str:
    """The user's message from a failed run: our Failure's description, else the root cause."""
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.event_specific_data.error
            if error is None:
                continue
            if error.cls_name == "Failure":
                return error.message.split(": ", 1)[-1].strip()
            root = error
            while root.cause is not None:
                root = root.cause
            message = root.message.strip()
            prefix = f"{root.cls_name}: "
            said = (
                f"internal error: {root.cls_name}: {message[len(prefix) :] if message.startswith(prefix) else message}"
            )
            # The run failed in Dagster, not here: its traceback is in the event, not raised.
            return f"{said}\n{error.to_string()}" if os.environ.get("CDMO_DEBUG") else said
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION" and not event.event_specific_data.passed:
            return f"check {event.event_specific_data.check_name} failed: {event.event_specific_data.description}"
    return "the refresh failed"


def _summary(settings: Settings, run_id: str, elapsed: float) -> None:
    from cdmo_pipeline.warehouse import Warehouse

    wh = Warehouse(settings.duckdb_path, lock_timeout=settings.lock_timeout)
    try:
        verdicts = wh.query("SELECT verdict, count(*) AS claims FROM cagr_checks GROUP BY verdict ORDER BY verdict")
        latest = wh.latest_refresh() or {}
    except CdmoError as exc:
        fail(str(exc), exc.hint)
        return
    import json

    counts = json.loads(latest.get("row_counts", "{}"))
    table = Table(title="Published", show_header=True, header_style="bold")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, n in counts.items():
        table.add_row(name, f"{n:,}")
    checks = Table(title="CAGR checks", show_header=True, header_style="bold")
    checks.add_column("verdict")
    checks.add_column("claims", justify="right")
    for verdict, n in verdicts.itertuples(index=False):
        checks.add_row(verdict, f"{n:,}")
    out.print(checks)
    out.print(table)
    refresh_id = latest.get("refresh_id", "?")
    out.print(f"warehouse: [bold]{settings.duckdb_path}[/]", highlight=False)
    out.print(f"refresh {refresh_id} in {elapsed:.1f} s (Dagster run {run_id})", highlight=False)


# sql ---------------------------------------------------------------------------------------


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help='SQL to run read-only, e.g. "SELECT * FROM cagr_checks".')],
    csv: Annotated[bool, typer.Option("--csv", help="Write CSV to standard output.")] = False,
    max_rows: Annotated[int, typer.Option(help="Rows shown in the table view.")] = 200,
) -> None:
    """Query the published warehouse read-only."""
    import duckdb

    from cdmo_pipeline.warehouse import Warehouse

    settings = _settings()
    wh = Warehouse(settings.duckdb_path, lock_timeout=settings.lock_timeout)
    try:
        frame = wh.query(query)
    except CdmoError as exc:
        fail(str(exc), exc.hint)
        return
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        fail(first, "The warehouse is read-only here; see the README for the tables and columns.", EXIT_USAGE)
        return
    if csv:
        frame.to_csv(sys.stdout, index=False)
        return
    table = Table(show_header=True, header_style="bold")
    for col in frame.columns:
        table.add_column(str(col), overflow="fold")
    for row in frame.head(max_rows).itertuples(index=False):
        table.add_row(*("" if _missing(v) else _cell(v) for v in row))
    out.print(table)
    shown = min(len(frame), max_rows)
    out.print(f"[dim]{len(frame):,} row(s){'' if shown == len(frame) else f', first {shown} shown'}[/]")


def _missing(value: object) -> bool:
    try:
        return bool(value is None or value != value)  # NaN != NaN
    except (TypeError, ValueError):
        return False


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.4f}"
    return str(value)


# ui ----------------------------------------------------------------------------------------


@app.command()
def ui(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 3000,
    stop_timeout: Annotated[
        float, typer.Option(help="Seconds Dagster gets to stop cleanly when asked; then what is left is killed.")
    ] = DEFAULT_GRACE,
) -> None:
    """Serve the Dagster UI (and its daemon: schedule and sensor) on 127.0.0.1 only."""
    _settings()
    _ensure_dagster_home()
    exe = Path(sys.executable).with_name("dagster")
    # The workspace file names the code location as `make ui` and pyproject do (cdmo_pipeline),
    # so schedule and sensor state carry over whichever way the UI is started.
    workspace = PROJECT_ROOT / "workspace.yaml"
    target = ["-w", str(workspace)] if workspace.exists() else ["-m", "cdmo_pipeline.definitions"]
    args = [str(exe), "dev", "-h", "127.0.0.1", "-p", str(port), *target]
    out.print(f"Dagster UI on http://127.0.0.1:{port} (DAGSTER_HOME={os.environ['DAGSTER_HOME']})")
    # Supervised, not exec'd: Ctrl-C or `kill PID` ends the UI and every process it started.
    raise typer.Exit(run_supervised(args, grace=stop_timeout))


# report ------------------------------------------------------------------------------------


@app.command()
def report(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write HTML (.html) or Markdown (.md) here.")
    ] = None,
    open_: Annotated[bool, typer.Option("--open", help="Open the HTML report in a browser.")] = False,
    summary: Annotated[bool, typer.Option("--summary", help="Summary, articles and markets only.")] = False,
) -> None:
    """Print the audit report of the published warehouse (or write it as HTML or Markdown)."""
    from cdmo_pipeline import reporting
    from cdmo_pipeline.warehouse import Warehouse

    settings = _settings()
    try:
        with Warehouse(settings.duckdb_path, lock_timeout=settings.lock_timeout).reader() as con:
            published = reporting.load_tables(con)
    except CdmoError as exc:
        fail(str(exc), exc.hint)
        return
    if open_ or (output and output.suffix.lower() in (".html", ".htm")):
        target = output or settings.reports_dir / "audit_report.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        charts = {m: p.read_bytes() for m, p in _existing_charts(settings.reports_dir).items()}
        target.write_text(reporting.render_html(published, charts))
        out.print(f"wrote {target}")
        if open_:
            import webbrowser

            webbrowser.open(target.resolve().as_uri())
        return
    text = reporting.render_markdown(published, reports=not summary)
    if output:
        output.write_text(text)
        out.print(f"wrote {output}")
    else:
        sys.stdout.write(text)


def _existing_charts(reports_dir: Path) -> dict[str, Path]:
    prefix = "projections_"
    return {p.stem[len(prefix) :]: p for p in sorted(reports_dir.glob(f"{prefix}*.png"))}


# extract and audit -------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        fail(f"no such file: {path}", code=EXIT_USAGE)
    except UnicodeDecodeError as exc:
        fail(f"{path} is not UTF-8 text (byte {exc.start})", "Save it as UTF-8 plain text.", EXIT_USAGE)
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}", code=EXIT_USAGE)
    return ""


@app.command("extract")
def extract_command(
    text_file: Annotated[Path, typer.Argument(help="Plain text of an article or report.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the draft here (else stdout).")] = None,
    source_id: Annotated[str | None, typer.Option(help="Source id (default: from the file name).")] = None,
    published: Annotated[str | None, typer.Option(help="Publication year or ISO date (resolves 'currently').")] = None,
    title: Annotated[str | None, typer.Option(help="Title (default: the first line if it reads as one).")] = None,
    publisher: Annotated[str | None, typer.Option(help="Publisher.")] = None,
) -> None:
    """Draft a source file (DESIGN §3) from plain text; every number is placed or listed."""
    from cdmo_pipeline.extract import coverage, extract, to_yaml

    text = _read_text(text_file)
    sid = source_id or re.sub(r"[^a-z0-9]+", "-", text_file.stem.lower()).strip("-") or "draft"
    try:
        doc = extract(text, source_id=sid, published=published, title=title, publisher=publisher)
    except ValueError as exc:
        fail(str(exc), code=EXIT_USAGE)
        return
    yaml_text = to_yaml(doc)
    missing = coverage(text, doc)
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(yaml_text)
    else:
        sys.stdout.write(yaml_text)
    err.print(
        f"{len(doc['claims'])} claim(s), {len(doc.get('unassigned', []))} number(s) unassigned, "
        f"{len(doc.get('ignored', []))} ignored; {len(missing)} unaccounted"
        + (f"; draft written to {output}" if output else ""),
        highlight=False,
    )


@app.command("audit")
def audit_command(
    text_file: Annotated[Path, typer.Argument(help="Plain text of a new article or report.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write HTML (.html) or Markdown here.")] = None,
    published: Annotated[str | None, typer.Option(help="Publication year or ISO date (resolves 'currently').")] = None,
) -> None:
    """Audit a new article against the published warehouse, without changing it."""
    from cdmo_pipeline import newsource, reporting
    from cdmo_pipeline.warehouse import Warehouse

    settings = _settings()
    text = _read_text(text_file)
    wh = Warehouse(settings.duckdb_path, lock_timeout=settings.lock_timeout)
    try:
        audited, _draft, missing = newsource.audit_text(
            text, source_id=newsource.source_id_for(text_file), warehouse=wh, published=published
        )
    except CdmoError as exc:
        fail(str(exc), exc.hint or "Draft it with `cdmo extract`, correct the draft, and audit that.")
        return
    if not wh.path.exists():
        err.print(f"[dim]no warehouse at {wh.path}: audited on its own, without comparison[/]")
    if output and output.suffix.lower() in (".html", ".htm"):
        output.write_text(reporting.render_html(audited))
        out.print(f"wrote {output}")
        return
    text_out = reporting.render_markdown(audited)
    if missing:
        text_out += "\n\n**Numbers the draft does not account for:** " + ", ".join(t[2] for t in missing) + "\n"
    if output:
        output.write_text(text_out)
        out.print(f"wrote {output}")
    else:
        sys.stdout.write(text_out)


@app.command()
def synth(
    claims: Annotated[int, typer.Option("--claims", "-n", min=1, help="Number of claims.")] = 100_000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same files.")] = 0,
    output: Annotated[Path, typer.Option("--output", "-o", help="Directory to write (a sources directory).")] = Path(
        "synthetic"
    ),
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
) -> None:
    """Generate a synthetic bulk corpus (DESIGN §3 tabular form) for scale tests and benchmarks."""
    from cdmo_pipeline import synth as synthetic

    if fmt not in ("csv", "parquet"):
        fail(f"--format must be csv or parquet, not {fmt!r}", code=EXIT_USAGE)
    started = time.monotonic()
    corpus = synthetic.generate(claims, seed)
    paths = synthetic.write(corpus, output, fmt)
    out.print(
        f"wrote {claims:,} claims ({int(corpus.expected_inconsistent.sum()):,} inconsistent by construction) "
        f"in {len(paths)} file(s) and markets.yaml to {output} ({time.monotonic() - started:.1f} s)"
    )


def main() -> None:
    sys.exit(_run())


def _run() -> int:
    """Run the command; the exit code. Every error ends as one line, never a traceback."""
    try:
        # Not standalone: usage errors come here to be written as one line; an Exit raised
        # by a command (``fail``) comes back as its exit code.
        code = app(standalone_mode=False)
        return code if isinstance(code, int) else 0
    except click_exceptions.ClickException as exc:  # bad usage: one line, the usage, exit 2
        if exc.format_message().strip():  # (no arguments at all: the help was the message)
            command = exc.ctx.command_path if getattr(exc, "ctx", None) else "cdmo"
            _print_error(exc.format_message(), f"See `{command} --help`.")
        return exc.exit_code
    except typer.Abort:
        _print_error("aborted")
        return EXIT_FAILED
    except CdmoError as exc:  # anything a command did not catch itself
        _print_error(str(exc), exc.hint)
        return EXIT_FAILED
    except KeyboardInterrupt:
        _print_error("interrupted", "Nothing half-done was published: a refresh publishes all tables or none.")
        return 130
    except Exception as exc:
        if os.environ.get("CDMO_DEBUG"):
            raise
        _print_error(
            f"internal error: {type(exc).__name__}: {exc}",
            "Set CDMO_DEBUG=1 to see the traceback, and please report it.",
        )
        return EXIT_FAILED


if __name__ == "__main__":
    main()
