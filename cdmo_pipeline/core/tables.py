"""Process: the published tables (DESIGN §8), each a plain function of the steps before it.

Load (``sources.read_corpus``) -> validate (``validate.validate``) -> check (``cagr.check``)
-> derive / project -> these tables. The Dagster assets call exactly these functions; so do
the tests, the benchmarks and ``cdmo audit``.
"""

from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd

from cdmo_pipeline.core import cagr, derive, projections, reconcile
from cdmo_pipeline.core.sources import read_corpus
from cdmo_pipeline.core.validate import Corpus, validate

_OBJ = object


def load_corpus(sources_dir: Path) -> Corpus:
    """Read and validate every source file (raises ``SourceValidationError``)."""
    return validate(read_corpus(Path(sources_dir)))


def run_check(corpus: Corpus) -> cagr.CheckResult:
    return cagr.check(corpus.claims, corpus.figures)


def _none(series: pd.Series) -> pd.Series:
    """Object column with None for missing (what DuckDB and pandera read as NULL)."""
    return series.astype(object).where(series.notna(), None)


def _nullable_int(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce").round().astype("Int64")


def sources_table(corpus: Corpus) -> pd.DataFrame:
    s = corpus.sources.copy()
    s["n_claims"] = s["source_id"].map(corpus.claims.groupby("source_id").size()).fillna(0).astype("int64")
    cols = [
        "source_id",
        "title",
        "publisher",
        "published",
        "published_year",
        "kind",
        "url",
        "file",
        "sha256",
        "format",
        "n_claims",
        "confidence",
        "report",
        "edition",
        "date_as_printed",
        "note",
    ]
    out = s[cols].copy()
    for c in ("url", "confidence", "report", "edition", "date_as_printed", "note"):
        out[c] = _none(out[c])
    for c in ("source_id", "title", "publisher", "published", "kind", "file", "sha256", "format"):
        out[c] = out[c].astype(str).astype(object)
    out["published_year"] = out["published_year"].astype("int64")
    return out.sort_values("source_id").reset_index(drop=True)


def markets_table(corpus: Corpus) -> pd.DataFrame:
    m = corpus.markets.copy()
    has_parent = m["parent_market_id"].notna()
    has_comp = m["comparable_to"].notna()
    m["relation"] = np.where(has_parent, "segment_of", np.where(has_comp, "comparable_to", None))
    m["related_market_id"] = m["parent_market_id"].where(has_parent, m["comparable_to"])
    cols = [
        "market_id",
        "label",
        "parent_market_id",
        "region",
        "modality",
        "comparable_to",
        "relation",
        "related_market_id",
        "declared_in",
    ]
    out = m[cols].copy()
    for c in cols:
        out[c] = _none(out[c])
    return out.sort_values("market_id").reset_index(drop=True)


def claims_table(corpus: Corpus, result: cagr.CheckResult) -> pd.DataFrame:
    c = corpus.claims.copy()
    span = result.values.groupby("claim_id")["year"].agg(["min", "max", "size"])
    cg = corpus.figures.loc[corpus.figures["role"] == "cagr"].drop_duplicates("claim_id").set_index("claim_id")
    out = pd.DataFrame(
        {
            "claim_id": c["claim_id"].astype(object),
            "source_id": c["source_id"].astype(str).astype(object),
            "local_id": c["local_id"].astype(str).astype(object),
            "market_id": _none(c["market_id"]),
            "kind": c["kind"].astype(str).astype(object),
            "currency": _none(c["currency"]),
            "start_year": _nullable_int(c["claim_id"].map(span["min"])),
            "end_year": _nullable_int(c["claim_id"].map(span["max"])),
            "n_values": c["claim_id"].map(span["size"]).fillna(0).astype("int64"),
            "stated_cagr_literal": _none(c["claim_id"].map(cg["literal"])),
            "cagr_from": _nullable_int(c["claim_id"].map(cg["period_from"].astype("Float64"))),
            "cagr_to": _nullable_int(c["claim_id"].map(cg["period_to"].astype("Float64"))),
            "reading": _none(c["claim_id"].map(result.chosen.set_index("claim_id")["reading"])),
            "population": _none(c["population"]),
            # A claim's confidence, else its source's (reference rows carry the CSV's flag).
            "confidence": _none(
                c["confidence"].fillna(c["source_id"].map(corpus.sources.set_index("source_id")["confidence"]))
            ),
            "note": _none(c["note"]),
            "file": c["file"].astype(str).astype(object),
            "line": _nullable_int(c["line"]),
            "paragraph": _nullable_int(c["paragraph"]),
        }
    )
    return out.sort_values("claim_id").reset_index(drop=True)


def figures_table(corpus: Corpus, result: cagr.CheckResult) -> pd.DataFrame:
    f = corpus.figures.copy()
    chosen = result.chosen.set_index("claim_id")["offset"]
    pub = f["claim_id"].map(corpus.claims.drop_duplicates("claim_id").set_index("claim_id")["published_year"])
    # "current" takes the reading the check chose (share claims: the publication year).
    offset = f["claim_id"].map(chosen).fillna(0)
    year = f["year_written"].astype("Float64").where(~f["is_current"], pub - offset)
    cols = {
        "source_id": f["source_id"].astype(str).astype(object),
        "claim_id": f["claim_id"].astype(object),
        "role": f["role"].astype(str).astype(object),
        "idx": f["idx"].astype("int64"),
        "literal": f["literal"].astype(str).astype(object),
        "qualifier": _none(f["qualifier"]),
        "decimals": f["decimals"].astype("int64"),
        "value": f["value"].astype(float),
        "low": f["low"].astype(float),
        "high": f["high"].astype(float),
        "low_open": f["low_open"].astype(bool),
        "high_open": f["high_open"].astype(bool),
        "is_range": f["is_range"].astype(bool),
        "hedge": f["hedge"].astype(bool),
        "unit": f["unit"].astype(str).astype(object),
        "scale": _none(f["scale"]),
        "year": _nullable_int(year),
        "year_as_written": _none(f["year_literal"]),
        "period_from": _nullable_int(f["period_from"].astype("Float64").where(~f["period_from_current"], pub - offset)),
        "period_to": _nullable_int(f["period_to"].astype("Float64").where(~f["period_to_current"], pub - offset)),
        "paragraph": _nullable_int(f["paragraph"]),
        "locator_text": _none(f["locator_text"]),
        "file": f["file"].astype(str).astype(object),
        "line": _nullable_int(f["line"]),
    }
    order = {"start": 0, "point": 1, "end": 2, "cagr": 3, "share": 4}
    out = pd.DataFrame(cols)
    out["_o"] = out["role"].map(order)
    out = out.sort_values(["claim_id", "_o", "year", "idx"], kind="stable").drop(columns="_o")
    return out.reset_index(drop=True)


CHECK_COLUMNS = [
    "claim_id", "source_id", "market_id", "start_year", "end_year", "n_years", "period_basis",
    "stated_cagr_literal", "stated_qualifier", "stated_cagr", "stated_low", "stated_high",
    "stated_low_open", "stated_high_open", "start_value", "end_value", "implied_cagr",
    "implied_low", "implied_high", "implied_low_open", "implied_high_open", "verdict", "reading",
    "gap_pp", "hint", "assumption",
]  # fmt: skip


def cagr_checks_table(result: cagr.CheckResult) -> pd.DataFrame:
    c = result.checks.copy()
    out = pd.DataFrame(index=c.index)
    for col in CHECK_COLUMNS:
        out[col] = c[col]
    for col in ("start_year", "end_year", "n_years"):
        out[col] = _nullable_int(out[col])
    for col in ("stated_low_open", "stated_high_open", "implied_low_open", "implied_high_open"):
        out[col] = out[col].astype("boolean").fillna(False).astype(bool)
    for col in (
        "stated_cagr",
        "stated_low",
        "stated_high",
        "start_value",
        "end_value",
        "implied_cagr",
        "implied_low",
        "implied_high",
        "gap_pp",
    ):
        out[col] = out[col].astype(float)
    for col in ("market_id", "period_basis", "stated_cagr_literal", "stated_qualifier", "hint", "assumption"):
        out[col] = _none(out[col])
    for col in ("claim_id", "source_id", "verdict", "reading"):
        out[col] = out[col].astype(str).astype(object)
    return out.reset_index(drop=True)


def implied_figures_table(result: cagr.CheckResult, corpus: Corpus) -> pd.DataFrame:
    out = derive.implied_figures(result, corpus.claims)
    for col in ("market_id", "assumption"):
        out[col] = _none(out[col])
    for col in ("central", "low", "high"):
        out[col] = out[col].astype(float)
    return out


def projections_table(result: cagr.CheckResult, corpus: Corpus, horizon: int | None = None) -> pd.DataFrame:
    out = projections.project(result, corpus.claims, horizon)
    for col in ("market_id", "currency", "reading"):
        out[col] = _none(out[col])
    out["is_stated_year"] = out["is_stated_year"].astype(bool)
    out["is_extrapolated"] = out["is_extrapolated"].astype(bool)
    return out


def segment_shares_table(projection_rows: pd.DataFrame, markets: pd.DataFrame) -> pd.DataFrame:
    return projections.segment_shares(projection_rows, markets)


@dataclass
class Tables:
    """The published tables: the eight of DESIGN §8, and the reconciliation across sources."""

    sources: pd.DataFrame
    markets: pd.DataFrame
    claims: pd.DataFrame
    figures: pd.DataFrame
    cagr_checks: pd.DataFrame
    implied_figures: pd.DataFrame
    projections: pd.DataFrame
    segment_shares: pd.DataFrame
    cross_source: pd.DataFrame
    claim_origins: pd.DataFrame

    def items(self) -> list[tuple[str, pd.DataFrame]]:
        return [(f.name, getattr(self, f.name)) for f in fields(self)]


TABLE_NAMES = tuple(f.name for f in fields(Tables))


def build_tables(corpus: Corpus, horizon: int | None = None) -> Tables:
    """Every published table from a validated corpus."""
    result = run_check(corpus)
    markets = markets_table(corpus)
    proj = projections_table(result, corpus, horizon)
    core = {
        "sources": sources_table(corpus),
        "markets": markets,
        "claims": claims_table(corpus, result),
        "figures": figures_table(corpus, result),
        "cagr_checks": cagr_checks_table(result),
        "implied_figures": implied_figures_table(result, corpus),
        "projections": proj,
        "segment_shares": segment_shares_table(proj, markets),
    }
    return Tables(**core, cross_source=reconcile.cross_source(core), claim_origins=reconcile.claim_origins(core))


def build(sources_dir: Path, horizon: int | None = None) -> Tables:
    """Every table from a sources directory: the whole refresh without the warehouse."""
    return build_tables(load_corpus(sources_dir), horizon)
