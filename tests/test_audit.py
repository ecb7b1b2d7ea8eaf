"""The audit's invariants across tables: must flag what breaks them, must not flag sound tables.

Tables are built from a small corpus, then one row is corrupted at a time. The streaming
refresh checks the same invariants against keys hashed once (``Keys``); it must find exactly
what the whole-table audit finds.
"""

from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from cdmo_pipeline import pipeline
from cdmo_pipeline.core import audit, reconcile
from cdmo_pipeline.core.frames import isin
from cdmo_pipeline.core.tables import Tables, build
from cdmo_pipeline.warehouse import Warehouse
from tests.conftest import source_doc, trajectory, value

CLAIMS = [
    trajectory("g", [value("2025", "255"), value("2032", "465", qualifier="over")], "9", market="global-cdmo"),
    trajectory("b", [value("2025", "30"), value("2032", "72")], market="biologics-cdmo"),
]


@pytest.fixture
def tables(write_sources: Callable[..., Path]) -> dict[str, pd.DataFrame]:
    directory = write_sources(
        {"a.yaml": source_doc(CLAIMS, source_id="a"), "b.yaml": source_doc(CLAIMS, source_id="b")}
    )
    built: Tables = build(directory)
    return {name: df.copy() for name, df in built.items()}


def _streamed(t: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The invariants as the streaming refresh checks them: keys once, tables one by one."""
    keys = audit.Keys.of(t["sources"], t["markets"], t["claims"])
    found = audit.corpus_invariants(t["sources"], t["markets"], t["claims"], keys)
    for name, df in t.items():
        if name not in ("sources", "markets", "claims"):
            found |= audit.resolution_invariants(keys, {name: df})
    return found


def _set(t: dict[str, pd.DataFrame], table: str, column: str, new: object, row: int = 0) -> None:
    df = t[table]
    if isinstance(df[column].dtype, pd.CategoricalDtype):
        df[column] = df[column].astype(object)
    df.loc[df.index[row], column] = new


# Must not flag ----------------------------------------------------------------------------


def test_sound_tables_pass(tables: dict[str, pd.DataFrame]) -> None:
    report = audit.audit(tables)
    assert report.ok, report.problems()
    assert _streamed(tables) == {}


# Must flag --------------------------------------------------------------------------------

CORRUPTIONS = [
    ("projections", "claim_id", "a/nope", "projections.claim_id resolves to claims"),
    ("figures", "claim_id", "a/nope", "figures.claim_id resolves to claims"),
    ("figures", "source_id", "zz", "figures.source_id resolves to sources"),
    ("cagr_checks", "market_id", "nowhere", "cagr_checks.market_id resolves to markets"),
    ("claims", "market_id", "nowhere", "claims.market_id resolves to markets"),
    ("claims", "source_id", "zz", "claims.source_id resolves to sources"),
    ("segment_shares", "market_id", "nowhere", "segment_shares.market_id resolves to markets"),
    ("cross_source", "claim_id", "a/nope", "cross_source.claim_id resolves to claims"),
    ("markets", "parent_market_id", "nowhere", "markets.parent_market_id exists"),
    ("sources", "n_claims", 7, "sources.n_claims counts the claims"),
]


@pytest.mark.parametrize(("table", "column", "new", "invariant"), CORRUPTIONS)
def test_a_broken_invariant_is_flagged(
    tables: dict[str, pd.DataFrame], table: str, column: str, new: object, invariant: str
) -> None:
    assert len(tables[table]), f"the corpus gives {table} no rows to corrupt"
    _set(tables, table, column, new)
    report = audit.audit(tables)
    assert not report.ok
    assert invariant in report.invariants
    assert len(report.invariants[invariant]) == 1
    streamed = _streamed(tables)
    whole = audit.global_invariants(tables["sources"], tables["markets"], tables["claims"], tables)
    assert streamed.keys() == whole.keys()
    if table not in ("projections", "figures") or column != "claim_id":  # checked per chunk instead
        assert invariant in streamed
    assert any(p.startswith(invariant) for p in report.problems())


def test_claim_origins_must_match_published_claims(tables: dict[str, pd.DataFrame]) -> None:
    origin = pd.DataFrame({"claim_id": ["a/g"], "matched_claim_id": ["b/elsewhere"]})
    found = audit.resolution_invariants(
        audit.Keys.of(tables["sources"], tables["markets"], tables["claims"]), {"claim_origins": origin}
    )
    assert list(found) == ["claim_origins.matched_claim_id resolves to claims"]


def test_a_market_cycle_is_flagged(tables: dict[str, pd.DataFrame]) -> None:
    markets = tables["markets"]
    parent = markets["market_id"] == "global-cdmo"
    markets.loc[parent.to_numpy(bool), "parent_market_id"] = "biologics-cdmo"
    report = audit.audit(tables)
    assert sorted(report.invariants["markets.parents form no cycle"]["market_id"]) == ["biologics-cdmo", "global-cdmo"]


def test_a_projection_gap_is_flagged(tables: dict[str, pd.DataFrame]) -> None:
    p = tables["projections"]
    gap = (p["claim_id"].astype(str) == "a/g") & (p["basis"].astype(str) == "endpoints") & (p["year"] == 2028)
    tables["projections"] = p.loc[~gap.to_numpy(bool)]
    report = audit.audit(tables)
    rows = report.invariants["projections cover each claim's years exactly once per basis"]
    assert rows[["claim_id", "basis"]].astype(str).values.tolist() == [["a/g", "endpoints"]]


def test_a_projection_short_of_the_last_year_is_flagged(tables: dict[str, pd.DataFrame]) -> None:
    p = tables["projections"]
    last = (p["claim_id"].astype(str) == "b/b") & (p["year"] == 2032)
    tables["projections"] = p.loc[~last.to_numpy(bool)]
    report = audit.audit(tables)
    assert "projections reach each claim's first and last year" in report.invariants


# The refresh as a whole -------------------------------------------------------------------


def test_a_refresh_whose_cross_source_breaks_an_invariant_publishes_nothing(
    write_sources: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = write_sources(
        {"a.yaml": source_doc(CLAIMS, source_id="a"), "b.yaml": source_doc(CLAIMS, source_id="b")}
    )
    real = reconcile.cross_source_batches

    def corrupted(*args: object, **kwargs: object) -> Iterator[pd.DataFrame]:
        for batch in real(*args, **kwargs):
            batch = batch.copy()
            batch["claim_id"] = batch["claim_id"].astype(object)
            batch.loc[batch.index[0], "claim_id"] = "a/not-a-claim"
            yield batch

    monkeypatch.setattr(reconcile, "cross_source_batches", corrupted)
    db = tmp_path / "w.duckdb"
    with pytest.raises(pipeline.RefreshAuditError, match=r"cross_source\.claim_id resolves to claims: 1 row"):
        pipeline.run(directory, Warehouse(str(db)))
    assert not db.exists()


# Membership against keys hashed once ------------------------------------------------------


@pytest.mark.parametrize("dtype", ["string[pyarrow]", "object", "category"])
def test_membership_against_an_index_matches_membership_against_values(dtype: str) -> None:
    values = pd.Series(["a", "b", None, "c", "a"], dtype=dtype)
    allowed = pd.Series(["a", "c", "d"])
    expect = [True, False, False, True, True]
    assert isin(values, allowed).tolist() == expect
    assert isin(values, pd.Index(allowed, dtype="string[pyarrow]")).tolist() == expect
    assert isin(values, pd.Index([], dtype="string[pyarrow]")).tolist() == [False] * 5


def test_claim_keys_are_kept_as_hashes_and_still_tell_claims_apart(tables: dict[str, pd.DataFrame]) -> None:
    keys = audit.Keys.of(tables["sources"], tables["markets"], tables["claims"])
    assert keys.claims.dtype == "uint64" and len(keys.claims) == len(tables["claims"])
    known = tables["claims"]["claim_id"].iloc[0]
    # Must not flag: a claim's own id, as text or as a category.
    # Must flag: an id one letter off, an id of another claim's source, and a missing id.
    ids = pd.Series([known, known + "x", known.upper(), "elsewhere/" + known, None], dtype="string[pyarrow]")
    assert keys.has_claim(ids).tolist() == [True, False, False, False, False]
    assert keys.has_claim(ids.astype("category")).tolist() == [True, False, False, False, False]
