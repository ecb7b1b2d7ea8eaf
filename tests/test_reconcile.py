"""Many sources (issue 5): cross-source ranges, origins of the article's claims, editions, bulk tables."""

import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cdmo_pipeline import pipeline
from cdmo_pipeline.core import bulk_schema, reconcile
from cdmo_pipeline.core import sources as sources_module
from cdmo_pipeline.core.errors import SourceValidationError
from cdmo_pipeline.core.source_format import BULK_COLUMNS
from cdmo_pipeline.core.tables import build
from cdmo_pipeline.warehouse import Warehouse
from tests.conftest import ROOT

SOURCES = ROOT / "data" / "sources"


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("w") / "cdmo.duckdb"
    pipeline.refresh(SOURCES, Warehouse(db))
    return db


def sql(db: Path, query: str) -> pd.DataFrame:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(query).df()
    finally:
        con.close()


def test_global_claim_traced_to_fortune_business_insights_2025(published) -> None:
    top = sql(
        published, "SELECT * FROM claim_origins WHERE claim_id = 'cdmo-article-2025/global-cdmo-market' AND rank = 1"
    )
    row = top.iloc[0]
    assert row["matched_source_id"] == "fbi-cdmo-2025"
    assert row["n_parts_matched"] == row["n_parts"] == 3
    assert "255 (2025) as 255.01" in row["explanation"] and "CAGR 9% as 9.0%" in row["explanation"]
    assert not row["combines"]
    assert row["summary"].startswith("traced to Fortune Business Insights (fbi-cdmo-2025)")


def test_biologics_cagr_traced_to_towards_healthcare_whose_path_reaches_69_6(published) -> None:
    top = sql(
        published,
        "SELECT * FROM claim_origins WHERE claim_id = 'cdmo-article-2025/biologics-cdmo-segment' AND rank = 1",
    ).iloc[0]
    assert top["matched_source_id"] == "towards-healthcare-biologics-cdmo-2025"
    assert top["parts_matched"] == "CAGR 15.48%"
    expected = 25.41 * (92.79 / 25.41) ** (7 / 9)  # its endpoints path at 2032
    assert f"{expected:.1f}" == "69.6"
    assert "its own path reaches 69.6 in 2032, not 72" in top["explanation"]


def test_india_claim_combines_sources(published) -> None:
    rows = sql(published, "SELECT * FROM claim_origins WHERE claim_id = 'cdmo-article-2025/india-pharma-industry'")
    assert rows["combines"].all()
    assert rows["summary"].iloc[0].startswith("combines ")
    assert "130 (2030)" in rows["summary"].iloc[0] and "50 (current)" in rows["summary"].iloc[0]


def test_cross_source_ranges_for_the_three_markets(published) -> None:
    summary = sql(published, "SELECT * FROM cross_source_summary WHERE basis = 'stated'")
    assert {"global-cdmo", "biologics-cdmo", "india-pharma"} <= set(summary["market_id"])
    g2025 = sql(
        published,
        "SELECT * FROM cross_source WHERE market_id = 'global-cdmo'"
        " AND year = 2025 AND basis = 'stated' ORDER BY value",
    )
    counted = g2025.loc[g2025["counted"], "value"]
    assert g2025["n_sources"].iloc[0] == counted.size
    assert g2025["median"].iloc[0] == pytest.approx(counted.median())
    assert g2025["spread_pct"].iloc[0] == pytest.approx((counted.max() - counted.min()) / counted.median() * 100)
    art = g2025.set_index("source_id").loc["cdmo-article-2025"]
    assert art["deviation_pct"] == pytest.approx((255 - counted.median()) / counted.median() * 100)
    # A market defined differently is listed against the range, not counted in it.
    techsci = g2025.set_index("source_id").loc["techsci-cdmo-cmo-2026"]
    assert techsci["source_market_id"] == "global-cdmo-cmo" and not techsci["counted"]
    view = sql(
        published, "SELECT * FROM article_vs_publishers WHERE source_id = 'cdmo-article-2025' AND basis = 'stated'"
    )
    assert {"global-cdmo", "biologics-cdmo", "india-pharma"} == set(view["market_id"])


def test_superseded_edition_is_listed_not_counted_and_revisions_show_the_move(published) -> None:
    g2032 = sql(
        published, "SELECT * FROM cross_source WHERE market_id = 'global-cdmo' AND year = 2032 AND basis = 'stated'"
    )
    old = g2032.set_index("source_id").loc["fbi-cdmo-2024"]
    assert old["superseded"] and not old["counted"]
    rev = sql(
        published, "SELECT * FROM revisions WHERE report = 'fbi-102502' AND quantity = 'cagr' ORDER BY edition_no"
    )
    assert rev["literal"].tolist() == ["8.5%", "9.0%"]
    assert rev["change"].iloc[1] == pytest.approx(0.5)
    v2032 = sql(published, "SELECT * FROM revisions WHERE report = 'fbi-102502' AND year = 2032 ORDER BY edition_no")
    assert v2032["change"].iloc[1] == pytest.approx(465.24 - 465.14)


def test_low_confidence_flag_reaches_the_published_tables(published) -> None:
    low = sql(published, "SELECT claim_id FROM claims WHERE confidence = 'low'")
    # The CSV's three low-confidence rows (GCDMO-07, -08, -09), and no others.
    assert set(low["claim_id"]) == {
        "reanin-cdmo-2024/cdmo-market",
        "mgr-cdmo-outsourcing-2025/cdmo-outsourcing-market",
        "mccourier-cdmo-2021/cdmo-market",
    }
    flagged = sql(published, "SELECT DISTINCT source_id FROM cross_source WHERE confidence = 'low'")
    assert set(flagged["source_id"]) <= {"reanin-cdmo-2024", "mgr-cdmo-outsourcing-2025", "mccourier-cdmo-2021"}
    markets = sql(published, "SELECT * FROM markets WHERE relation = 'comparable_to'")
    assert set(markets["related_market_id"]) <= {"global-cdmo", "biologics-cdmo", "india-pharma"}


def _bulk_rows() -> pd.DataFrame:
    rows = [
        ["bulk-a", "Bulk A", "Pub A", "2025", "g1", "trajectory", "global-cdmo", "", "USD",
         "2025", "255.01", "billion", "", "2032", "465.24", "billion", "", "9.0%", "2025", "2032"],
        ["bulk-a", "Bulk A", "Pub A", "2025", "b1", "trajectory", "biologics-cdmo", "global-cdmo", "USD",
         "2024", "211.91", "billion", "", "2030", "336.65", "billion", "", "9.7", "2025", "2030"],
        ["bulk-b", "Bulk B", "Pub B", "2024-06-01", "i1", "trajectory", "india-pharma", "", "USD",
         "current", "50", "billion", "", "2030", "120-130", "billion", "about", "", "", ""],
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=list(BULK_COLUMNS))


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_bulk_tables_feed_the_same_tables(tmp_path, fmt) -> None:
    directory = tmp_path / "s"
    directory.mkdir()
    shutil.copy(SOURCES / "cdmo-article-2025.yaml", directory)
    frame = _bulk_rows()
    if fmt == "csv":
        frame.to_csv(directory / "corpus.claims.csv", index=False)
    else:
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), directory / "corpus.claims.parquet")
    tables = build(directory)
    checks = tables.cagr_checks.set_index("claim_id")
    assert checks.loc["bulk-a/g1", "verdict"] == "consistent"
    assert checks.loc["bulk-a/g1", "implied_cagr"] == pytest.approx(((465.24 / 255.01) ** (1 / 7) - 1) * 100)
    assert checks.loc["bulk-a/b1", "verdict"] == "inconsistent"
    assert checks.loc["bulk-b/i1", "reading"] == "current=2024"
    sources = tables.sources.set_index("source_id")
    assert sources.loc["bulk-a", "file"] == f"corpus.claims.{fmt}"
    assert sources.loc["bulk-a", "n_claims"] == 2
    assert tables.figures.loc[tables.figures["claim_id"] == "bulk-b/i1", "literal"].tolist() == ["50", "120-130"]


def _typed(frame: pd.DataFrame, how: str) -> pa.Table:
    """``frame`` (all text) as a Parquet writer may type it without losing a digit."""
    t = frame.copy()
    if how == "integer years":  # a missing year makes pandas' nullable Int64: Parquet int64 with nulls
        t["end_year"] = t["end_year"].astype("int64")
        t["cagr_from"] = pd.to_numeric(t["cagr_from"]).astype("Int64")
    elif how == "float years with gaps":  # the same in plain pandas: float64, NaN for missing
        t["cagr_to"] = pd.to_numeric(t["cagr_to"])
    elif how == "dictionary strings":
        t = t.astype("category")
    elif how == "date published":
        t["source_published"] = pd.to_datetime(t["source_published"]).dt.date
    if how == "pandas row labels":  # a filtered frame: pandas writes its index as a column
        return pa.Table.from_pandas(t.set_axis([5, 7, 9]))
    table = pa.Table.from_pandas(t, preserve_index=False)
    if how == "large strings":
        table = table.cast(pa.schema([(n, pa.large_string()) for n in table.column_names]))
    if how == "a column of nulls":  # no start qualifier at all: typed null, not string
        at = table.column_names.index("start_qualifier")
        table = table.set_column(at, "start_qualifier", pa.nulls(len(t)))
    return table


@pytest.mark.parametrize(
    "how",
    ["integer years", "float years with gaps", "dictionary strings", "large strings", "date published",
     "a column of nulls", "pandas row labels"],
)  # fmt: skip
def test_typed_parquet_columns_that_keep_the_digits_read_as_the_text_they_hold(tmp_path, how) -> None:
    """Must not flag: a typed column whose text is exact (as YAML takes an unquoted integer)."""
    frame = _bulk_rows()
    frame.loc[1, "start_year"] = "2024"
    if how == "date published":
        frame.loc[:1, "source_published"] = "2025-01-01"
    tables = {}
    for name, table in (("text", pa.Table.from_pandas(frame, preserve_index=False)), ("typed", _typed(frame, how))):
        (tmp_path / name).mkdir()
        pq.write_table(table, tmp_path / name / "corpus.claims.parquet")
        tables[name] = build(tmp_path / name)
    for name in ("sources", "claims", "figures", "cagr_checks", "projections"):
        text, typed = (getattr(tables[t], name).drop(columns="sha256", errors="ignore") for t in ("text", "typed"))
        pd.testing.assert_frame_equal(text, typed)  # the same but for the file's own hash
    assert tables["typed"].cagr_checks.set_index("claim_id").loc["bulk-a/g1", "verdict"] == "consistent"


def test_a_csv_written_with_pandas_row_labels_reads_as_without(tmp_path) -> None:
    """Must not flag: ``DataFrame.to_csv`` writes the row labels as a first, unnamed column."""
    for name, index in (("plain", False), ("labelled", True)):
        (tmp_path / name).mkdir()
        _bulk_rows().set_axis([5, 7, 9]).to_csv(tmp_path / name / "corpus.claims.csv", index=index)
    assert (tmp_path / "labelled" / "corpus.claims.csv").read_text().startswith(",source_id,")
    plain, labelled = build(tmp_path / "plain"), build(tmp_path / "labelled")
    for name in ("claims", "figures", "cagr_checks"):
        pd.testing.assert_frame_equal(getattr(plain, name), getattr(labelled, name))


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        ("end_value", [465.24, 336.65, 130.0], "is stored as double"),  # the digits written are lost
        ("cagr", [True, False, True], "is stored as bool"),
    ],
)
def test_typed_parquet_columns_that_lose_the_text_are_refused_by_name(tmp_path, column, values, message) -> None:
    """Must flag: a typed column whose cells are not the text written."""
    table = pa.Table.from_pandas(_bulk_rows().assign(**{column: values}), preserve_index=False)
    pq.write_table(table, tmp_path / "x.claims.parquet")
    with pytest.raises(SourceValidationError) as err:
        build(tmp_path)
    assert [(i.file, i.field) for i in err.value.issues] == [("x.claims.parquet", column)]
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("column", "values", "written"),
    [("end_year", [2032.0, 2030.5, 2030.0], "2030.5"), ("start_year", [2025.0, float("inf"), 2024.0], "inf")],
)
def test_a_float_year_column_names_each_value_that_is_no_year(tmp_path, column, values, written) -> None:
    """Must flag, by file, line, claim and field: a float year column's value that is no whole
    year. Its whole numbers are years as written (must not flag, the other rows)."""
    table = pa.Table.from_pandas(_bulk_rows().assign(**{column: values}), preserve_index=False)
    pq.write_table(table, tmp_path / "x.claims.parquet")
    with pytest.raises(SourceValidationError) as err:
        build(tmp_path)
    assert [(i.file, i.line, i.claim, i.field) for i in err.value.issues] == [
        ("x.claims.parquet", 2, "b1", column)
    ]  # row 2
    assert f"'{written}' must be a 4-digit year" in str(err.value)


def test_bulk_errors_name_file_row_and_column(tmp_path) -> None:
    directory = tmp_path / "s"
    directory.mkdir()
    frame = _bulk_rows()
    frame.loc[1, "end_value"] = "1,50"
    frame.loc[2, "start_scale"] = "gazillion"
    frame.to_csv(directory / "x.claims.csv", index=False)
    with pytest.raises(SourceValidationError) as err:
        build(directory)
    text = str(err.value)
    assert "x.claims.csv:3: claim 'b1', field 'end_value'" in text
    assert "x.claims.csv:4: claim 'i1', field 'start_scale'" in text


def test_many_small_files_are_checked_together_and_named_apart(tmp_path) -> None:
    """Files with the same columns are format-checked as one frame: each error still names its
    own file and line, and the good files' rows equal one file holding them all."""
    frame = _bulk_rows()
    one, many = tmp_path / "one", tmp_path / "many"
    one.mkdir()
    many.mkdir()
    frame.to_csv(one / "all.claims.csv", index=False)
    frame.iloc[:2].to_csv(many / "a.claims.csv", index=False)
    frame.iloc[2:].to_csv(many / "b.claims.csv", index=False)
    whole, split = build(one), build(many)
    for name in ("claims", "cagr_checks", "projections"):
        left = getattr(whole, name).drop(columns=["file", "line"], errors="ignore")
        right = getattr(split, name).drop(columns=["file", "line"], errors="ignore")
        pd.testing.assert_frame_equal(left.reset_index(drop=True), right.reset_index(drop=True), check_dtype=False)
    assert split.sources.set_index("source_id")["file"].to_dict() == {
        "bulk-a": "a.claims.csv",
        "bulk-b": "b.claims.csv",
    }

    bad_a, bad_b = frame.iloc[:2].copy(), frame.iloc[2:].copy()
    bad_a.loc[1, "end_value"] = "1,50"
    bad_b.loc[2, "start_scale"] = "gazillion"
    bad_a.to_csv(many / "a.claims.csv", index=False)
    bad_b.to_csv(many / "b.claims.csv", index=False)
    with pytest.raises(SourceValidationError) as err:
        build(many)
    text = str(err.value)
    assert "a.claims.csv:3: claim 'b1', field 'end_value'" in text
    assert "b.claims.csv:2: claim 'i1', field 'start_scale'" in text


def _many_rows(n: int) -> pd.DataFrame:
    """``n`` valid claims of two sources whose rows alternate (so they must be regrouped)."""
    rows = []
    for i in range(n):
        source, title, published = ("bulk-a", "Bulk A", "2025") if i % 2 == 0 else ("bulk-b", "Bulk B", "2024")
        rows.append(
            [source, title, "Pub", published, f"c{i}", "trajectory", "global-cdmo", "", "USD",
             "2024", f"{100 + i}", "billion", "", "2030", f"{150 + i}.5", "billion", "", "", "", ""]
        )  # fmt: skip
    return pd.DataFrame(rows, columns=list(BULK_COLUMNS))


@pytest.mark.parametrize("order", ["interleaved", "grouped"])
def test_a_large_file_checked_a_slice_at_a_time_gives_the_same_tables(tmp_path, monkeypatch, order) -> None:
    """A file longer than a format-check batch is checked in slices (memory follows the
    slice): the tables equal those of one check, whether or not its sources come in order."""
    frame = _many_rows(13)
    if order == "grouped":
        frame = frame.sort_values("source_id", kind="stable")
    directory = tmp_path / "s"
    directory.mkdir()
    frame.to_csv(directory / "all.claims.csv", index=False)
    whole = build(directory)
    monkeypatch.setattr(sources_module, "BULK_BATCH_ROWS", 4)
    sliced = build(directory)
    for name in ("sources", "claims", "figures", "cagr_checks", "projections"):
        pd.testing.assert_frame_equal(getattr(whole, name), getattr(sliced, name))
    assert set(sliced.claims["claim_id"]) == {f"bulk-{'a' if i % 2 == 0 else 'b'}/c{i}" for i in range(13)}
    # Regrouped a column at a time, every row's cells still belong together.
    starts = sliced.figures.loc[sliced.figures["role"] == "start"].set_index("claim_id")["literal"]
    ends = sliced.figures.loc[sliced.figures["role"] == "end"].set_index("claim_id")["literal"]
    for i in range(13):
        claim = f"bulk-{'a' if i % 2 == 0 else 'b'}/c{i}"
        assert (starts[claim], ends[claim]) == (str(100 + i), f"{150 + i}.5")


def test_errors_of_a_file_checked_in_slices_name_every_line_once(tmp_path, monkeypatch) -> None:
    frame = _many_rows(13).assign(extra="x")  # an unknown column: found in every slice, said once
    frame.loc[1, "end_value"] = "1,50"  # slice 1 (rows 0-3), line 3
    frame.loc[6, "start_scale"] = "gazillion"  # slice 2, line 8
    frame.loc[12, "cagr"] = "nine"  # slice 4, line 14
    directory = tmp_path / "s"
    directory.mkdir()
    frame.to_csv(directory / "all.claims.csv", index=False)
    monkeypatch.setattr(sources_module, "BULK_BATCH_ROWS", 4)
    with pytest.raises(SourceValidationError) as err:
        build(directory)
    issues = [str(i) for i in err.value.issues]
    assert [i for i in issues if "unknown column" in i] == ["all.claims.csv: source, field 'extra': unknown column"]
    assert any(i.startswith("all.claims.csv:3: claim 'c1', field 'end_value'") for i in issues)
    assert any(i.startswith("all.claims.csv:8: claim 'c6', field 'start_scale'") for i in issues)
    assert any(i.startswith("all.claims.csv:14: claim 'c12', field 'cagr'") for i in issues)
    assert len(issues) == 4

    # The cap on reported cells counts across slices: the first cells, then how many more.
    monkeypatch.setattr(bulk_schema, "MAX_CELL_ISSUES", 2)
    with pytest.raises(SourceValidationError) as err:
        build(directory)
    issues = [str(i) for i in err.value.issues]
    # 7 failing cases: the unknown column once in each of 4 slices, and 3 cells; 2 reported.
    assert [i for i in issues if "more cells" in i] == [
        "all.claims.csv: source: ... and 5 more cells break the table's format"
    ]
    assert len(issues) == 3  # the unknown column, the cell of line 3, and the count


def test_a_removed_source_disappears_from_every_table(tmp_path) -> None:
    directory = tmp_path / "s"
    shutil.copytree(SOURCES, directory)
    db = tmp_path / "w.duckdb"
    pipeline.refresh(directory, Warehouse(db))
    tables = ["sources", "claims", "figures", "cagr_checks", "implied_figures", "projections", "cross_source"]
    before = {t: sql(db, f"SELECT count(*) AS n FROM {t} WHERE source_id = 'virtue-cdmo-2025'")["n"][0] for t in tables}
    assert all(n > 0 for t, n in before.items() if t != "implied_figures")
    (directory / "reference" / "virtue-cdmo-2025.yaml").unlink()
    pipeline.refresh(directory, Warehouse(db))
    for t in tables:
        assert sql(db, f"SELECT count(*) AS n FROM {t} WHERE source_id = 'virtue-cdmo-2025'")["n"][0] == 0, t
    origins = sql(db, "SELECT count(*) AS n FROM claim_origins WHERE matched_source_id = 'virtue-cdmo-2025'")
    assert origins["n"][0] == 0


def test_claim_origins_pairs_only_matching_values_in_batches(monkeypatch) -> None:
    """Tracing a corpus of many articles must not pair every claim of a market with every
    other: only pairs whose value lies in the subject's interval are made, and subject claims
    are traced in batches. Batches of a few pairs give exactly the one-batch table."""
    t = build(SOURCES)
    core = {"sources": t.sources, "markets": t.markets, "claims": t.claims, "figures": t.figures}
    whole = reconcile.claim_origins(core, t.projections)
    assert len(whole) > 5
    seen: list[int] = []
    origins = reconcile._Trace.origins
    monkeypatch.setattr(
        reconcile._Trace, "origins", lambda self, prow, crow: seen.append(len(prow)) or origins(self, prow, crow)
    )
    monkeypatch.setattr(reconcile, "MAX_ORIGIN_PAIRS", 1)  # a subject claim a batch
    batched = reconcile.claim_origins(core, t.projections)
    pd.testing.assert_frame_equal(whole, batched)
    assert len(seen) >= 2
    # Pairs are made for matching values only: a few dozen here, where pairing the article's
    # figures with every figure of their markets would make thousands.
    assert 0 < sum(seen) < len(t.figures)


def test_published_claim_origins_equal_one_build_in_memory(tmp_path) -> None:
    """The refresh keeps each claim's path as numbers, chunk after chunk, and traces subject
    claims in batches. What it publishes must be exactly what one build in memory traces: an
    explanation quotes the candidate's own path, so a path read against another claim shows."""
    expected = build(SOURCES).claim_origins
    assert expected["explanation"].str.contains("its own path reaches").any()
    db = tmp_path / "w.duckdb"
    pipeline.run(SOURCES, Warehouse(db), chunk_claims=3)
    published = sql(db, "SELECT * FROM claim_origins ORDER BY claim_id, rank")
    pd.testing.assert_frame_equal(published, expected, check_dtype=False)
