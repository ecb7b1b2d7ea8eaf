"""Memory is handed back after large steps only: a full collection walks every Python object,
which a small refresh (the article) should not pay for."""

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
