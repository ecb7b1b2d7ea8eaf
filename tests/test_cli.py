"""``cdmo``, end to end: every command's output and exit code, as a user runs it.

Each command runs as a subprocess of the installed ``cdmo`` script with every path (sources,
warehouse, reports, Dagster home) in a temporary directory. Refreshes are the slow part
(~10-20 s each), so there are four: the article (shared by the module), the reference
sources (for ``cdmo audit``), and one each beside a reader holding the warehouse read-only
and read-write. Exit codes: 0 success, 1 failure, 2 usage; errors are one ``error:`` line
(and a hint), never a traceback.
"""

import csv
import hashlib
import io
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from cdmo_pipeline.core.tables import TABLE_NAMES
from tests.conftest import SEED_ARTICLE, needs_seed
from tests.ui_helpers import (
    CDMO,
    DATA_SOURCES,
    ROOT,
    Server,
    free_port,
    isolated_env,
    session_members,
    start_server,
    wait_until_ready,
)

GLOBAL_CLAIM = "cdmo-article-2025/global-cdmo-market"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass
class Result:
    argv: list[str]
    code: int
    out: str
    err: str
    seconds: float

    def __str__(self) -> str:
        return (
            f"$ cdmo {' '.join(self.argv)}  -> exit {self.code} in {self.seconds:.1f} s\n"
            f"--- stdout ---\n{self.out[-4000:]}\n--- stderr ---\n{self.err[-4000:]}"
        )

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("error:")]


def cdmo(env: Mapping[str, str], *args: str | Path, timeout: float = 240, cwd: Path | None = None) -> Result:
    argv = [str(a) for a in args]
    started = time.monotonic()
    proc = subprocess.run(
        [str(CDMO), *argv], env=dict(env), capture_output=True, text=True, timeout=timeout, cwd=cwd or ROOT
    )
    return Result(
        argv, proc.returncode, ANSI.sub("", proc.stdout), ANSI.sub("", proc.stderr), time.monotonic() - started
    )


def assert_clean_error(result: Result, code: int | None = None) -> str:
    """A failure as the CLI promises it: non-zero (or ``code``), one ``error:`` line, no traceback."""
    assert result.code != 0, result
    if code is not None:
        assert result.code == code, result
    assert "Traceback" not in result.err + result.out, result
    assert len(result.error_lines) == 1, result
    return result.error_lines[0]


def assert_usage_error(result: Result) -> None:
    """Usage errors: exit 2, one `error:` line naming the problem, then where to look, no traceback."""
    assert result.code == 2, result
    assert "Traceback" not in result.err + result.out, result
    lines = result.err.strip().splitlines()
    assert lines[0].startswith("error: "), result
    assert "--help" in lines[-1], result


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree_digest(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): sha256(p) for p in sorted(directory.rglob("*")) if p.is_file()}


# Fixtures ----------------------------------------------------------------------------------


@dataclass
class Refreshed:
    env: dict[str, str]
    result: Result

    @property
    def warehouse(self) -> Path:
        return Path(self.env["CDMO_DUCKDB_PATH"])


@pytest.fixture(scope="module")
def article(tmp_path_factory: pytest.TempPathFactory) -> Refreshed:
    """One ``cdmo refresh`` of the article, shared by every reader test of the module."""
    env = isolated_env(tmp_path_factory.mktemp("article"))
    return Refreshed(env, cdmo(env, "refresh"))


@pytest.fixture(scope="module")
def published(article: Refreshed) -> Refreshed:
    assert article.result.code == 0, article.result
    return article


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Refreshed]:
    """A warehouse of every source in data/sources (read, never written), for ``cdmo audit``."""
    before = tree_digest(DATA_SOURCES)
    env = isolated_env(tmp_path_factory.mktemp("reference"), sources=DATA_SOURCES)
    result = cdmo(env, "refresh", "-q")
    assert result.code == 0, result
    yield Refreshed(env, result)
    assert tree_digest(DATA_SOURCES) == before, "a refresh changed files in data/sources"


def copy_of(published: Refreshed, base: Path) -> dict[str, str]:
    """A fresh environment whose warehouse is a copy of the published one."""
    env = isolated_env(base)
    target = Path(env["CDMO_DUCKDB_PATH"])
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(published.warehouse, target)
    return env


@pytest.fixture
def no_warehouse(tmp_path: Path) -> dict[str, str]:
    env = isolated_env(tmp_path)
    assert not Path(env["CDMO_DUCKDB_PATH"]).exists()
    return env


# Help and usage ------------------------------------------------------------------------------


def test_help_lists_every_command(no_warehouse: dict[str, str]) -> None:
    result = cdmo(no_warehouse, "--help")
    assert result.code == 0, result
    for command in ("refresh", "sql", "report", "ui", "extract", "audit", "synth"):
        assert re.search(rf"^\W*{command}\s", result.out, re.M), f"{command} missing from --help:\n{result.out}"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nosuchcommand"], "No such command"),
        (["synth", "--claims", "x"], "--claims"),
        (["synth", "--claims", "0"], "--claims"),
        (["sql"], "Missing argument"),
        (["refresh", "--no-such-option"], "No such option"),
        (["report", "--max-rows", "3"], "No such option"),
    ],
)
def test_bad_arguments_are_usage_errors(no_warehouse: dict[str, str], args: list[str], message: str) -> None:
    result = cdmo(no_warehouse, *args)
    assert_usage_error(result)
    assert message in result.err, result


def test_no_arguments_shows_the_help(no_warehouse: dict[str, str]) -> None:
    result = cdmo(no_warehouse)
    assert result.code == 2, result
    assert "Usage: cdmo" in result.out + result.err, result


def test_bad_environment_is_a_usage_error(no_warehouse: dict[str, str]) -> None:
    result = cdmo({**no_warehouse, "CDMO_LOCK_TIMEOUT": "soon"}, "sql", "SELECT 1")
    line = assert_clean_error(result, 2)
    assert "CDMO_LOCK_TIMEOUT" in line, result


# refresh -----------------------------------------------------------------------------------


def test_refresh_prints_progress_and_a_summary(article: Refreshed) -> None:
    result = article.result
    assert result.code == 0, result
    assert "Traceback" not in result.out + result.err, result
    assert not result.error_lines, result
    out = result.out
    assert "✓ warehouse" in out, f"no progress line for the warehouse:\n{out}"
    assert "CAGR checks" in out, out
    assert re.search(r"consistent\s*│\s*1\b", out), f"the summary does not count 1 consistent claim:\n{out}"
    assert re.search(r"unverifiable\s*│\s*2\b", out), out
    for table in TABLE_NAMES:
        assert re.search(rf"│ {table}\s*│\s*\d", out), f"table {table} missing from the summary:\n{out}"
    assert f"warehouse: {article.warehouse}" in out, out
    assert re.search(r"refresh \S+ in [\d.]+ s \(Dagster run [0-9a-f-]{36}\)", out), out
    assert article.warehouse.exists()


# sql ---------------------------------------------------------------------------------------


def test_sql_prints_a_table(published: Refreshed) -> None:
    result = cdmo(published.env, "sql", "SELECT claim_id, verdict, implied_cagr FROM cagr_checks ORDER BY claim_id")
    assert result.code == 0, result
    header = next(line for line in result.out.splitlines() if "claim_id" in line)
    assert "verdict" in header, result
    assert "implied_cagr" in header, result
    row = next(line for line in result.out.splitlines() if GLOBAL_CLAIM in line)
    assert "consistent" in row, result
    assert "8.96" in row, result
    assert "3 row(s)" in result.out, result


def test_sql_max_rows(published: Refreshed) -> None:
    result = cdmo(published.env, "sql", "SELECT claim_id FROM cagr_checks ORDER BY claim_id", "--max-rows", "1")
    assert result.code == 0, result
    assert "3 row(s), first 1 shown" in result.out, result
    assert GLOBAL_CLAIM not in result.out, result


def test_sql_csv(published: Refreshed) -> None:
    result = cdmo(published.env, "sql", "SELECT claim_id, verdict FROM cagr_checks ORDER BY claim_id", "--csv")
    assert result.code == 0, result
    lines = result.out.splitlines()
    assert lines[0] == "claim_id,verdict", result
    assert f"{GLOBAL_CLAIM},consistent" in lines, result
    rows = list(csv.DictReader(io.StringIO(result.out)))
    assert len(rows) == 3, rows


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("SELEC claim_id FROM claims", "syntax error"),
        ("SELECT * FROM no_such_table", "no_such_table"),
        ("DROP TABLE claims", "read-only"),
    ],
)
def test_sql_bad_query_is_one_error_line(published: Refreshed, query: str, message: str) -> None:
    result = cdmo(published.env, "sql", query)
    line = assert_clean_error(result, 2)
    assert message in line.lower(), result
    if query.startswith("DROP"):
        after = cdmo(published.env, "sql", "SELECT count(*) AS n FROM claims", "--csv")
        assert after.out.splitlines() == ["n", "4"], after


def test_sql_without_a_warehouse_says_to_refresh(no_warehouse: dict[str, str]) -> None:
    result = cdmo(no_warehouse, "sql", "SELECT 1")
    line = assert_clean_error(result)
    assert "refresh" in line, result
    assert not Path(no_warehouse["CDMO_DUCKDB_PATH"]).exists(), "a read-only query created the warehouse"


# report ------------------------------------------------------------------------------------


def test_report_prints_markdown(published: Refreshed) -> None:
    result = cdmo(published.env, "report")
    assert result.code == 0, result
    assert result.out.startswith("# "), result.out[:500]
    assert "8.96" in result.out, "the report does not give the implied 8.96 % CAGR"
    assert "consistent" in result.out.lower()


def test_report_summary(published: Refreshed) -> None:
    result = cdmo(published.env, "report", "--summary")
    assert result.code == 0, result
    assert result.out.startswith("# "), result.out[:500]
    assert "## Summary" in result.out, result.out[:2000]


def test_report_html_file(published: Refreshed, tmp_path: Path) -> None:
    target = tmp_path / "x.html"
    result = cdmo(published.env, "report", "-o", target)
    assert result.code == 0, result
    assert target.exists(), result
    html = target.read_text()
    assert "<html" in html
    assert "8.96" in html
    assert f"wrote {target}" in result.out, result


def test_report_markdown_file(published: Refreshed, tmp_path: Path) -> None:
    target = tmp_path / "report.md"
    result = cdmo(published.env, "report", "-o", target)
    assert result.code == 0, result
    assert target.read_text().startswith("# ")
    assert "8.96" in target.read_text()


def test_report_without_a_warehouse_says_to_refresh(no_warehouse: dict[str, str]) -> None:
    line = assert_clean_error(cdmo(no_warehouse, "report"))
    assert "refresh" in line


# extract and audit -------------------------------------------------------------------------


@needs_seed
def test_extract_drafts_yaml_with_four_claims(no_warehouse: dict[str, str]) -> None:
    result = cdmo(no_warehouse, "extract", SEED_ARTICLE, "--published", "2025")
    assert result.code == 0, result
    doc = yaml.safe_load(result.out)
    assert len(doc["claims"]) == 4, doc["claims"]
    assert doc["source"]["published"] == "2025"
    assert {"global-cdmo", "biologics-cdmo", "india-pharma"} <= set(doc["markets"])
    assert "4 claim(s)" in result.err, result
    assert "0 unaccounted" in result.err, result


@needs_seed
def test_extract_to_a_file(no_warehouse: dict[str, str], tmp_path: Path) -> None:
    target = tmp_path / "drafts" / "article.yaml"
    result = cdmo(no_warehouse, "extract", SEED_ARTICLE, "--published", "2025", "-o", target)
    assert result.code == 0, result
    assert result.out == "", result
    assert len(yaml.safe_load(target.read_text())["claims"]) == 4
    assert f"draft written to {target}" in result.err, result


def test_extract_missing_file_is_a_usage_error(no_warehouse: dict[str, str], tmp_path: Path) -> None:
    missing = tmp_path / "no-such-article.txt"
    line = assert_clean_error(cdmo(no_warehouse, "extract", missing), 2)
    assert str(missing) in line


def test_extract_binary_file_is_a_usage_error(no_warehouse: dict[str, str], tmp_path: Path) -> None:
    binary = tmp_path / "article.txt"
    binary.write_bytes(b"\xff\xfe\x00binary\x89PNG")
    line = assert_clean_error(cdmo(no_warehouse, "extract", binary), 2)
    assert "UTF-8" in line


@needs_seed
def test_audit_compares_with_the_reference_sources(reference: Refreshed) -> None:
    before = sha256(reference.warehouse)
    result = cdmo(reference.env, "audit", SEED_ARTICLE, "--published", "2025")
    assert result.code == 0, result
    assert "Fortune Business Insights" in result.out, "the audit does not compare with the FBI reports"
    assert "8.96" in result.out
    assert sha256(reference.warehouse) == before, "cdmo audit changed the warehouse"


@needs_seed
def test_audit_html_file(reference: Refreshed, tmp_path: Path) -> None:
    target = tmp_path / "audit.html"
    result = cdmo(reference.env, "audit", SEED_ARTICLE, "--published", "2025", "-o", target)
    assert result.code == 0, result
    assert "<html" in target.read_text()


@needs_seed
def test_audit_without_a_warehouse_audits_alone(no_warehouse: dict[str, str]) -> None:
    result = cdmo(no_warehouse, "audit", SEED_ARTICLE, "--published", "2025")
    assert result.code == 0, result
    assert "8.96" in result.out
    assert "no warehouse" in result.err, result
    assert not Path(no_warehouse["CDMO_DUCKDB_PATH"]).exists()


def test_audit_missing_file_is_a_usage_error(published: Refreshed, tmp_path: Path) -> None:
    assert_clean_error(cdmo(published.env, "audit", tmp_path / "missing.txt"), 2)


# synth -------------------------------------------------------------------------------------


def test_synth_is_deterministic(no_warehouse: dict[str, str], tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    run_a = cdmo(no_warehouse, "synth", "-n", "200", "-o", first)
    run_b = cdmo(no_warehouse, "synth", "-n", "200", "-o", second)
    assert run_a.code == run_b.code == 0, (run_a, run_b)
    assert "wrote 200 claims" in run_a.out, run_a
    files_a, files_b = tree_digest(first), tree_digest(second)
    assert "markets.yaml" in files_a, files_a
    claims = [f for f in files_a if f.endswith(".claims.csv")]
    assert claims, files_a
    assert files_a == files_b, "two runs with the same seed wrote different files"
    rows = sum(len(list(csv.DictReader((first / f).open()))) for f in claims)
    assert rows == 200


def test_synth_parquet_and_bad_format(no_warehouse: dict[str, str], tmp_path: Path) -> None:
    result = cdmo(no_warehouse, "synth", "-n", "20", "-o", tmp_path / "pq", "--format", "parquet")
    assert result.code == 0, result
    assert list((tmp_path / "pq").glob("*.parquet")), result
    bad = cdmo(no_warehouse, "synth", "-n", "20", "-o", tmp_path / "xml", "--format", "xml")
    assert "--format" in assert_clean_error(bad, 2)
    assert not (tmp_path / "xml").exists()


# A reader holding the warehouse -------------------------------------------------------------

HOLDER = """
import duckdb, sys, time
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
print("ready", flush=True)
time.sleep(120)
"""


def hold(path: Path, mode: str) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), mode], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    line = holder.stdout.readline()
    assert line.strip() == "ready", f"the holder did not open the warehouse: {line!r} {holder.stderr.read()}"
    return holder


def release(holder: subprocess.Popen) -> None:
    holder.kill()
    holder.wait(timeout=10)


@pytest.mark.slow
def test_reader_holding_the_warehouse_read_only_blocks_nothing(published: Refreshed, tmp_path: Path) -> None:
    """And ``refresh -q``: only the summary; a re-run on the same sources publishes the same rows."""
    env = {**copy_of(published, tmp_path), "CDMO_LOCK_TIMEOUT": "2"}
    checks = "SELECT * FROM cagr_checks ORDER BY claim_id"
    before = cdmo(env, "sql", checks, "--csv")
    holder = hold(Path(env["CDMO_DUCKDB_PATH"]), "ro")
    try:
        query = cdmo(env, "sql", "SELECT 1 AS one", "--csv")
        assert query.code == 0, query
        assert query.out.splitlines() == ["one", "1"], query
        refresh = cdmo(env, "refresh", "-q")
        assert refresh.code == 0, refresh
        assert "✓" not in refresh.out, f"-q printed progress lines:\n{refresh}"
        assert f"warehouse: {env['CDMO_DUCKDB_PATH']}" in refresh.out, refresh
        assert holder.poll() is None, "the read-only holder died during the refresh"
    finally:
        release(holder)
    after = cdmo(env, "sql", checks, "--csv")
    assert before.code == after.code == 0, (before, after)
    assert after.out == before.out, "a re-run on the same sources published different cagr_checks"


@pytest.mark.slow
def test_writer_holding_the_warehouse_gives_a_clear_error(published: Refreshed, tmp_path: Path) -> None:
    env = {**copy_of(published, tmp_path), "CDMO_LOCK_TIMEOUT": "2"}
    warehouse = Path(env["CDMO_DUCKDB_PATH"])
    holder = hold(warehouse, "rw")
    try:
        query = cdmo(env, "sql", "SELECT 1", timeout=60)
        line = assert_clean_error(query)
        assert f"PID {holder.pid}" in line, f"the error does not name the holding process {holder.pid}:\n{query}"
        assert query.seconds < 15, f"cdmo sql took {query.seconds:.1f} s with CDMO_LOCK_TIMEOUT=2"

        refresh = cdmo(env, "refresh", "-q", timeout=120)
        line = assert_clean_error(refresh)
        assert f"PID {holder.pid}" in line, f"the error does not name the holding process {holder.pid}:\n{refresh}"
        assert "not changed" in refresh.err, refresh
        # The refresh builds every table before it publishes; then it waits 2 s, not more.
        assert refresh.seconds < 60, f"cdmo refresh took {refresh.seconds:.1f} s with CDMO_LOCK_TIMEOUT=2"
    finally:
        release(holder)
    after = cdmo(env, "sql", "SELECT count(*) AS n FROM cagr_checks", "--csv")
    assert after.out.splitlines() == ["n", "3"], after


# ui ----------------------------------------------------------------------------------------

UI_QUERY = """
query {
  workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } }
  instance { daemonHealth { allDaemonStatuses { daemonType healthy required } } }
}
"""
REPOS_QUERY = """
query {
  repositoriesOrError {
    ... on RepositoryConnection {
      nodes { name location { name } jobs { name } schedules { name } sensors { name } assetNodes { id } }
    }
  }
}
"""


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``cdmo ui`` on a free port: ``dagster dev`` (webserver and daemon) under it, in its own session."""
    base = tmp_path_factory.mktemp("ui")
    env = isolated_env(base)
    port = free_port()
    server = start_server([str(CDMO), "ui", "--port", str(port)], env, base, port)
    try:
        wait_until_ready(server, timeout=120)
        yield server
    finally:
        server.stop()


@pytest.mark.slow
def test_ui_serves_the_dagster_ui_with_its_daemon(ui: Server) -> None:
    assert f"Dagster UI on http://127.0.0.1:{ui.port}" in ui.log.read_text()
    deadline = time.monotonic() + 60
    while True:
        data = ui.graphql(UI_QUERY)
        daemons = {d["daemonType"]: d for d in data["instance"]["daemonHealth"]["allDaemonStatuses"]}
        if all(daemons.get(t, {}).get("healthy") for t in ("SCHEDULER", "SENSOR")) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert daemons.get("SCHEDULER", {}).get("healthy"), f"the scheduler daemon is not running: {daemons}"
    assert daemons.get("SENSOR", {}).get("healthy"), f"the sensor daemon is not running: {daemons}"
    nodes = ui.graphql(REPOS_QUERY)["repositoriesOrError"]["nodes"]
    assert len(nodes) == 1, nodes
    repo = nodes[0]
    assert "refresh" in {j["name"] for j in repo["jobs"]}
    assert {s["name"] for s in repo["schedules"]} == {"daily_refresh"}
    assert {s["name"] for s in repo["sensors"]} == {"source_files_sensor"}
    assert len(repo["assetNodes"]) >= 13


@pytest.mark.slow
def test_ui_code_location_is_the_workspace_one(ui: Server) -> None:
    entries = ui.graphql(UI_QUERY)["workspaceOrError"]["locationEntries"]
    assert [e["name"] for e in entries] == ["cdmo_pipeline"]


def _listening(port: int) -> set[str]:
    """Addresses (IPv4 and IPv6, hex as the kernel writes them) listening on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


@pytest.mark.slow
def test_ui_serves_the_definitions_on_loopback(ui: Server) -> None:
    """The UI listens on 127.0.0.1 only: never on all interfaces (0.0.0.0 or ::)."""
    if not Path("/proc/net/tcp").exists():
        pytest.skip("no /proc/net/tcp: cannot read the socket table on this system")
    addresses = _listening(ui.port)
    assert addresses == {"0100007F"}, addresses  # 127.0.0.1, little-endian hex


@pytest.mark.slow
def test_ui_stops_by_its_process_id(ui: Server) -> None:
    """`kill PID` (SIGTERM to cdmo ui alone) ends the UI and every process it started."""
    sid = ui.proc.pid
    assert len(session_members(sid)) >= 3, "the UI is not running before the stop"
    by_sigterm, seconds = ui.stop(pid_only=True)
    left = session_members(sid)
    print(f"\ncdmo ui stopped in {seconds:.1f} s; its own lines:")
    print("\n".join(line for line in ui.log_tail(200).splitlines() if line.startswith("cdmo ui:")) or "(none)")
    assert not left, left
    assert by_sigterm, f"cdmo ui needed SIGKILL after {seconds:.0f} s of SIGTERM:\n{ui.log_tail()}"
    assert ui.proc.returncode == 0, ui.proc.returncode


def test_an_internal_error_of_a_run_is_one_line_unless_cdmo_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    """A step that breaks fails the Dagster run: the CLI says what broke in one line, and with
    CDMO_DEBUG=1 also the traceback, taken from the run's failure event."""
    import dagster as dg

    from cdmo_pipeline import cli

    @dg.op
    def breaks() -> None:
        raise ZeroDivisionError("division by zero")

    @dg.job
    def broken() -> None:
        breaks()

    result = broken.execute_in_process(raise_on_error=False)
    monkeypatch.delenv("CDMO_DEBUG", raising=False)
    assert cli._failure_message(result) == "internal error: ZeroDivisionError: division by zero"
    monkeypatch.setenv("CDMO_DEBUG", "1")
    message = cli._failure_message(result)
    assert message.startswith("internal error: ZeroDivisionError: division by zero\n")
    assert 'raise ZeroDivisionError("division by zero")' in message  # the line that raised
