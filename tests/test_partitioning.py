"""Per-source partitions give the same tables as the whole corpus at once (issue 6)."""

import dataclasses
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from cdmo_pipeline import pipeline, synth
from cdmo_pipeline.core import sources as sources_module
from cdmo_pipeline.core.errors import SourceValidationError
from cdmo_pipeline.core.source_format import BULK_COLUMNS
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
    # Every synthetic source (20 claims) is a chunk of its own.
    parts = pipeline.run(sources, Warehouse(tmp_path / "parts.duckdb"), chunk_claims=synth.CLAIMS_PER_SOURCE)
    in_memory = pipeline.prepare(sources)
    memory = Warehouse(tmp_path / "memory.duckdb").publish(in_memory.tables, sources=in_memory.tables["sources"])
    assert whole.receipt.row_counts == parts.receipt.row_counts == memory.row_counts
    assert whole.receipt.table_hashes == parts.receipt.table_hashes == memory.table_hashes
    for table in TABLE_NAMES:  # the hashes agree; so do the rows themselves
        assert _rows(tmp_path / "whole.duckdb", table) == _rows(tmp_path / "parts.duckdb", table), table
    assert whole.receipt.row_counts["claims"] > 3_000


# One source of eight claims over three market families, in file order:
#   a: a, a-seg (parent a), a-seg-x (parent a-seg);  b: b, b-seg (parent b);  c: c.
BIG = [("c0", "a-seg", "a"), ("c1", "b", ""), ("c2", "a", ""), ("c3", "c", ""),
       ("c4", "b-seg", "b"), ("c5", "a-seg-x", "a-seg"), ("c6", "c", ""), ("c7", "b", "")]  # fmt: skip


def _big_source(directory: Path, claims: list[tuple[str, str, str]], small: int = 0) -> Path:
    """One bulk file: the source ``big`` with ``claims``, then ``small`` claims of ``small``."""
    rows = [("big", claim, market, parent) for claim, market, parent in claims]
    rows += [("small", f"s{i}", "c", "") for i in range(small)]
    frame = pd.DataFrame(
        [
            [source, source.title(), "Pub", "2024", claim, "trajectory", market, parent, "USD",
             "2024", "10", "billion", "", "2030", "15", "billion", "", "", "", ""]
            for source, claim, market, parent in rows
        ],
        columns=list(BULK_COLUMNS),
    )  # fmt: skip
    directory.mkdir(parents=True, exist_ok=True)
    frame.to_csv(directory / "all.claims.csv", index=False)
    return directory


@pytest.mark.parametrize(
    ("max_claims", "expected"),
    [
        # Each family whole, in order of its first row; rows in file order within one.
        (3, [["c0", "c2", "c5"], ["c1", "c4", "c7"], ["c3", "c6"], ["s0", "s1"]]),
        # Pieces gathered up to the chunk size, never past it.
        (5, [["c0", "c2", "c5"], ["c1", "c4", "c7", "c3", "c6"], ["s0", "s1"]]),
        # A family larger than a chunk stays whole.
        (2, [["c0", "c2", "c5"], ["c1", "c4", "c7"], ["c3", "c6"], ["s0", "s1"]]),
        # A source that fits is not reordered.
        (8, [["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"], ["s0", "s1"]]),
        (10, [["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "s0", "s1"]]),
    ],
)
def test_a_source_larger_than_a_chunk_is_cut_between_market_families(tmp_path, max_claims, expected) -> None:
    plan = sources_module.plan(_big_source(tmp_path / "s", BIG, small=2))
    chunks = [raw.claims["claim"].tolist() for raw in plan.chunks(max_claims)]
    assert chunks == expected


def test_a_repeated_claim_id_in_a_cut_source_is_still_named_at_every_line(tmp_path) -> None:
    # c1 is repeated in family c (line 8): both rows go to one chunk, so both are named.
    claims = [*BIG[:6], ("c1", "c", ""), BIG[7]]
    directory = _big_source(tmp_path / "s", claims)
    chunks = [raw.claims["claim"].tolist() for raw in sources_module.plan(directory).chunks(3)]
    assert chunks == [["c0", "c2", "c5"], ["c4", "c7", "c3"], ["c1", "c1"]]
    with pytest.raises(SourceValidationError) as err:
        pipeline.run(directory, Warehouse(tmp_path / "w.duckdb"), chunk_claims=3)
    assert [str(i) for i in err.value.issues] == [
        f"all.claims.csv:{line}: claim 'c1', field 'claim_id': claim id is used more than once in this source"
        for line in (3, 8)
    ]


def test_one_source_cut_in_chunks_gives_the_same_tables_as_one_chunk(tmp_path) -> None:
    """A corpus written as one source (memory must not follow the size of a source): cut
    between market families, every table equals the one built from a single chunk."""
    corpus = synth.generate(4_000, seed=11)  # 10 families of 3 to 6 markets
    one = corpus.claims.assign(
        claim_id=corpus.claims["source_id"] + "-" + corpus.claims["claim_id"],
        source_id="one-report",
        source_title="One report",
        source_publisher="Pub",
        source_published="2019",  # the earliest: every `current` start is before its end
    )
    sources = tmp_path / "sources"
    synth.write(dataclasses.replace(corpus, claims=one), sources)
    steps: list[str] = []
    whole = pipeline.run(sources, Warehouse(tmp_path / "whole.duckdb"), chunk_claims=10**9)
    parts = pipeline.run(sources, Warehouse(tmp_path / "parts.duckdb"), chunk_claims=250, on_step=steps.append)
    # Every family holds more than 250 claims: a chunk each, in order of first row.
    family = one["market"].str.replace(r"-seg-\d+$", "", regex=True)
    assert [s for s in steps if s.startswith("chunk ")] == [
        f"chunk {i}: {n:,} claims" for i, n in enumerate(family.value_counts(sort=False), start=1)
    ]
    assert whole.receipt.row_counts == parts.receipt.row_counts
    assert whole.receipt.row_counts["segment_shares"] > 100  # segments met their parents in every chunk
    for table in TABLE_NAMES:
        assert _rows(tmp_path / "whole.duckdb", table) == _rows(tmp_path / "parts.duckdb", table), table


def _rows_of(source: str, claims: list[tuple[str, str, str]], published: str = "2024") -> list[list[str]]:
    return [
        [source, source.title(), "Pub", published, claim, "trajectory", market, parent, "USD",
         "2024", "10" if parent else "40", "billion", "", "2030", "15" if parent else "60", "billion", "", "", "", ""]
        for claim, market, parent in claims
    ]  # fmt: skip


def _write(path: Path, rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=list(BULK_COLUMNS)).to_csv(path, index=False)


def test_a_source_running_on_into_the_next_file_is_one_source(tmp_path) -> None:
    """A corpus cut in files by row count: the source ``x`` starts in one file and ends in
    the next (a Parquet one), and is still one source, whole in one chunk."""
    directory = tmp_path / "s"
    _write(directory / "part-1.claims.csv", _rows_of("w", [("w1", "c", "")]) + _rows_of("x", [("x1", "a-seg", "a")]))
    rest = pd.DataFrame(_rows_of("x", [("x2", "a", "")]) + _rows_of("y", [("y1", "c", "")]), columns=list(BULK_COLUMNS))
    rest.to_parquet(directory / "part-2.claims.parquet", index=False)
    chunks = [raw.claims["claim"].tolist() for raw in sources_module.plan(directory).chunks(1)]
    assert sorted(chunks) == [["w1"], ["x1", "x2"], ["y1"]]
    outcome = pipeline.run(directory, Warehouse(tmp_path / "w.duckdb"), chunk_claims=1)
    assert outcome.receipt.row_counts["sources"] == 3
    db = tmp_path / "w.duckdb"
    assert _query(db, "SELECT source_id, n_claims, file FROM sources ORDER BY 1") == [
        ("w", 1, "part-1.claims.csv"), ("x", 2, "part-1.claims.csv"), ("y", 1, "part-2.claims.parquet"),
    ]  # fmt: skip
    assert _query(db, "SELECT claim_id, file FROM claims WHERE source_id = 'x' ORDER BY 1") == [
        ("x/x1", "part-1.claims.csv"), ("x/x2", "part-2.claims.parquet"),
    ]  # fmt: skip
    # The segment (first file) met its parent (second file): 10 of 40, then 15 of 60.
    shares = _query(db, "SELECT year, share_central FROM segment_shares WHERE source_id = 'x' ORDER BY 1")
    assert [(y, round(v, 9)) for y, v in shares] == [(y, 25.0) for y in range(2024, 2031)]


@pytest.mark.parametrize(
    ("second", "expected"),
    [
        # The same claim id in both files: both rows named.
        (_rows_of("x", [("x1", "c", "")]),
         [("part-1.claims.csv", 2, "claim_id"), ("part-2.claims.csv", 2, "claim_id")]),
        # The files disagree on the source's published date: both rows named, and the field.
        (_rows_of("x", [("x2", "c", "")], published="2023"),
         [("part-1.claims.csv", 2, "source_published"), ("part-2.claims.csv", 2, "source_published")]),
    ],
)  # fmt: skip
def test_a_source_across_files_must_agree_with_itself(tmp_path, second, expected) -> None:
    directory = tmp_path / "s"
    _write(directory / "part-1.claims.csv", _rows_of("x", [("x1", "a", "")]))
    _write(directory / "part-2.claims.csv", second)
    with pytest.raises(SourceValidationError) as err:
        pipeline.run(directory, Warehouse(tmp_path / "w.duckdb"), chunk_claims=1)
    assert [(i.file, i.line, i.field) for i in err.value.issues] == expected


def test_a_yaml_source_id_reused_by_a_table_is_refused(tmp_path) -> None:
    directory = tmp_path / "s"
    shutil.copytree(ROOT / "data" / "sources", directory)
    _write(directory / "more.claims.csv", _rows_of("cdmo-article-2025", [("x1", "global-cdmo", "")]))
    with pytest.raises(SourceValidationError) as err:
        pipeline.run(directory, Warehouse(tmp_path / "w.duckdb"))
    assert any("source id 'cdmo-article-2025' is used by several files" in str(i) for i in err.value.issues)


def _query(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _chunks(directory: Path) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    return [(c.claims, c.figures) for c in sources_module.plan(directory).chunks(500)]


def test_the_plan_keeps_repeated_text_coded_and_hands_out_chunks_as_written(tmp_path, monkeypatch) -> None:
    synth.write(synth.generate(3_000, seed=3), tmp_path / "bulk", fmt="parquet")
    plan = sources_module.plan(tmp_path / "bulk")
    schema = plan.reader.bulk[0].table.schema
    # Repeated text is coded in the narrowest integers holding its values; ids stay as read.
    assert str(schema.field("currency").type) == "dictionary<values=string, indices=int8, ordered=0>"
    assert str(schema.field("claim_id").type) == "string"
    coded_bytes = sum(b.table.nbytes for b in plan.reader.bulk)
    coded = _chunks(tmp_path / "bulk")

    monkeypatch.setattr(sources_module, "_coded", lambda table: table)
    plain_bytes = sum(b.table.nbytes for b in sources_module.plan(tmp_path / "bulk").reader.bulk)
    plain = _chunks(tmp_path / "bulk")
    assert coded_bytes < 0.6 * plain_bytes
    # The same chunks, every column of the same type and value, as if never coded.
    assert len(coded) == len(plain) > 1
    for (claims, figures), (claims_plain, figures_plain) in zip(coded, plain, strict=True):
        pd.testing.assert_frame_equal(claims, claims_plain)
        pd.testing.assert_frame_equal(figures, figures_plain)


def test_a_column_in_several_arrow_chunks_is_coded_chunk_by_chunk() -> None:
    # A large file's column comes in chunks (and may hold more text than one array can).
    parts = [pa.array(["2024", "2030", "2024"]), pa.array(["2030", "2031", ""]), pa.array(["2024"] * 3)]
    table = pa.table({"end_year": pa.chunked_array(parts), "claim_id": pa.array([f"c{i}" for i in range(9)])})
    coded = sources_module._coded(table)
    assert str(coded.schema.field("end_year").type) == "dictionary<values=string, indices=int8, ordered=0>"
    assert coded.column("end_year").num_chunks == 3
    assert sources_module._plain(coded).equals(table)
