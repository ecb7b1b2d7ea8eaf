"""The benchmark's own tools, tested like the product: the hardware floor (``bench/floor.py``,
plain DuckDB SQL) does the refresh's work, no more and no less: on the same corpus it reaches
the same verdict for every claim and writes the same projection rows (bases endpoints and
stated_cagr), whichever form the bulk tables take. A floor doing less would make the ratio
unfair to the refresh; one doing more would flatter it. ``bench.shapes`` keeps the claims."""

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from bench import floor, shapes
from cdmo_pipeline import synth
from cdmo_pipeline.core.tables import build

N_CLAIMS = 1_500


def _write(directory: Path, shape: str) -> None:
    corpus = synth.generate(N_CLAIMS, seed=3)
    if shape == "periods-past-values":
        # A CAGR period reaching a year past the values on each side (every fifth claim that
        # states both years and a CAGR): the stated CAGR's path covers it, in both.
        c = corpus.claims
        year = r"^\d{4}$"
        pick = c["start_year"].str.match(year) & c["end_year"].str.match(year) & c["cagr"].ne("")
        pick &= np.arange(len(c)) % 5 == 0
        c.loc[pick, "cagr_from"] = (c.loc[pick, "start_year"].astype(int) - 1).astype(str)
        c.loc[pick, "cagr_to"] = (c.loc[pick, "end_year"].astype(int) + 1).astype(str)
        assert pick.sum() > 50
        synth.write(corpus, directory, "csv")
        return
    if shape in ("csv", "parquet"):
        synth.write(corpus, directory, shape)
        return
    # One file in a subdirectory, without the optional point columns (DESIGN §3's minimum).
    for path in synth.write(corpus, directory, "csv"):  # markets.yaml stays
        path.unlink()
    frame = corpus.claims.drop(columns=[c for c in corpus.claims.columns if c.startswith("point_")])
    (directory / "more").mkdir()
    table = pa.Table.from_pandas(frame.astype(str), preserve_index=False)
    pacsv.write_csv(table, directory / "more" / "all.claims.csv")


@pytest.mark.parametrize("shape", ["csv", "parquet", "one-file-no-points", "periods-past-values"])
def test_the_floor_checks_and_projects_as_the_refresh_does(tmp_path: Path, shape: str) -> None:
    sources = tmp_path / "s"
    sources.mkdir()
    _write(sources, shape)
    tables = build(sources)
    counts = floor.run(sources, tmp_path / "floor.duckdb")
    con = duckdb.connect(str(tmp_path / "floor.duckdb"), read_only=True)
    try:
        checks = con.sql("SELECT claim_id, verdict FROM cagr_checks").df()
        rows = con.sql("SELECT claim_id, year, basis, central, low, high FROM projections").df()
    finally:
        con.close()

    assert counts["rows_cagr_checks"] == N_CLAIMS
    ours = dict(zip(tables.cagr_checks["claim_id"].astype(str), tables.cagr_checks["verdict"].astype(str), strict=True))
    theirs = dict(zip(checks["claim_id"], checks["verdict"], strict=True))
    assert set(ours.values()) == {"consistent", "inconsistent", "unverifiable"}  # each kind exercised
    assert ours == theirs

    keys = ["claim_id", "year", "basis"]
    projected = tables.projections.loc[tables.projections["basis"].isin(["endpoints", "stated_cagr"])]
    projected = projected[[*keys, "central", "low", "high"]].astype({"claim_id": str, "basis": str})
    merged = projected.merge(rows, on=keys, how="outer", suffixes=("", "_floor"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged["_merge"].value_counts()
    assert len(merged) > 10 * N_CLAIMS
    for column in ("central", "low", "high"):
        np.testing.assert_allclose(merged[column], merged[f"{column}_floor"], rtol=1e-12)


def test_the_bench_shapes_hold_the_same_claims(tmp_path: Path) -> None:
    """``bench.shapes`` rewrites a corpus in other shapes: one CSV file, one Parquet file and
    files cut by row count check exactly as the original; re-sourced, every four claims form a
    source, or all of them one."""
    synth.write(synth.generate(200, seed=4), tmp_path / "synth")
    made = {p.name: p for p in shapes.write(tmp_path / "synth", tmp_path / "shapes")}
    assert set(made) == {"one-csv-file", "one-parquet-file", "many-sources", "one-source", "cut-by-rows"}
    original = build(tmp_path / "synth").cagr_checks
    for name in ("one-csv-file", "one-parquet-file", "cut-by-rows"):
        checks = build(made[name]).cagr_checks
        pd.testing.assert_frame_equal(checks, original, check_dtype=False)
    # 200 claims in files of 67 rows: sources of 20 claims run on from one file into the next.
    parts = sorted(made["cut-by-rows"].glob("*.claims.csv"))
    assert [len(pd.read_csv(p)) for p in parts] == [67, 67, 66]
    assert pd.read_csv(parts[0])["source_id"].iat[-1] == pd.read_csv(parts[1])["source_id"].iat[0]
    one = build(made["one-source"])
    assert one.sources["n_claims"].tolist() == [200]
    assert sorted(one.cagr_checks["verdict"].astype(str)) == sorted(original["verdict"].astype(str))
    many = build(made["many-sources"])
    assert len(many.sources) == 50
    assert set(many.sources["n_claims"]) == {4}
    assert sorted(many.cagr_checks["verdict"].astype(str)) == sorted(original["verdict"].astype(str))


def test_the_shape_floor_is_the_refresh_jobs_own_graph() -> None:
    """The Dagster-shape floor (``bench.child.shape_definitions``) plans exactly the assets and
    checks of the real ``refresh`` job, so its time is that graph's bookkeeping, and it runs."""
    import dagster as dg

    from bench.child import shape_definitions
    from cdmo_pipeline.definitions import defs

    real, shape = defs.resolve_job_def("refresh"), shape_definitions().resolve_job_def("refresh")
    assert shape.asset_layer.executable_asset_keys == real.asset_layer.executable_asset_keys
    assert set(shape.asset_layer.asset_graph.asset_check_keys) == set(real.asset_layer.asset_graph.asset_check_keys)
    assert len(real.asset_layer.executable_asset_keys) == 13
    result = shape.execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert result.success
    assert len(result.get_asset_materialization_events()) == 13
    assert len(result.get_asset_check_evaluations()) == len(real.asset_layer.asset_graph.asset_check_keys) == 14
