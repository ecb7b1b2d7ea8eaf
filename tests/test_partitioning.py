"""Per-source partitions give the same tables as the whole corpus at once (issue 6)."""

import shutil
from pathlib import Path

import duckdb

from cdmo_pipeline import pipeline, synth
from cdmo_pipeline.core.tables import TABLE_NAMES
from cdmo_pipeline.warehouse import Warehouse
from tests.conftest import ROOT


def _rows(db: Path, table: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
    finally:
        con.close()


def test_source_by_source_equals_all_at_once(tmp_path) -> None:
    sources = tmp_path / "sources"
    shutil.copytree(ROOT / "data" / "sources", sources)
    # A bulk corpus beside the article and the reports, with its own markets.yaml.
    synth.write(synth.generate(3_000, seed=7), sources / "synthetic")
    whole = pipeline.run(sources, Warehouse(tmp_path / "whole.duckdb"), chunk_claims=10**9)
    parts = pipeline.run(sources, Warehouse(tmp_path / "parts.duckdb"), chunk_claims=1)
    in_memory = pipeline.prepare(sources)
    memory = Warehouse(tmp_path / "memory.duckdb").publish(in_memory.tables, sources=in_memory.tables["sources"])
    assert whole.receipt.row_counts == parts.receipt.row_counts == memory.row_counts
    assert whole.receipt.table_hashes == parts.receipt.table_hashes == memory.table_hashes
    for table in TABLE_NAMES:  # the hashes agree; so do the rows themselves
        assert _rows(tmp_path / "whole.duckdb", table) == _rows(tmp_path / "parts.duckdb", table), table
    assert whole.receipt.row_counts["claims"] > 3_000
