"""Shared by the crash and concurrency tests: two source sets, table snapshots, child processes.

Two source sets whose publishes differ in every table:

- **A**: the article alone (``data/sources/cdmo-article-2025.yaml``);
- **B**: every source of ``data/sources`` plus a generated bulk ``*.claims.csv`` (DESIGN §3
  tabular form) big enough that a refresh takes a second or more.

A snapshot of a warehouse is one digest per table of its rows ``ORDER BY ALL``, taken through
a read-only connection, so "exactly publish A or exactly publish B, never a mix" is a
comparison of digests.
"""

import contextlib
import csv
import hashlib
import inspect
import json
import os
import queue
import random
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from cdmo_pipeline.core.source_format import BULK_COLUMNS
from cdmo_pipeline.core.tables import TABLE_NAMES

ROOT = Path(__file__).resolve().parent.parent
DATA_SOURCES = ROOT / "data" / "sources"
ARTICLE = DATA_SOURCES / "cdmo-article-2025.yaml"
PYTHON = sys.executable
CLI = Path(sys.executable).with_name("cdmo")
DATA_TABLES = tuple(TABLE_NAMES)
MANAGED_TABLES = ("refreshes", "refresh_tables")


# Sources -------------------------------------------------------------------------------------


def write_bulk_claims(path: Path, n_claims: int, *, seed: int = 20250, source_id: str = "bulk-synthetic-2025") -> None:
    """A ``*.claims.csv`` of ``n_claims`` valid trajectory claims, numbers written as strings.

    Markets are the article's (declared by ``markets.yaml`` in the same directory); a few
    claims carry a deliberately wrong CAGR, so every verdict appears.
    """
    rng = random.Random(seed)
    markets = ("global-cdmo", "biologics-cdmo", "india-pharma")
    parents = {"biologics-cdmo": "global-cdmo"}
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(BULK_COLUMNS)
        for i in range(n_claims):
            market = markets[i % len(markets)]
            start_year = rng.randint(2015, 2027)
            n_years = rng.randint(3, 10)
            start = rng.randint(10, 900)
            growth = rng.uniform(-0.05, 0.2)
            end = start * (1 + growth) ** n_years
            cagr = ((end / start) ** (1 / n_years) - 1) * 100
            if i % 17 == 0:
                cagr += 3  # an inconsistent claim: a finding, published with its verdict
            with_cagr = i % 11 != 0
            out.writerow(
                [
                    source_id,
                    "Synthetic bulk corpus",
                    "cdmo-pipeline tests",
                    "2025",
                    f"claim-{i:05d}",
                    "trajectory",
                    market,
                    parents.get(market, ""),
                    "USD",
                    str(start_year),
                    str(start),
                    "billion",
                    "over" if i % 7 == 0 else "",
                    str(start_year + n_years),
                    f"{end:,.1f}",
                    "billion",
                    "",
                    f"{cagr:.1f}" if with_cagr else "",
                    str(start_year) if with_cagr else "",
                    str(start_year + n_years) if with_cagr else "",
                ]
            )


def make_source_sets(base: Path, n_bulk: int) -> tuple[Path, Path]:
    """Directories A (the article) and B (all sources plus a bulk CSV of ``n_bulk`` claims)."""
    a = base / "sources_a"
    a.mkdir(parents=True)
    shutil.copy(ARTICLE, a / ARTICLE.name)
    b = base / "sources_b"
    shutil.copytree(DATA_SOURCES, b)
    write_bulk_claims(b / "synthetic-bulk.claims.csv", n_bulk)
    return a, b


def refresh_with_steps(sources_dir: Path, warehouse: object, on_step: object) -> object:
    """``pipeline.refresh`` reporting its steps to ``on_step``; the receipt.

    A refresh that streams into its snapshot takes ``on_step`` itself; one that builds every
    table first is the same as preparing, then publishing with ``on_step``.
    """
    from cdmo_pipeline import pipeline

    if "on_step" in inspect.signature(getattr(pipeline, "run", pipeline.refresh)).parameters:
        return pipeline.refresh(sources_dir, warehouse, on_step=on_step)
    return pipeline.publish(pipeline.prepare(sources_dir), warehouse, on_step=on_step)


# Snapshots -----------------------------------------------------------------------------------


def table_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' ORDER BY 1").fetchall()
    return [name for (name,) in rows]


def rows_digest(rows: list[tuple]) -> str:
    """A digest of rows (``repr`` keeps NaN, NULL and float digits exact)."""
    h = hashlib.sha256()
    for row in rows:
        h.update(repr(row).encode())
        h.update(b"\n")
    return h.hexdigest()[:24]


def _fetch(con: duckdb.DuckDBPyConnection, table: str, columns: str = "*") -> list[tuple]:
    # ``table`` is one of our fixed table names (checked against duckdb_tables by callers).
    return con.execute(f'SELECT {columns} FROM "{table}" ORDER BY ALL').fetchall()


@dataclass
class Snapshot:
    """What one warehouse file holds: per-table digests, and its refresh records."""

    tables: list[str]
    digests: dict[str, str]
    counts: dict[str, int]
    refreshes: list[tuple]  # (refresh_id, n_sources, sources_fingerprint, row_counts), by published_at
    refresh_tables: list[tuple]  # (refresh_id, table_name, n_rows, content_hash)
    latest: str = ""
    extra: dict = field(default_factory=dict)


def snapshot(path: Path) -> Snapshot:
    """Open the warehouse read-only (must not fail) and digest every table."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = table_names(con)
        digests, counts = {}, {}
        for name in names:
            rows = _fetch(con, name)
            digests[name] = rows_digest(rows)
            counts[name] = len(rows)
        refreshes = con.execute(
            "SELECT refresh_id, n_sources, sources_fingerprint, row_counts FROM refreshes "
            "ORDER BY published_at, refresh_id"
        ).fetchall()
        refresh_tables = _fetch(con, "refresh_tables", "refresh_id, table_name, n_rows, content_hash")
    finally:
        con.close()
    return Snapshot(names, digests, counts, refreshes, refresh_tables, refreshes[-1][0] if refreshes else "")


def classify(path: Path, a: Snapshot, b: Snapshot) -> str:
    """'A' or 'B' when the file holds exactly that publish; AssertionError (with why) otherwise.

    A is the exact file published before the kill (every table, refresh records included).
    B is the new publish: the data tables of the reference publish of B, and A's refresh
    records plus exactly one new record whose sources, counts and hashes are B's.
    """
    s = snapshot(path)
    assert s.tables == a.tables, f"tables changed: {s.tables} != {a.tables}"
    same_as_a = [t for t in DATA_TABLES if s.digests[t] == a.digests[t]]
    same_as_b = [t for t in DATA_TABLES if s.digests[t] == b.digests[t]]
    if len(same_as_a) == len(DATA_TABLES) and s.digests == a.digests:
        return "A"
    if len(same_as_b) == len(DATA_TABLES):
        assert s.refreshes[:-1] == a.refreshes, "publish B lost or changed a refresh record of A"
        new_id, *new_record = s.refreshes[-1]
        assert new_record == list(b.refreshes[-1][1:]), f"refresh record of B differs: {new_record}"
        new_tables = sorted(r[1:] for r in s.refresh_tables if r[0] == new_id)
        b_tables = sorted(r[1:] for r in b.refresh_tables if r[0] == b.latest)
        assert new_tables == b_tables, "refresh_tables of B differ from the reference publish"
        old_tables = [r for r in s.refresh_tables if r[0] != new_id]
        assert old_tables == a.refresh_tables, "publish B lost or changed refresh_tables rows of A"
        return "B"
    neither = [t for t in DATA_TABLES if t not in same_as_a and t not in same_as_b]
    raise AssertionError(
        f"{path} holds neither publish A nor publish B: tables equal to A {same_as_a}, equal to B {same_as_b}, "
        f"equal to neither {neither} (a mix of publishes, or a table whose content is not deterministic); "
        f"latest refresh {s.latest}, {len(s.refreshes)} refresh records"
    )


def sql_checksums(con: duckdb.DuckDBPyConnection) -> dict[str, list[int]]:
    """Per data table: [row count, sum of row hashes] (fast enough for a tight reader loop)."""
    out = {}
    for name in DATA_TABLES:
        n, total = con.execute(
            f'SELECT count(*), CAST(coalesce(sum(hash(t)), 0) AS VARCHAR) FROM "{name}" AS t'
        ).fetchone()
        out[name] = [int(n), int(total)]
    return out


def candidates(path: Path) -> list[Path]:
    """Candidate files a refresh leaves beside the warehouse while (or if killed while) writing."""
    return sorted(path.parent.glob(f".{path.name}.*.candidate*"))


def restore(snapshot_file: Path, path: Path) -> None:
    """Put a saved warehouse file back in place (atomically, as a publish would)."""
    tmp = path.with_name(path.name + ".restore")
    shutil.copyfile(snapshot_file, tmp)
    os.replace(tmp, path)


# Child processes -----------------------------------------------------------------------------


class Child:
    """A child process whose stdout lines are collected, with arrival times, by a thread."""

    def __init__(self, argv: list[str], *, stderr_path: Path, env: dict[str, str] | None = None) -> None:
        self.stderr_path = stderr_path
        self._stderr = stderr_path.open("wb")
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )
        self.lines: queue.Queue[tuple[float, str | None]] = queue.Queue()
        self.seen: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put((time.monotonic(), line.rstrip("\n")))
        self.lines.put((time.monotonic(), None))  # end of output

    def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def wait_for(self, word: str, timeout: float = 60.0, *, any_line: bool = False) -> tuple[float, str]:
        """Wait for a line whose event (last word) or first word is ``word``; returns (child time, line)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {word!r} from the child within {timeout} s; saw {self.seen[-5:]}")
            try:
                _, line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:  # the child closed its output: it has ended
                self.proc.wait(timeout=30)
                raise AssertionError(
                    f"the child ended (rc {self.proc.returncode}) before {word!r}; saw {self.seen[-5:]}; "
                    f"stderr: {self.stderr_tail()}"
                )
            self.seen.append(line)
            parts = line.split()
            if (any_line and len(parts) > 1 and _is_float(parts[0])) or word in parts:
                stamp = float(parts[0]) if _is_float(parts[0]) else time.monotonic()
                return stamp, line

    def wait_for_line(self, timeout: float = 60.0) -> tuple[float, str]:
        """The next time-stamped line the child prints: (child time, line)."""
        stamp, line = self.wait_for("", timeout=timeout, any_line=True)
        return stamp, line

    def drain(self, timeout: float = 10.0) -> list[str]:
        """Collect what the child printed until it closed its output (call once it has ended)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                _, line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
        return self.seen

    def kill(self) -> bool:
        """SIGKILL the child; True when it was still running (a real kill)."""
        alive = self.proc.poll() is None
        if alive:
            os.killpg(self.proc.pid, 9)
        self.proc.wait(timeout=30)
        return alive and self.proc.returncode == -9

    def finish(self, timeout: float = 60.0) -> int:
        """Wait for the child to end by itself; its return code."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=timeout)
        return self.close()

    def close(self) -> int:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 9)
        rc = self.proc.wait(timeout=30)
        self._stderr.close()
        return rc

    def stderr_tail(self, n: int = 1500) -> str:
        return self.stderr_path.read_text(errors="replace")[-n:]


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# A process holding the warehouse open (for writing, or read-only), until told to let go.
HOLDER_SCRIPT = """
import os, sys, duckdb
path, mode = sys.argv[1], sys.argv[2]
con = duckdb.connect(path, read_only=(mode == "ro"))
latest = lambda: con.execute(
    "SELECT refresh_id FROM refreshes ORDER BY published_at DESC, refresh_id DESC LIMIT 1").fetchone()[0]
print("held", os.getpid(), latest(), flush=True)
for line in sys.stdin:
    command = line.strip()
    if command == "read":
        print("read", latest(), flush=True)
    elif command == "reconnect":
        con.close()
        con = duckdb.connect(path, read_only=True)
        print("reconnected", latest(), flush=True)
    else:
        break
con.close()
print("released", flush=True)
"""


def start_holder(path: Path, mode: str, tmp: Path) -> tuple[Child, int, str]:
    """Start a process holding ``path`` open (mode 'rw' or 'ro'); returns (child, pid, refresh id it sees)."""
    child = Child([PYTHON, "-c", HOLDER_SCRIPT, str(path), mode], stderr_path=tmp / f"holder-{mode}.stderr")
    _, line = child.wait_for("held", timeout=30)
    _, pid, refresh_id = line.split()
    return child, int(pid), refresh_id


def release(child: Child) -> None:
    child.send("quit")
    child.wait_for("released", timeout=30)
    assert child.finish() == 0


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data, indent=1, sort_keys=True))
    return path
