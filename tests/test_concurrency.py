"""Concurrent readers and lock conflicts (DESIGN §7, issue 4 item 6).

- A writer process refreshes in a loop, alternating two source sets (every publish changes
  every table) while a reader process reads the warehouse in a loop: every read sees one
  whole publish, consistent with the refresh record it reads in the same connection, and
  neither side ever fails with a lock error.
- A process holding the file open READ-WRITE makes a refresh wait ``lock_timeout`` and then
  fail with ``WarehouseBusyError`` naming the holder's PID; the published file is unchanged;
  once the holder lets go, a refresh succeeds. The CLI (``cdmo refresh``, ``cdmo sql``) ends
  in one ``error:`` line with no traceback.
- A reader holding the file READ-ONLY does not block a refresh, and keeps the snapshot it
  opened until it reconnects; in another process, and in the refreshing process itself.

    .venv/bin/python -m pytest tests/test_concurrency.py -q -s
"""

import json
import os
import subprocess
import time
from pathlib import Path

import duckdb
import pytest

from cdmo_pipeline import pipeline
from cdmo_pipeline.core.errors import WarehouseBusyError
from cdmo_pipeline.warehouse import Warehouse
from tests.reliability_helpers import (
    CLI,
    PYTHON,
    Child,
    make_source_sets,
    refresh_with_steps,
    release,
    snapshot,
    sql_checksums,
    start_holder,
    write_json,
)

pytestmark = pytest.mark.slow

N_BULK = 500  # bulk claims in set B: a refresh of B is about a second on an idle machine
N_REFRESHES = 8  # alternating A, B, A, ... while the reader loops
LOCK_TIMEOUT = 2.0

WRITER = r"""
import json, sys, time
from pathlib import Path
from cdmo_pipeline import pipeline
from cdmo_pipeline.warehouse import Warehouse
a, b, db, n = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
print("ready", flush=True)
sys.stdin.readline()
for i in range(n):
    label, src = ("B", b) if i % 2 == 0 else ("A", a)
    t = time.monotonic()
    try:
        receipt = pipeline.refresh(src, Warehouse(db, lock_timeout=30))
        out = {"i": i, "set": label, "ok": True, "refresh_id": receipt.refresh_id, "s": time.monotonic() - t}
    except Exception as exc:
        out = {"i": i, "set": label, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
    print("refresh", json.dumps(out), flush=True)
print("finished", flush=True)
"""

READER = r"""
import contextlib, json, os, sys, time
from pathlib import Path
import duckdb
from cdmo_pipeline.warehouse import Warehouse
from tests.reliability_helpers import sql_checksums

db, refs_file, stop = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
refs = json.loads(refs_file.read_text())
fingerprints = {refs[k]["fingerprint"]: k for k in ("A", "B")}
stats = {"iterations": 0, "seen": {"A": 0, "B": 0}, "switches": 0, "refresh_ids": []}
stats.update(mixes=[], errors=[], swap_races=[])
last = None

def label(table, sums):
    return "A" if sums == refs["A"]["sums"][table] else "B" if sums == refs["B"]["sums"][table] else "?"

def identity():
    st = os.stat(db)
    return (st.st_ino, st.st_mtime_ns, st.st_ctime_ns)

print("ready", flush=True)
while not stop.exists():
    it = stats["iterations"]
    before = identity()
    try:
        if it % 2:
            opened = Warehouse(db, lock_timeout=10).reader()  # the library's reader (retries, clear errors)
        else:
            opened = contextlib.closing(duckdb.connect(str(db), read_only=True))  # a plain DuckDB client
        with opened as con:
            rid, fp, row_counts = con.execute(
                "SELECT refresh_id, sources_fingerprint, row_counts FROM refreshes "
                "ORDER BY published_at DESC, refresh_id DESC LIMIT 1"
            ).fetchone()
            recorded = dict(con.execute(
                "SELECT table_name, n_rows FROM refresh_tables WHERE refresh_id = ?", [rid]).fetchall())
            sums = sql_checksums(con)
    except Exception as exc:
        # A plain client whose open straddled a swap fails (DuckDB opens the file by name twice;
        # see test_readers.py): a known limit, remedied by opening again. Anything else is an error.
        race = not it % 2 and identity() != before
        stats["swap_races" if race else "errors"].append(f"iteration {it}: {type(exc).__name__}: {exc}")
        stats["iterations"] += 1
        continue
    labels = {t: label(t, s) for t, s in sums.items()}
    by_record = fingerprints.get(fp, "?")
    counts_agree = all(recorded.get(t) == s[0] for t, s in sums.items()) and json.loads(row_counts) == recorded
    if set(labels.values()) != {by_record} or by_record == "?" or not counts_agree:
        stats["mixes"].append({"iteration": it, "refresh_id": rid, "record": by_record, "tables": labels,
                               "counts_agree": counts_agree})
    else:
        stats["seen"][by_record] += 1
        if last is not None and by_record != last:
            stats["switches"] += 1
        last = by_record
    if rid not in stats["refresh_ids"]:
        stats["refresh_ids"].append(rid)
    stats["iterations"] += 1
for kind in ("mixes", "errors", "swap_races"):
    stats["n_" + kind], stats[kind] = len(stats[kind]), stats[kind][:10]
print("stats", json.dumps(stats), flush=True)
"""


@pytest.fixture(scope="module")
def sets(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_source_sets(tmp_path_factory.mktemp("concurrency"), N_BULK)


def _reference(db: Path) -> dict:
    con = duckdb.connect(str(db), read_only=True)
    try:
        (fp,) = con.execute(
            "SELECT sources_fingerprint FROM refreshes ORDER BY published_at DESC, refresh_id DESC LIMIT 1"
        ).fetchone()
        return {"fingerprint": fp, "sums": sql_checksums(con)}
    finally:
        con.close()


def _latest(db: Path) -> str:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "SELECT refresh_id FROM refreshes ORDER BY published_at DESC, refresh_id DESC LIMIT 1"
        ).fetchone()[0]
    finally:
        con.close()


def test_readers_never_see_a_mix_while_refreshes_run(tmp_path: Path, sets: tuple[Path, Path]) -> None:
    src_a, src_b = sets
    db = tmp_path / "wh" / "cdmo.duckdb"
    # Reference sums of each publish (and a first check of idempotence: B twice is B).
    pipeline.refresh(src_b, Warehouse(db))
    ref_b = _reference(db)
    pipeline.refresh(src_b, Warehouse(db))
    assert _reference(db) == ref_b, "two refreshes over the same sources gave different tables"
    pipeline.refresh(src_a, Warehouse(db))
    ref_a = _reference(db)
    assert all(ref_a["sums"][t] != ref_b["sums"][t] for t in ("claims", "figures", "cagr_checks", "projections"))
    refs = write_json(tmp_path / "refs.json", {"A": ref_a, "B": ref_b})
    stop = tmp_path / "stop"

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    reader = Child([PYTHON, "-c", READER, str(db), str(refs), str(stop)], stderr_path=tmp_path / "r.err", env=env)
    writer = Child(
        [PYTHON, "-c", WRITER, str(src_a), str(src_b), str(db), str(N_REFRESHES)], stderr_path=tmp_path / "w.err"
    )
    try:
        reader.wait_for("ready", timeout=120)
        writer.wait_for("ready", timeout=120)
        started = time.monotonic()
        writer.send("go")
        writer.wait_for("finished", timeout=600)
        elapsed = time.monotonic() - started
        stop.touch()
        _, line = reader.wait_for("stats", timeout=120)
        assert writer.finish() == 0, writer.stderr_tail()
        assert reader.finish() == 0, reader.stderr_tail()
    finally:
        stop.touch()
        writer.close()
        reader.close()

    refreshes = [json.loads(seen.split(" ", 1)[1]) for seen in writer.seen if seen.startswith("refresh ")]
    stats = json.loads(line.split(" ", 1)[1])
    failed = [r for r in refreshes if not r["ok"]]
    print(
        f"\n{len(refreshes)} refreshes ({sum(r['ok'] for r in refreshes)} ok, "
        f"{sum(r['s'] for r in refreshes if r['ok']):.1f} s of refreshing in {elapsed:.1f} s); reader: "
        f"{stats['iterations']} iterations, saw A {stats['seen']['A']} times and B {stats['seen']['B']} times, "
        f"{stats['switches']} switches, {len(stats['refresh_ids'])} distinct refreshes, "
        f"{stats['n_mixes']} mixes, {stats['n_errors']} errors, "
        f"{stats['n_swap_races']} plain-client opens failed as a swap landed"
    )
    assert not failed, f"a refresh failed while a reader read: {failed}"
    assert stats["errors"] == [], f"the reader failed: {stats['errors']}"
    assert stats["mixes"] == [], f"the reader saw a mix of publishes: {stats['mixes']}"
    # One reader opening one connection at a time meets each swap at most once.
    assert stats["n_swap_races"] <= N_REFRESHES, stats["swap_races"]
    assert len(refreshes) == N_REFRESHES
    assert stats["iterations"] >= 50, "the reader hardly ran; the test proved little"
    assert stats["seen"]["A"] > 0
    assert stats["seen"]["B"] > 0
    assert stats["switches"] >= 2, "the reader never saw the publish change"
    # Nothing lost: every publish is recorded, in order, in the final file.
    snap = snapshot(db)
    recorded = [r[0] for r in snap.refreshes]
    assert recorded[-N_REFRESHES:] == [r["refresh_id"] for r in refreshes]


def test_a_writer_holding_the_file_makes_a_refresh_fail_clearly(tmp_path: Path, sets: tuple[Path, Path]) -> None:
    src_a, src_b = sets
    db = tmp_path / "cdmo.duckdb"
    pipeline.refresh(src_a, Warehouse(db))
    before = snapshot(db)
    holder, pid, _ = start_holder(db, "rw", tmp_path)
    steps: dict[str, float] = {}
    try:
        with pytest.raises(WarehouseBusyError) as caught:
            refresh_with_steps(
                src_b, Warehouse(db, lock_timeout=LOCK_TIMEOUT), lambda s: steps.setdefault(s, time.monotonic())
            )
        waited = time.monotonic() - steps["read_history"]  # the step that opens the published file
    finally:
        release(holder)
    message = str(caught.value)
    print(f"\nrefresh refused after waiting {waited:.1f} s (lock_timeout {LOCK_TIMEOUT} s): {message}")
    assert "\n" not in message
    assert "Traceback" not in message
    assert f"PID {pid}" in message, message
    assert "held open for writing" in message
    assert LOCK_TIMEOUT <= waited < LOCK_TIMEOUT + 5, waited  # bounded: the timeout, plus a last retry
    after = snapshot(db)
    assert after.digests == before.digests, "a refused refresh changed the published tables"
    # The holder let go: the next refresh goes through.
    receipt = pipeline.refresh(src_b, Warehouse(db, lock_timeout=LOCK_TIMEOUT))
    assert _latest(db) == receipt.refresh_id


def test_cli_fails_with_one_error_line_when_the_file_is_held(tmp_path: Path, sets: tuple[Path, Path]) -> None:
    src_a, _ = sets
    db = tmp_path / "cdmo.duckdb"
    pipeline.refresh(src_a, Warehouse(db))
    before = snapshot(db)
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        **os.environ,
        "CDMO_SOURCES_DIR": str(src_a),
        "CDMO_DUCKDB_PATH": str(db),
        "CDMO_REPORTS_DIR": str(tmp_path / "reports"),
        "DAGSTER_HOME": str(home),
        "CDMO_LOCK_TIMEOUT": str(LOCK_TIMEOUT),
    }
    env.pop("CDMO_DEBUG", None)
    holder, pid, _ = start_holder(db, "rw", tmp_path)
    try:
        runs = {
            name: subprocess.run([str(CLI), *args], env=env, capture_output=True, text=True, timeout=300)
            for name, args in (("sql", ["sql", "SELECT 1"]), ("refresh", ["refresh", "--quiet"]))
        }
    finally:
        release(holder)
    for name, run in runs.items():
        print(f"\ncdmo {name}: exit {run.returncode}; stderr:\n{run.stderr}")
        assert run.returncode != 0
        assert "Traceback" not in run.stderr + run.stdout
        errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, run.stderr
        assert run.stderr.splitlines()[0] == errors[0], "the error line comes first"
        assert f"PID {pid}" in errors[0]
    assert snapshot(db).digests == before.digests
    ok = subprocess.run([str(CLI), "sql", "SELECT count(*) AS n FROM claims", "--csv"], env=env, capture_output=True)
    assert ok.returncode == 0, ok.stderr


def test_a_read_only_reader_in_another_process_does_not_block_a_refresh(
    tmp_path: Path, sets: tuple[Path, Path]
) -> None:
    src_a, src_b = sets
    db = tmp_path / "cdmo.duckdb"
    first = pipeline.refresh(src_a, Warehouse(db))
    reader, _, seen = start_holder(db, "ro", tmp_path)
    try:
        assert seen == first.refresh_id
        started = time.monotonic()
        second = pipeline.refresh(src_b, Warehouse(db, lock_timeout=LOCK_TIMEOUT))
        took = time.monotonic() - started
        reader.send("read")
        _, line = reader.wait_for("read")
        assert line.split()[1] == first.refresh_id, "an open read-only connection must keep its snapshot"
        reader.send("reconnect")
        _, line = reader.wait_for("reconnected")
        assert line.split()[1] == second.refresh_id, "a new connection must see the new publish"
    finally:
        release(reader)
    print(f"\nrefreshed in {took:.1f} s (lock_timeout {LOCK_TIMEOUT} s) while a read-only reader held the file")
    assert _latest(db) == second.refresh_id


def test_a_read_only_connection_in_the_refreshing_process_does_not_break_a_refresh(
    tmp_path: Path, sets: tuple[Path, Path]
) -> None:
    """A notebook that keeps a read-only connection open and calls ``pipeline.refresh``.

    The refresh must publish and say so; the open connection keeps its snapshot; and the
    refresh records of every publish survive.
    """
    src_a, src_b = sets
    db = tmp_path / "cdmo.duckdb"
    first = pipeline.refresh(src_a, Warehouse(db))
    con = duckdb.connect(str(db), read_only=True)
    outcomes = []
    try:
        for src in (src_b, src_a):
            try:
                outcomes.append(pipeline.refresh(src, Warehouse(db, lock_timeout=LOCK_TIMEOUT)).refresh_id)
            except Exception as exc:
                outcomes.append(f"{type(exc).__name__}: {exc}")
        (held,) = con.execute("SELECT max(refresh_id) FROM refreshes").fetchone()
    finally:
        con.close()
    recorded = [r[0] for r in snapshot(db).refreshes]
    print(f"\nrefreshes with a read-only connection open in the same process: {outcomes}; recorded {recorded}")
    assert held == first.refresh_id
    failures = [o for o in outcomes if " " in o]
    assert not failures, (
        "LIBRARY BUG: with a read-only connection to the warehouse open in the same process, "
        "DuckDB's per-process instance cache hands Warehouse._verify/_history the OLD snapshot: "
        f"the refresh publishes, then reports failure ('nothing was published'): {failures}"
    )
    assert len(recorded) == 3, f"LIBRARY BUG: refresh records lost: {recorded}"
