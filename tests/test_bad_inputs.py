"""The bad-input corpus (issue 4, item 3): malformed sources fail clearly and publish nothing.

Every case under ``tests/bad_inputs/<name>/`` is a whole sources directory that is wrong in
exactly one way (``_control/`` holds the valid files the cases mutate); MANIFEST.yaml says what
is wrong and which file, claim and field the message must name. For every case:

1. ``load_corpus`` raises SourceValidationError naming the file, the claim and the field;
2. a refresh over a published warehouse raises it and leaves the file and every table as they were;
3. for a sample, the real ``cdmo refresh`` exits non-zero with an ``error:`` line, no traceback.

Cases whose manifest entry carries ``bug`` are loader defects, kept visible as strict xfails.
The refresh tests come first in the file: the CLI runs start with their warehouse fixture and
overlap them. Run: ``.venv/bin/python -m pytest tests/test_bad_inputs.py``.
"""

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import yaml

from cdmo_pipeline import pipeline
from cdmo_pipeline.core.errors import SourceValidationError
from cdmo_pipeline.core.tables import load_corpus
from cdmo_pipeline.warehouse import Warehouse

# The loader's pandas deprecation noise is not what these tests are about.
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")

ROOT = Path(__file__).resolve().parents[1]
BAD = Path(__file__).resolve().parent / "bad_inputs"
CONTROL = BAD / "_control"
ARTICLE = ROOT / "data" / "sources" / "cdmo-article-2025.yaml"
CDMO = Path(sys.executable).with_name("cdmo")
MANIFEST = yaml.safe_load((BAD / "MANIFEST.yaml").read_text(encoding="utf-8"))
CASES: list[dict] = MANIFEST["cases"]
BY_NAME = {case["name"]: case for case in CASES}
MIN_CASES = 50

# Through the real CLI (about 10 s each, run concurrently): one per kind of defect.
CLI_SAMPLE = (
    "yaml-syntax-error",
    "non-utf8-latin1",
    "unknown-field-value",
    "thousands-1-50",
    "parent-cycle-two",
    "csv-bad-thousands",
)
CLI_TIMEOUT = 180


def _cases(xfail_kinds: tuple[str, ...]) -> list:
    """One param per case; a documented bug of one of ``xfail_kinds`` is a strict xfail."""
    params = []
    for case in CASES:
        bug = case.get("bug")
        marks = []
        if bug and bug["kind"] in xfail_kinds:
            marks.append(pytest.mark.xfail(strict=True, reason=f"loader bug ({bug['kind']}): {bug['reason']}"))
        params.append(pytest.param(case, id=case["name"], marks=marks))
    return params


def _names_file(issue_file: str, expected: str, case_dir: Path) -> bool:
    if expected == ".":  # the sources directory itself
        return issue_file in (".", "") or Path(issue_file).resolve() == case_dir.resolve()
    return issue_file == expected


def _file_in_text(text: str, expected: str, case_dir: Path) -> bool:
    return (case_dir.name in text or str(case_dir) in text) if expected == "." else f"{expected}" in text


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _snapshot(path: Path) -> dict[str, list[tuple]]:
    """Every table of the warehouse, rows in a canonical order."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [
            name
            for (name,) in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' ORDER BY table_name"
            ).fetchall()
        ]
        return {name: con.execute(f'SELECT * FROM "{name}" ORDER BY ALL').fetchall() for name in names}
    finally:
        con.close()


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[dict]:
    """A warehouse holding one good publish of the article: its bytes, hash and tables.

    When the CLI tests are selected, their processes start here, so that their ~10 s each of
    Dagster start-up overlaps the in-process tests instead of following them.
    """
    sources = tmp_path_factory.mktemp("article")
    shutil.copy(ARTICLE, sources / ARTICLE.name)
    path = tmp_path_factory.mktemp("published") / "cdmo.duckdb"
    pipeline.refresh(sources, Warehouse(path))
    state = {"path": path, "sha256": _sha256(path), "tables": _snapshot(path), "cli": {}}
    # Under pytest-xdist every worker sees every item: there each CLI test starts its own run.
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        selected = {
            item.callspec.params["name"]
            for item in request.session.items
            if getattr(item, "originalname", "") == "test_cli_refresh_fails_with_a_clear_error"
        }
        state["cli"] = _start_cli_runs(state, tmp_path_factory, [n for n in CLI_SAMPLE if n in selected])
    yield state
    for run in state["cli"].values():  # only when a CLI test did not collect its run
        if run["proc"].poll() is None:
            run["proc"].kill()
            run["proc"].communicate()


def _warehouse_copy(published: dict, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "cdmo.duckdb"
    shutil.copyfile(published["path"], path)
    assert _sha256(path) == published["sha256"]
    return path


# The corpus itself ---------------------------------------------------------------------------------


def test_manifest_counts_at_least_fifty_distinct_cases() -> None:
    names = [case["name"] for case in CASES]
    on_disk = sorted(p.name for p in BAD.iterdir() if p.is_dir() and not p.name.startswith("_"))
    assert MANIFEST["count"] == len(CASES) >= MIN_CASES
    assert len(set(names)) == len(names)
    assert sorted(names) == on_disk
    for case in CASES:
        assert set(case) >= {"name", "wrong", "file", "claim", "field", "message_contains"}, case["name"]
        assert case["wrong"], case["name"]
        assert case["message_contains"], case["name"]
        if case["file"] != ".":
            assert (BAD / case["name"] / case["file"]).is_file(), case["name"]
        if "bug" in case:
            assert case["bug"]["kind"] in ("accepted", "crash", "message"), case["name"]


def test_every_case_is_a_different_input() -> None:
    def content(directory: Path) -> tuple:
        return tuple(sorted((p.name, p.read_bytes()) for p in directory.iterdir() if p.is_file()))

    seen: dict[tuple, str] = {}
    for case in CASES:
        key = content(BAD / case["name"])
        assert key not in seen, f"{case['name']} is the same input as {seen.get(key)}"
        seen[key] = case["name"]


def test_control_is_valid() -> None:
    """The files the cases mutate are valid, so each case's one defect is what fails it."""
    corpus = load_corpus(CONTROL)
    assert len(corpus.sources) == 2


# The published tables are byte-for-byte what they were ----------------------------------------


@pytest.mark.parametrize("case", _cases(("accepted", "crash")))
def test_refresh_fails_and_published_warehouse_is_unchanged(case: dict, published: dict, tmp_path: Path) -> None:
    path = _warehouse_copy(published, tmp_path / "warehouse")
    error: BaseException | None = None
    try:
        pipeline.refresh(BAD / case["name"], Warehouse(path))
    except Exception as exc:  # the type is asserted below, after the warehouse is checked
        error = exc
    assert _sha256(path) == published["sha256"], "the warehouse file changed"
    assert _snapshot(path) == published["tables"], "a published table changed"
    assert not [p.name for p in path.parent.iterdir() if "candidate" in p.name], "a candidate was left behind"
    assert isinstance(error, SourceValidationError), f"expected SourceValidationError, got {error!r}"


# The message names the file, the claim and the field ----------------------------------------------


@pytest.mark.parametrize("case", _cases(("accepted", "crash", "message")))
def test_refused_with_a_message_naming_file_claim_and_field(case: dict) -> None:
    case_dir = BAD / case["name"]
    with pytest.raises(SourceValidationError) as info:
        load_corpus(case_dir)
    exc = info.value
    text = str(exc)
    where = [
        issue
        for issue in exc.issues
        if _names_file(issue.file, case["file"], case_dir)
        and issue.claim == case["claim"]
        and issue.field == case["field"]
    ]
    assert where, f"no issue names file {case['file']!r}, claim {case['claim']!r}, field {case['field']!r}:\n{text}"
    assert any(case["message_contains"] in str(issue) for issue in where), text
    assert _file_in_text(text, case["file"], case_dir), text
    if case["claim"] is not None:
        assert f"claim '{case['claim']}'" in text, text
    if case["field"] is not None:
        assert f"field '{case['field']}'" in text, text
    assert case["message_contains"] in text, text
    assert "Traceback" not in text


# End to end through the real CLI ------------------------------------------------------------------


def _start_cli_runs(published: dict, tmp_path_factory: pytest.TempPathFactory, names: list[str]) -> dict[str, dict]:
    """Start ``cdmo refresh`` over each named case, each on its own copy of the warehouse."""
    runs = {}
    for name in names:
        base = tmp_path_factory.mktemp(f"cli-{name}")
        home = base / "dagster_home"
        home.mkdir()
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        warehouse = _warehouse_copy(published, base / "warehouse")
        env = {
            **os.environ,
            "CDMO_SOURCES_DIR": str(BAD / name),
            "CDMO_DUCKDB_PATH": str(warehouse),
            "CDMO_REPORTS_DIR": str(base / "reports"),
            "DAGSTER_HOME": str(home),
            "NO_COLOR": "1",
            "COLUMNS": "200",
        }
        env.pop("CDMO_PROJECTION_HORIZON", None)
        proc = subprocess.Popen(
            [str(CDMO), "refresh"],
            cwd=base,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        runs[name] = {"proc": proc, "warehouse": warehouse}
    return runs


def _finish(run: dict) -> dict:
    if "returncode" not in run:
        try:
            run["stdout"], run["stderr"] = run["proc"].communicate(timeout=CLI_TIMEOUT)
        except subprocess.TimeoutExpired:
            run["proc"].kill()
            run["stdout"], run["stderr"] = run["proc"].communicate()
        run["returncode"] = run["proc"].returncode
    return run


@pytest.mark.parametrize("name", CLI_SAMPLE)
def test_cli_refresh_fails_with_a_clear_error(
    name: str, published: dict, tmp_path_factory: pytest.TempPathFactory
) -> None:
    case = BY_NAME[name]
    assert "bug" not in case, "the CLI sample holds cases the loader handles"
    if name not in published["cli"]:
        published["cli"].update(_start_cli_runs(published, tmp_path_factory, [name]))
    run = _finish(published["cli"][name])
    output = f"--- stdout\n{run['stdout']}\n--- stderr\n{run['stderr']}"
    assert run["returncode"] not in (0, None), output
    assert "Traceback" not in run["stdout"], output
    assert "Traceback" not in run["stderr"], output
    error_lines = [line for line in run["stderr"].splitlines() if line.startswith("error:")]
    assert error_lines, output
    assert case["file"] in run["stderr"], output
    assert case["message_contains"] in run["stderr"], output
    assert _sha256(run["warehouse"]) == published["sha256"], "the CLI refresh changed the warehouse"
    assert _snapshot(run["warehouse"]) == published["tables"]


# Paths named like sources that are not readable files (built here: git keeps no pipes) ----------

SPECIAL_FILES = {
    "dangling-symlink-yaml": lambda d: (d / "other.yaml").symlink_to(d / "missing.yaml"),
    "dangling-symlink-csv": lambda d: (d / "more.claims.csv").symlink_to(d / "missing.csv"),
    "symlink-loop": lambda d: ((d / "a.yaml").symlink_to(d / "b.yaml"), (d / "b.yaml").symlink_to(d / "a.yaml")),
    "directory-named-yaml": lambda d: (d / "drafts.yaml").mkdir(),
    "fifo-yaml": lambda d: os.mkfifo(d / "pipe.yaml"),
}
SPECIAL_REASONS = {
    "dangling-symlink-yaml": ("other.yaml", "does not exist"),
    "dangling-symlink-csv": ("more.claims.csv", "does not exist"),
    "symlink-loop": ("a.yaml", "does not exist (or loops)"),
    "directory-named-yaml": ("drafts.yaml", "is a directory"),
    "fifo-yaml": ("pipe.yaml", "not a regular file"),
}


@pytest.mark.parametrize("name", sorted(SPECIAL_FILES))
def test_unreadable_source_paths_are_refused_by_name(name: str, published: dict, tmp_path: Path) -> None:
    """A broken link, a loop, a directory or a pipe named like a source is an error naming it,
    never a file silently skipped, and the published warehouse stays as it was."""
    sources = tmp_path / "sources"
    sources.mkdir()
    shutil.copy(ARTICLE, sources / ARTICLE.name)
    SPECIAL_FILES[name](sources)
    with pytest.raises(SourceValidationError) as info:
        load_corpus(sources)
    file, reason = SPECIAL_REASONS[name]
    assert any(issue.file == file and reason in issue.message for issue in info.value.issues), str(info.value)
    path = _warehouse_copy(published, tmp_path / "warehouse")
    with pytest.raises(SourceValidationError):
        pipeline.refresh(sources, Warehouse(path))
    assert _sha256(path) == published["sha256"], "the warehouse file changed"
