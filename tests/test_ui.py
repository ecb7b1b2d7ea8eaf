"""The real Dagster UI: a webserver on a free loopback port, driven through its GraphQL API.

One ``dagster-webserver`` (the project's ``workspace.yaml``, every path in a temporary
directory) serves the whole module, in test order:

1. the repository holds the assets, their checks, the job, the schedule and the sensor;
2. the ``refresh`` job launched there succeeds and publishes the warehouse;
3. a headless chromium opens the asset graph: every asset is drawn, and a screenshot of it
   (a spinner or a dialog fails the test) is saved as ``docs/img/asset-graph.png`` when
   ``CDMO_UPDATE_SCREENSHOT=1`` (the README shows it);
4. the server stops by its process id, every process of its session with it.
"""

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pytest

from cdmo_pipeline.core.tables import TABLE_NAMES
from tests.ui_helpers import ROOT, Server, session_members, start_webserver, wait_until_ready

pytestmark = pytest.mark.slow

LOCATION, REPOSITORY, JOB = "cdmo_pipeline", "__repository__", "refresh"
SELECTOR = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}
EXPECTED_ASSETS = {
    "sources",
    "markets",
    "claims",
    "figures",
    "cagr_checks",
    "implied_figures",
    "projections",
    "segment_shares",
    "cross_source",
    "claim_origins",
    "warehouse",
    "audit_report",
    "projection_charts",
}
# check name -> the asset it checks
FINDING_CHECKS = {
    "cagr_consistency": "cagr_checks",
    "segment_shares_plausible": "segment_shares",
    "warehouse_readback": "warehouse",
    "text_coverage": "sources",
}
SCREENSHOT = ROOT / "docs" / "img" / "asset-graph.png"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}

REPOSITORY_QUERY = """
query Repository($selector: RepositorySelector!) {
  repositoryOrError(repositorySelector: $selector) {
    __typename
    ... on Repository {
      name
      location { name }
      jobs { name }
      schedules { name cronSchedule scheduleState { status } }
      sensors { name sensorState { status } }
      assetNodes {
        assetKey { path }
        groupName
        description
        assetChecksOrError {
          __typename
          ... on AssetChecks { checks { name blocking assetKey { path } } }
        }
      }
    }
    ... on RepositoryNotFoundError { message }
    ... on PythonError { message }
  }
}
"""

LAUNCH_RUN = """
mutation Launch($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on Error { message }
  }
}
"""

RUN_STATUS = """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { status tags { key value } }
    ... on Error { message }
  }
}
"""

RUN_FAILURES = """
query Failures($runId: ID!) {
  logsForRun(runId: $runId) {
    __typename
    ... on EventConnection {
      events {
        __typename
        ... on MessageEvent { message }
        ... on ExecutionStepFailureEvent { stepKey error { message } }
        ... on RunFailureEvent { error { message } }
      }
    }
  }
}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    started = start_webserver(tmp_path_factory.mktemp("webserver"))
    try:
        wait_until_ready(started, timeout=120)
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def repository(server: Server) -> dict:
    result = server.graphql(REPOSITORY_QUERY, {"selector": SELECTOR})["repositoryOrError"]
    assert result["__typename"] == "Repository", result
    return result


def test_repository_has_the_assets_checks_job_schedule_and_sensor(repository: dict) -> None:
    assert repository["location"]["name"] == LOCATION
    nodes = {"/".join(n["assetKey"]["path"]): n for n in repository["assetNodes"]}
    missing = EXPECTED_ASSETS - set(nodes)
    assert not missing, f"assets missing from the UI: {sorted(missing)} (loaded: {sorted(nodes)})"
    for key, node in nodes.items():
        assert node["description"], f"asset {key} has no description in the UI"
        assert node["groupName"] not in (None, "", "default"), f"asset {key} is in no group"

    checks: dict[str, dict] = {}
    for key, node in nodes.items():
        assert node["assetChecksOrError"]["__typename"] == "AssetChecks", (key, node["assetChecksOrError"])
        for check in node["assetChecksOrError"]["checks"]:
            checks[check["name"]] = {**check, "asset": key}
    for table in TABLE_NAMES:
        name = f"{table}_schema"
        assert name in checks, f"check {name} missing (checks: {sorted(checks)})"
        assert checks[name]["asset"] == table, checks[name]
        assert checks[name]["blocking"], f"{name} should block the publish"
    for name, asset in FINDING_CHECKS.items():
        assert name in checks, f"check {name} missing (checks: {sorted(checks)})"
        assert checks[name]["asset"] == asset, checks[name]

    assert JOB in {j["name"] for j in repository["jobs"]}
    schedules = {s["name"]: s for s in repository["schedules"]}
    sensors = {s["name"]: s for s in repository["sensors"]}
    assert "daily_refresh" in schedules, schedules
    assert "source_files_sensor" in sensors, sensors
    # On by default, so the UI's daemon runs them without a click (issue 3, item 5).
    assert schedules["daily_refresh"]["scheduleState"]["status"] == "RUNNING"
    assert sensors["source_files_sensor"]["sensorState"]["status"] == "RUNNING"


def test_refresh_job_launched_in_the_webserver_publishes_the_warehouse(server: Server) -> None:
    assert not server.warehouse.exists()
    params = {"selector": {**SELECTOR, "jobName": JOB}, "runConfigData": {}}
    launched = server.graphql(LAUNCH_RUN, {"executionParams": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]

    deadline = time.monotonic() + 300
    status = launched["run"]["status"]
    while status not in TERMINAL:
        assert time.monotonic() < deadline, f"run {run_id} still {status} after 300 s:\n{server.log_tail()}"
        time.sleep(1)
        run = server.graphql(RUN_STATUS, {"runId": run_id})["runOrError"]
        assert run["__typename"] == "Run", run
        status = run["status"]
    if status != "SUCCESS":
        events = server.graphql(RUN_FAILURES, {"runId": run_id})["logsForRun"].get("events", [])
        errors = [e for e in events if e["__typename"] in ("ExecutionStepFailureEvent", "RunFailureEvent")]
        pytest.fail(f"run {run_id} ended {status}: {errors}\n{server.log_tail()}")

    assert server.warehouse.exists(), f"no warehouse at {server.warehouse} after a successful run"
    with duckdb.connect(str(server.warehouse), read_only=True) as con:
        (n,) = con.execute("SELECT count(*) FROM cagr_checks").fetchone()
    assert n > 0


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def _graph_url(server: Server, repository: dict) -> str:
    """The global asset lineage with every group expanded (the UI collapses them by default)."""
    groups = sorted({n["groupName"] for n in repository["assetNodes"] if n["groupName"]})
    expanded = ",".join(f"global@global:{g}" for g in groups)
    return f"{server.url}/asset-groups?expanded={expanded}"


def _graph_drawn(png: Path) -> tuple[bool, str]:
    """Is there a graph on the canvas: neither blank (a spinner) nor greyed out (a dialog)?"""
    from PIL import Image

    with Image.open(png) as image:
        rgb = image.convert("RGB")
        width, height = rgb.size
        # The canvas: right of the navigation and the group list, below the search bar.
        canvas = np.asarray(rgb.crop((int(width * 0.36), int(height * 0.12), width, height)), dtype=np.int16)
    low, high = canvas.min(axis=2), canvas.max(axis=2)
    ink = float((low < 225).mean())
    grey = float(((high - low < 12) & (high > 80) & (high < 200)).mean())
    summary = f"{ink:.1%} of the canvas drawn, {grey:.1%} greyed"
    return ink > 0.005 and grey < 0.3, summary


def _headless(chromium: str, profile: Path, *args: str) -> list[str]:
    return [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--window-size=1600,1000",
        # The page loads its data and lays the graph out asynchronously; let it settle.
        "--virtual-time-budget=20000",
        *args,
    ]


def _require_chromium() -> str:
    chromium = _chromium()
    if chromium is None:
        pytest.skip("chromium is not installed: `apt-get install chromium` (.ci/run does) to open the UI headless")
    return chromium


def test_asset_graph_page_renders_every_asset(server: Server, repository: dict, tmp_path: Path) -> None:
    chromium = _require_chromium()
    argv = _headless(chromium, tmp_path / "profile", "--dump-dom", _graph_url(server, repository))
    result = subprocess.run(argv, capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert result.returncode == 0, f"chromium exited {result.returncode}:\n{result.stderr[-3000:]}"
    dom = result.stdout
    assert "Global asset lineage" in dom, dom[:2000]
    missing = sorted(a for a in EXPECTED_ASSETS if f">{a}<" not in dom)
    assert not missing, f"asset nodes not drawn on the lineage page: {missing}"


def test_asset_graph_screenshot(server: Server, repository: dict, tmp_path: Path) -> None:
    chromium = _require_chromium()
    target = tmp_path / "asset-graph.png"
    # Twice the pixels, so the node names stay legible where the README scales the picture down.
    argv = _headless(
        chromium,
        tmp_path / "profile",
        "--force-device-scale-factor=2",
        f"--screenshot={target}",
        _graph_url(server, repository),
    )
    result = subprocess.run(argv, capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert result.returncode == 0, f"chromium exited {result.returncode}:\n{result.stderr[-3000:]}"
    assert target.exists(), f"chromium wrote no screenshot:\n{result.stderr[-3000:]}"
    data = target.read_bytes()
    assert data.startswith(PNG_MAGIC), data[:16]
    assert len(data) > 20_000, f"screenshot is only {len(data)} bytes"
    drawn, summary = _graph_drawn(target)
    assert drawn, f"the screenshot shows no asset graph ({summary}); see {target}"
    if os.environ.get("CDMO_UPDATE_SCREENSHOT") == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, SCREENSHOT)


def test_server_stops_by_its_process_id(server: Server) -> None:
    sid = server.proc.pid
    assert session_members(sid), "the server is not running before the stop"
    by_sigterm, seconds = server.stop()
    assert server.proc.returncode is not None, "the server process is still running"
    left = session_members(sid)
    assert not left, f"processes of the server's session survived SIGKILL: {left}"
    assert by_sigterm, f"the server needed SIGKILL after {seconds:.0f} s of SIGTERM"
