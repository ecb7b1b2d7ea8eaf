"""The user's paths, end to end: the Dagster job and the CLI into a temporary warehouse, then SQL."""

import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from cdmo_pipeline.core.tables import TABLE_NAMES
from tests.conftest import SEED_ARTICLE, needs_seed

CLI = Path(sys.executable).with_name("cdmo")


def _sql(path: str, query: str) -> list[tuple]:
    con = duckdb.connect(path, read_only=True)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


def _assert_article_figures(db: str) -> None:
    """What the issue judges, asked of the published file with SQL."""
    (verdict, implied, reading) = _sql(
        db,
        "SELECT verdict, implied_cagr, reading FROM cagr_checks"
        " WHERE claim_id = 'cdmo-article-2025/global-cdmo-market'",
    )[0]
    assert verdict == "consistent"
    assert round(implied, 2) == 8.96
    assert reading == "as_written"
    india = dict(
        _sql(
            db,
            "SELECT reading, round(central, 2) FROM implied_figures "
            "WHERE claim_id = 'cdmo-article-2025/india-pharma-industry' AND quantity = 'cagr'",
        )
    )
    assert india == {"current=2025": 21.06, "current=2024": 17.26}
    (bio,) = _sql(
        db,
        "SELECT round(central, 2) FROM implied_figures "
        "WHERE claim_id = 'cdmo-article-2025/biologics-cdmo-segment' AND quantity = 'value' AND year = 2025",
    )[0]
    assert bio == 26.29
    years = _sql(
        db,
        "SELECT DISTINCT year FROM projections WHERE source_id = 'cdmo-article-2025' "
        "AND market_id = 'global-cdmo' ORDER BY year",
    )
    assert [y for (y,) in years] == list(range(2025, 2033))
    (share,) = _sql(
        db,
        "SELECT round(share_central, 2) FROM segment_shares WHERE market_id = 'biologics-cdmo' "
        "AND source_id = 'cdmo-article-2025' AND year = 2032",
    )[0]
    assert share == 15.48
    figures = _sql(db, "SELECT count(*) FROM figures WHERE source_id = 'cdmo-article-2025'")[0][0]
    assert figures == 8
    paragraphs = sorted(p for (p,) in _sql(db, "SELECT paragraph FROM figures WHERE source_id = 'cdmo-article-2025'"))
    assert paragraphs == [5, 5, 5, 5, 5, 16, 19, 19]


def test_dagster_job_publishes_the_article(article_dir, isolated_env, monkeypatch) -> None:
    import importlib

    import cdmo_pipeline.definitions as module

    monkeypatch.setenv("CDMO_SOURCES_DIR", str(article_dir))
    defs = importlib.reload(module).defs
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("refresh").execute_in_process(instance=instance)
    assert result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events() for e in [e]}
    assert set(TABLE_NAMES) | {"warehouse"} <= materialized
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert all(checks[f"{t}_schema"] for t in TABLE_NAMES)
    assert checks["cagr_consistency"] and checks["warehouse_readback"]
    _assert_article_figures(isolated_env["CDMO_DUCKDB_PATH"])


def test_cli_refresh_then_sql(article_dir, isolated_env) -> None:
    env = {**isolated_env, "CDMO_SOURCES_DIR": str(article_dir)}
    run = subprocess.run([str(CLI), "refresh"], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "consistent" in run.stdout and "projections" in run.stdout
    assert "Traceback" not in run.stdout + run.stderr
    _assert_article_figures(env["CDMO_DUCKDB_PATH"])
    query = subprocess.run(
        [str(CLI), "sql", "--csv", "SELECT claim_id, verdict FROM cagr_checks ORDER BY claim_id"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert query.returncode == 0, query.stderr
    assert query.stdout.splitlines()[0] == "claim_id,verdict"
    assert "cdmo-article-2025/global-cdmo-market,consistent" in query.stdout


def test_refresh_twice_gives_identical_tables(article_dir, tmp_path) -> None:
    from cdmo_pipeline import pipeline
    from cdmo_pipeline.warehouse import Warehouse

    db = tmp_path / "w.duckdb"
    first = pipeline.refresh(article_dir, Warehouse(db))
    before = {t: _sql(str(db), f"SELECT * FROM {t} ORDER BY ALL") for t in TABLE_NAMES}
    second = pipeline.refresh(article_dir, Warehouse(db))
    after = {t: _sql(str(db), f"SELECT * FROM {t} ORDER BY ALL") for t in TABLE_NAMES}
    assert first.refresh_id != second.refresh_id
    assert first.table_hashes == second.table_hashes
    assert before == after
    assert _sql(str(db), "SELECT count(*) FROM refreshes")[0][0] == 2


@pytest.mark.parametrize("horizon", ["2035"])
def test_cli_honours_horizon_and_fails_clearly_on_bad_input(article_dir, isolated_env, horizon) -> None:
    env = {**isolated_env, "CDMO_SOURCES_DIR": str(article_dir), "CDMO_PROJECTION_HORIZON": horizon}
    run = subprocess.run([str(CLI), "refresh", "-q"], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    (n,) = _sql(env["CDMO_DUCKDB_PATH"], "SELECT count(*) FROM projections WHERE is_extrapolated AND year > 2032")[0]
    assert n > 0
    before = Path(env["CDMO_DUCKDB_PATH"]).read_bytes()
    (article_dir / "broken.yaml").write_text("source: {id: x}\nclaims: []\n")
    bad = subprocess.run([str(CLI), "refresh"], env=env, capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0
    assert "error:" in bad.stderr and "broken.yaml" in bad.stderr
    assert "Traceback" not in bad.stdout + bad.stderr
    assert Path(env["CDMO_DUCKDB_PATH"]).read_bytes() == before


def test_parquet_export_is_the_published_snapshot(article_dir, tmp_path) -> None:
    """CDMO_PARQUET_DIR: every table as Parquet under the refresh id, pointer written last."""
    import json

    from cdmo_pipeline import pipeline
    from cdmo_pipeline.warehouse import Warehouse

    db, out = tmp_path / "w.duckdb", tmp_path / "parquet"
    outcome = pipeline.run(article_dir, Warehouse(db), parquet_dir=str(out))
    latest = json.loads((out / "latest.json").read_text())
    assert latest["refresh_id"] == outcome.receipt.refresh_id
    for table in TABLE_NAMES:
        path = out / latest["refresh_id"] / f"{table}.parquet"
        exported = duckdb.sql(f"SELECT * FROM read_parquet('{path}') ORDER BY ALL").fetchall()
        assert exported == _sql(str(db), f"SELECT * FROM {table} ORDER BY ALL"), table


@needs_seed
def test_extract_review_save_refresh_round_trip(tmp_path) -> None:
    """Issue 7's round trip, with no hand edits: extract the article, save, refresh, query."""
    from cdmo_pipeline import pipeline
    from cdmo_pipeline.extract import extract, to_yaml
    from cdmo_pipeline.warehouse import Warehouse

    text = SEED_ARTICLE.read_text(encoding="utf-8")
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "draft.yaml").write_text(to_yaml(extract(text, source_id="draft-article", published="2025")))
    db = tmp_path / "w.duckdb"
    pipeline.refresh(sources, Warehouse(db))
    rows = dict(_sql(str(db), "SELECT verdict, count(*) FROM cagr_checks GROUP BY verdict"))
    assert rows == {"consistent": 1, "unverifiable": 2}
    (implied,) = _sql(str(db), "SELECT round(implied_cagr, 2) FROM cagr_checks WHERE verdict = 'consistent'")[0]
    assert implied == 8.96
    assert _sql(str(db), "SELECT count(*) FROM figures")[0][0] == 8


def test_a_chunk_with_every_check_year_missing_still_publishes(tmp_path) -> None:
    """A single value at or before the publication year with a CAGR and no period leaves the
    check no years at all (DESIGN §5: unverifiable); a chunk made only of such claims once
    failed the audit on the year columns' type. Found by a reviewer's independent corpus."""
    from cdmo_pipeline import pipeline
    from cdmo_pipeline.warehouse import Warehouse

    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "past.yaml").write_text(
        """\
source: {id: past-values, title: Past values, publisher: Example, published: "2025", kind: report}
markets:
  widget: {label: Widget market}
claims:
  - {id: before, kind: trajectory, market: widget, currency: USD,
     end: {year: "2023", value: "150", scale: billion}, cagr: {value: "7"}}
  - {id: same-year, kind: trajectory, market: widget, currency: USD,
     end: {year: "2025", value: "150", scale: billion}, cagr: {value: "7"}}
""",
        encoding="utf-8",
    )
    db = tmp_path / "w.duckdb"
    pipeline.refresh(sources, Warehouse(db))
    rows = _sql(str(db), "SELECT claim_id, verdict, start_year, end_year, n_years FROM cagr_checks ORDER BY 1")
    assert rows == [
        ("past-values/before", "unverifiable", None, None, None),
        ("past-values/same-year", "unverifiable", None, None, None),
    ]
    types = _sql(
        str(db),
        "SELECT data_type FROM information_schema.columns"
        " WHERE table_name = 'cagr_checks' AND column_name = 'start_year'",
    )
    assert types == [("BIGINT",)]
