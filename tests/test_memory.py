"""Memory is handed back after large steps only: a full collection walks every Python object,
which a small refresh (the article) should not pay for."""

import gc
from pathlib import Path

import pytest

from cdmo_pipeline import pipeline
from cdmo_pipeline.core import memory
from cdmo_pipeline.warehouse import Warehouse
from tests.conftest import ROOT


@pytest.fixture
def collections(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    calls: list[tuple] = []
    monkeypatch.setattr(memory.gc, "collect", lambda *args: calls.append(args) or 0)
    return calls


def test_a_step_below_the_threshold_is_not_collected(collections: list[tuple]) -> None:
    memory.release_memory(memory.RELEASE_MIN_ROWS - 1)
    assert collections == []
    memory.release_memory(memory.RELEASE_MIN_ROWS)
    assert collections == [()]  # a full collection


def test_the_article_refresh_never_collects(collections: list[tuple], tmp_path: Path) -> None:
    receipt = pipeline.refresh(ROOT / "data" / "sources", Warehouse(tmp_path / "w.duckdb"))
    assert receipt.row_counts["claims"] < memory.RELEASE_MIN_ROWS
    assert collections == []


def test_collections_during_a_refresh_leave_out_what_existed_before(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    frozen: list[int] = []
    monkeypatch.setattr(memory.gc, "collect", lambda *args: frozen.append(gc.get_freeze_count()) or 0)
    monkeypatch.setattr(memory, "RELEASE_MIN_ROWS", 0)  # collect after every step, however small
    before = gc.get_freeze_count()
    pipeline.refresh(ROOT / "data" / "sources", Warehouse(tmp_path / "w.duckdb"))
    # Every collection ran with the process's older objects set aside, and they are back after.
    assert frozen and min(frozen) > before + 10_000
    assert gc.get_freeze_count() == before


def test_nested_uses_hand_objects_back_when_the_outermost_ends() -> None:
    before = gc.get_freeze_count()
    with memory.collecting_new_objects_only():
        outer = gc.get_freeze_count()
        with memory.collecting_new_objects_only():
            pass
        assert gc.get_freeze_count() >= outer > before  # the inner use did not unfreeze
    assert gc.get_freeze_count() == before


def test_a_host_programs_own_freeze_is_left_alone() -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with memory.collecting_new_objects_only():
            pass
        assert gc.get_freeze_count() >= frozen > 0
    finally:
        gc.unfreeze()
