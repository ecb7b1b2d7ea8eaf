"""Opening the warehouse at the instant a refresh swaps a new snapshot in (DESIGN §7).

DuckDB opens a database file by name twice while attaching it: once to read its headers,
once to read its catalog (seen with strace: two ``openat`` of the path). A swap landing
between the two pairs one snapshot's header with the other's blocks, and the open fails
(``Serialization Error: field id mismatch``, ``Metadata block index … exceeds``). The library's
reader notices that the file under the name changed while it opened it, and opens again.

    .venv/bin/python -m pytest tests/test_readers.py -q -s
"""

import multiprocessing as mp
import os
import shutil
import time
from multiprocessing.synchronize import Event
from pathlib import Path

import duckdb
import pytest

from cdmo_pipeline.core.errors import CdmoError
from cdmo_pipeline.warehouse import Warehouse

# Two snapshots of one schema, told apart by their row counts; `u` repeats `t`'s count, so a
# read that mixed them would show two different counts.
ROWS = {"a": 20_000, "b": 60_000}


def _snapshot(path: Path, n: int) -> Path:
    con = duckdb.connect(str(path))
    for k in range(8):  # several tables: the catalog spans more than one metadata block
        con.execute(f"CREATE TABLE t{k} AS SELECT range AS i, 'x' || range AS s FROM range({n})")
    con.execute(f"CREATE TABLE u AS SELECT {n}::BIGINT AS n")
    con.close()
    return path


@pytest.fixture
def snapshots(tmp_path: Path) -> dict[str, Path]:
    return {name: _snapshot(tmp_path / f"{name}.duckdb", n) for name, n in ROWS.items()}


def _install(source: Path, target: Path) -> None:
    """A refresh's swap: a complete copy beside the target, renamed over it."""
    staged = target.with_name(target.name + ".next")
    shutil.copyfile(source, staged)
    os.replace(staged, target)


def _read(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    return con.execute("SELECT (SELECT count(*) FROM t7), (SELECT n FROM u)").fetchone()


# Must not fail: a swap during the open ---------------------------------------------------


@pytest.mark.parametrize(
    "first_open",
    [
        "succeeds",  # the connection holds A while B lands under the name: it must be discarded
        "fails",  # what DuckDB raised in CI when the swap fell between its two opens: retried
    ],
)
def test_an_open_during_which_a_swap_lands_is_opened_again_on_the_new_snapshot(
    first_open: str, snapshots: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "cdmo.duckdb"
    _install(snapshots["a"], db)
    real, calls = Warehouse._attach, []

    def swap_on_first_open(path: Path) -> duckdb.DuckDBPyConnection:
        calls.append(path)
        if len(calls) > 1:
            return real(path)
        con = real(path) if first_open == "succeeds" else None
        _install(snapshots["b"], db)
        if con is None:
            raise duckdb.SerializationException("Failed to deserialize: field id mismatch, expected: 100, got: 0")
        return con

    monkeypatch.setattr(Warehouse, "_attach", staticmethod(swap_on_first_open))
    with Warehouse(db).reader() as con:
        assert _read(con) == (ROWS["b"], ROWS["b"])
    assert len(calls) == 2


# Must fail: a broken file is not a swap ---------------------------------------------------


def test_a_broken_file_is_a_clear_error_not_a_retry_loop(tmp_path: Path) -> None:
    db = tmp_path / "cdmo.duckdb"
    db.write_bytes(b"not a database" * 1000)
    started = time.monotonic()
    with pytest.raises(CdmoError, match=rf"cannot open the warehouse {db}"):
        Warehouse(db, lock_timeout=30).reader().__enter__()
    assert time.monotonic() - started < 10  # failed at once, did not wait out lock_timeout


# Under load: a file swapped every few milliseconds ----------------------------------------


def _swap_forever(sources: list[str], target: str, started: "Event", stop: "Event") -> None:
    i = 0
    while not stop.is_set():
        _install(Path(sources[i % 2]), Path(target))
        started.set()
        i += 1
        # Four swaps a second: far more often than refreshes can publish (each takes seconds),
        # so many opens (~40 ms each) straddle a swap, yet a slow open (a loaded CI machine)
        # still fits between two.
        time.sleep(0.25)


@pytest.mark.slow
def test_library_readers_never_fail_while_the_file_is_swapped_again_and_again(
    snapshots: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "cdmo.duckdb"
    _install(snapshots["a"], db)
    real, attaches = Warehouse._attach, []
    monkeypatch.setattr(Warehouse, "_attach", staticmethod(lambda path: attaches.append(1) or real(path)))
    spawn = mp.get_context("spawn")
    started, stop = spawn.Event(), spawn.Event()
    swapper = spawn.Process(
        target=_swap_forever, args=([str(snapshots["a"]), str(snapshots["b"])], str(db), started, stop)
    )
    swapper.start()
    assert started.wait(timeout=60), "the swapper process did not start"
    seen = {"a": 0, "b": 0}
    library_errors: list[str] = []
    plain_errors: list[str] = []
    try:
        for _ in range(400):
            try:
                with Warehouse(db).reader() as con:
                    counts = _read(con)
                assert counts[0] == counts[1], f"one read mixed two snapshots: {counts}"
                seen["a" if counts[0] == ROWS["a"] else "b"] += 1
            except CdmoError as exc:
                library_errors.append(str(exc))
            try:  # the same open by a plain DuckDB client, for comparison
                plain = duckdb.connect(str(db), read_only=True)
                plain.close()
            except duckdb.Error as exc:
                plain_errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        stop.set()
        swapper.join(timeout=30)
    opens = seen["a"] + seen["b"]
    print(
        f"\nlibrary reader: {seen}, {len(attaches) - opens} opens straddled a swap and were retried, "
        f"{len(library_errors)} errors; plain client: {len(plain_errors)} failed opens"
    )
    for error in plain_errors[:3]:
        print("  plain:", error[:160])
    assert library_errors == []
    assert seen["a"] and seen["b"], "the swapper never swapped: the test did not test anything"
    assert len(attaches) > opens, "no open straddled a swap: the race was not exercised"
