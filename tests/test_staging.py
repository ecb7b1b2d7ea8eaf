"""Staging on a writer thread: DuckDB writes one chunk while the refresh builds the next.

A write that fails on that thread must still fail the refresh by the table's name and publish
nothing; the rows held for the writer stay bounded; the thread never outlives the refresh.
"""

import threading
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from cdmo_pipeline import pipeline, warehouse
from cdmo_pipeline.core.errors import AuditError
from cdmo_pipeline.warehouse import Snapshot, Warehouse
from tests.conftest import source_doc, trajectory, value

CLAIMS = [
    trajectory("g", [value("2025", "255"), value("2032", "465", qualifier="over")], "9", market="global-cdmo"),
    trajectory("b", [value("2025", "30"), value("2032", "72")], market="biologics-cdmo"),
]


@pytest.fixture
def corpus(write_sources: Callable[..., Path]) -> Path:
    docs = {f"{s}.yaml": source_doc(CLAIMS, source_id=s) for s in ("a", "b", "c")}
    return write_sources(docs)


def _staging_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("cdmo-staging")]


def test_a_write_failing_on_the_writer_thread_fails_the_refresh_and_publishes_nothing(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "w.duckdb"
    before = pipeline.refresh(corpus, Warehouse(db))
    real = Snapshot._insert
    calls: list[str] = []

    def failing(self: Snapshot, spec: warehouse.TableSpec, frame: object) -> None:
        calls.append(spec.name)
        if spec.name == "_staged_projections" and calls.count(spec.name) == 2:
            raise duckdb.IOException("No space left on device")
        real(self, spec, frame)  # type: ignore[arg-type]

    monkeypatch.setattr(Snapshot, "_insert", failing)
    with pytest.raises(AuditError, match=r"staging table projections failed: .*No space left on device"):
        pipeline.run(corpus, Warehouse(db), chunk_claims=2)  # one source a chunk: three chunks
    assert calls.count("_staged_projections") == 2
    assert Warehouse(db).latest_refresh()["refresh_id"] == before.refresh_id
    assert list(tmp_path.glob(".w.duckdb.*")) == []  # the candidate is removed
    assert _staging_threads() == []


def test_rows_held_for_the_writer_are_bounded(corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # With no room, every write waits for the one before: at most one is ever queued.
    monkeypatch.setattr(warehouse, "MAX_PENDING_BYTES", 0)
    real = Snapshot._submit
    queued: list[int] = []

    def watched(self: Snapshot, *args: object) -> None:
        real(self, *args)  # type: ignore[arg-type]
        queued.append(len(self._pending))

    monkeypatch.setattr(Snapshot, "_submit", watched)
    receipt = pipeline.refresh(corpus, Warehouse(tmp_path / "w.duckdb"), chunk_claims=2)
    assert max(queued) == 1
    assert len(queued) > 10  # every table's creation and every chunk's rows went through it
    # Three sources of two claims each, whatever the queueing.
    assert receipt.row_counts["claims"] == 6
    assert receipt.row_counts["sources"] == 3


def test_the_writer_thread_ends_with_the_snapshot(corpus: Path, tmp_path: Path) -> None:
    wh = Warehouse(tmp_path / "w.duckdb")
    markets = pipeline.prepare(corpus).tables["markets"]
    seen: list[int] = []
    held: list[Snapshot] = []

    def abandoned() -> None:
        with wh.snapshot() as snap:
            held.append(snap)
            snap.append("markets", markets)
            seen.append(len(_staging_threads()))
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        abandoned()
    assert seen == [1]
    assert _staging_threads() == []
    assert not wh.path.exists()
    with pytest.raises(AuditError, match="the snapshot is closed"):
        held[0].append("markets", markets)
