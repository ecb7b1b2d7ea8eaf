"""Shared by the UI and CLI tests: isolated environments, Dagster servers, GraphQL, process sessions.

Everything a test starts runs against temporary directories (sources, warehouse, reports,
Dagster home), never the project's ``data/`` or ``.dagster_home``. A server is started as the
leader of a session of its own, so a test can check that stopping it by its process id also
stopped the code servers and run workers it spawned.
"""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CDMO = BIN / "cdmo"
DAGSTER_WEBSERVER = BIN / "dagster-webserver"
WORKSPACE = ROOT / "workspace.yaml"
DATA_SOURCES = ROOT / "data" / "sources"
ARTICLE = DATA_SOURCES / "cdmo-article-2025.yaml"

# The webserver alone has no daemon, so the instance launches runs directly (the default,
# queued coordinator would wait for a daemon forever); no community pop-up over the UI.
WEBSERVER_DAGSTER_YAML = """\
telemetry:
  enabled: false
nux:
  enabled: false
run_coordinator:
  module: dagster._core.run_coordinator
  class: DefaultRunCoordinator
"""
PLAIN_DAGSTER_YAML = "telemetry:\n  enabled: false\nnux:\n  enabled: false\n"


def isolated_env(base: Path, sources: Path | None = None, *, dagster_yaml: str = PLAIN_DAGSTER_YAML) -> dict[str, str]:
    """Environment whose every CDMO_* path and DAGSTER_HOME is under ``base``.

    ``sources``: the sources directory to read (default: a fresh one under ``base`` holding
    only the article). The Dagster home gets ``dagster_yaml``.
    """
    base.mkdir(parents=True, exist_ok=True)
    if sources is None:
        sources = base / "sources"
        sources.mkdir(exist_ok=True)
        shutil.copy(ARTICLE, sources / ARTICLE.name)
    home = base / "dagster_home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text(dagster_yaml)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CDMO_") and k not in ("DAGSTER_HOME", "PYTEST_CURRENT_TEST", "NO_COLOR", "FORCE_COLOR")
    }
    env.update(
        {
            "CDMO_SOURCES_DIR": str(sources),
            "CDMO_DUCKDB_PATH": str(base / "warehouse" / "cdmo.duckdb"),
            "CDMO_REPORTS_DIR": str(base / "reports"),
            "DAGSTER_HOME": str(home),
            # Rich wraps at the terminal width; a wide one keeps paths and messages on one line.
            "COLUMNS": "200",
            "TERM": "dumb",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Process sessions ----------------------------------------------------------------------------


def session_members(sid: int) -> list[str]:
    """Live processes (not zombies) of a session, as "pid command" lines.

    A server started by a test leads a session of its own; every process it starts stays in
    that session (``cdmo ui`` puts Dagster in a process group of its own, in the same
    session), even when orphaned.
    """
    out = subprocess.run(["ps", "-eo", "pid=,sid=,stat=,args="], capture_output=True, text=True, check=True).stdout
    members = []
    for line in out.splitlines():
        parts = line.split(None, 3)
        if len(parts) >= 3 and parts[1] == str(sid) and not parts[2].startswith("Z"):
            members.append(f"{parts[0]} {parts[3] if len(parts) > 3 else ''}"[:160])
    return members


def stop_group(proc: subprocess.Popen, *, grace: float = 30.0, pid_only: bool = False) -> tuple[bool, float]:
    """SIGTERM the server (its process group, or with ``pid_only`` its PID alone, as ``kill PID``
    does); SIGKILL every process left in its session after ``grace`` seconds.

    Returns (stopped by SIGTERM alone, seconds taken). Waits for the leader so it is reaped,
    and for the session to empty.
    """
    started = time.monotonic()
    sid = proc.pid  # started with start_new_session=True: leads its own session and group
    with contextlib.suppress(ProcessLookupError):
        if pid_only:
            os.kill(sid, signal.SIGTERM)
        else:
            os.killpg(sid, signal.SIGTERM)
    deadline = started + grace
    while time.monotonic() < deadline:
        proc.poll()
        if proc.returncode is not None and not session_members(sid):
            return True, time.monotonic() - started
        time.sleep(0.25)
    deadline = time.monotonic() + 10
    while session_members(sid) and time.monotonic() < deadline:
        for line in session_members(sid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(line.split()[0]), signal.SIGKILL)
        time.sleep(0.25)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
    return False, time.monotonic() - started


# Dagster servers -------------------------------------------------------------------------


class GraphQLError(AssertionError):
    pass


@dataclass
class Server:
    """A Dagster webserver (or ``cdmo ui``) started by a test, leading its own session."""

    proc: subprocess.Popen
    port: int
    env: dict[str, str]
    log: Path
    base: Path
    stopped: bool = False
    stop_result: tuple[bool, float] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def warehouse(self) -> Path:
        return Path(self.env["CDMO_DUCKDB_PATH"])

    def log_tail(self, n: int = 40) -> str:
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-n:])

    def graphql(self, query: str, variables: Mapping[str, object] | None = None, *, timeout: float = 60) -> dict:
        body = json.dumps({"query": query, "variables": dict(variables or {})}).encode()
        request = urllib.request.Request(  # noqa: S310 (http on loopback, our server)
            f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            payload = json.load(response)
        if payload.get("errors"):
            raise GraphQLError(f"GraphQL errors: {json.dumps(payload['errors'], indent=1)[:3000]}")
        return payload["data"]

    def stop(self, *, pid_only: bool = False) -> tuple[bool, float]:
        if not self.stopped:
            self.stop_result = stop_group(self.proc, pid_only=pid_only)
            self.stopped = True
        assert self.stop_result is not None
        return self.stop_result


def start_server(argv: Sequence[str], env: Mapping[str, str], base: Path, port: int) -> Server:
    log = base / "server.log"
    handle = log.open("w")
    proc = subprocess.Popen(
        list(argv),
        env=dict(env),
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    handle.close()
    return Server(proc=proc, port=port, env=dict(env), log=log, base=base)


def start_webserver(base: Path) -> Server:
    """``dagster-webserver`` on a free loopback port, loading the project's workspace.yaml."""
    env = isolated_env(base, dagster_yaml=WEBSERVER_DAGSTER_YAML)
    port = free_port()
    argv = [str(DAGSTER_WEBSERVER), "-h", "127.0.0.1", "-p", str(port), "-w", str(WORKSPACE)]
    return start_server(argv, env, base, port)


WORKSPACE_QUERY = """
query {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
    ... on PythonError { message }
  }
}
"""


def wait_until_ready(server: Server, *, timeout: float = 120.0) -> list[dict]:
    """Wait for ``/server_info`` and a loaded code location; returns the location entries."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise AssertionError(
                f"the server exited with {server.proc.returncode} before answering:\n{server.log_tail()}"
            )
        try:
            with urllib.request.urlopen(f"{server.url}/server_info", timeout=5) as response:  # noqa: S310
                json.load(response)
            entries = server.graphql(WORKSPACE_QUERY, timeout=10)["workspaceOrError"].get("locationEntries") or []
            statuses = {e["name"]: e["loadStatus"] for e in entries}
            errors = [e for e in entries if e["locationOrLoadError"]["__typename"] == "PythonError"]
            if errors:
                raise AssertionError(f"the code location failed to load: {errors}")
            if entries and all(s == "LOADED" for s in statuses.values()):
                return entries
            last = f"locations {statuses}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            last = repr(exc)
        time.sleep(0.5)
    raise AssertionError(f"the server did not answer within {timeout:g} s ({last}):\n{server.log_tail()}")
