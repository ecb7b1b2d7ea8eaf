"""Process: the published tables (DESIGN §8), each a plain function of the steps before it.

Load (``sources.read_corpus``) -> validate (``validate.validate``) -> check (``cagr.check``)
-> derive / project / reconcile -> these tables. The Dagster asset calls exactly these
functions; so do the tests, the benchmarks and ``cdmo audit``. Text columns are Arrow
strings; claims are joined by their integer number ``cno``.
"""

from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd

from cdmo_pipeline.core import cagr, derive, projections, reconcile
from cdmo_pipeline.core.frames import text
from cdmo_pipeline.core.sources import read_corpus
from cdmo_pipeline.core.validate import Corpus, validate


def load_corpus(sources_dir: Path) -> Corpus:
    """Read and validate every source file (raises ``SourceValidationError``)."""
    return validate(read_corpus(Path(sources_dir)))


def run_check(corpus: Corpus) -> cagr.CheckResult:
    return cagr.check(corpus.claims, corpus.figures)


def nullable_int(values: pd.Series | np.ndarray) -> pd.Series:
    """Whole numbers as nullable integers (rounded; missing stays missing)."""
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    if series.dtype.kind in "iu":  # integers already: exact
        return series.astype("Int64")
    if series.dtype.kind == "f":  # floats: rounded at once, where every value fits exactly
        floats = series.to_numpy(float, na_value=np.nan)
        missing = np.isnan(floats)
        if (np.abs(floats[~missing]) < 2.0**53).all():
            ints = np.where(missing, 0, np.round(floats)).astype(np.int64)
            return pd.Series(pd.arrays.IntegerArray(ints, missing), index=series.index, name=series.name)
    return pd.to_numeric(series, errors="coerce").round().astype("Int64")


def sources_table(corpus: Corpus, n_claims: pd.Series | None = None) -> pd.DataFrame:
    """One row per source; ``n_claims`` (by source id) defaults to counting the corpus' claims."""
    s = corpus.sources
    if n_claims is None:
        n_claims = corpus.claims.groupby("source_id").size()
    out = pd.DataFrame(
        {
            "source_id": text(s["source_id"]),
            "title": text(s["title"]),
            "publisher": text(s["publisher"]),
            "published": text(s["published"]),
            "published_year": s["published_year"].astype("int64"),
            "kind": text(s["kind"]),
            "url": text(s["url"]),
            "file": text(s["file"]),
            "sha256": text(s["sha256"]),
            "format": text(s["format"]),
            "n_claims": s["source_id"].map(n_claims).fillna(0).astype("int64"),
            "confidence": text(s["confidence"]),
            "report": text(s["report"]),
            "edition": text(s["edition"]),
            "date_as_printed": text(s["date_as_printed"]),
            "note": text(s["note"]),
            "text": text(s["text"]),
        }
    )
    return out.sort_values("source_id").reset_index(drop=True)


def markets_table(corpus: Corpus) -> pd.DataFrame:
    m = corpus.markets
    has_parent = m["parent_market_id"].notna().to_numpy()
    has_comp = m["comparable_to"].notna().to_numpy()
    out = pd.DataFrame(
        {
            "market_id": text(m["market_id"]),
            "label": text(m["label"]),
            "parent_market_id": text(m["parent_market_id"]),
            "region": text(m["region"]),
            "modality": text(m["modality"]),
            "comparable_to": text(m["comparable_to"]),
            "relation": text(np.where(has_parent, "segment_of", np.where(has_comp, "comparable_to", None))),
            "related_market_id": text(m["parent_market_id"].where(has_parent, m["comparable_to"])),
            "declared_in": text(m["declared_in"]),
        }
    )
    return out.sort_values("market_id").reset_index(drop=True)


def claims_table(corpus: Corpus, result: cagr.CheckResult) -> pd.DataFrame:
    c = corpus.claims
    n = len(c)
    span = result.values.groupby("cno")["year"].agg(["min", "max", "size"]).reindex(np.arange(n))
    cg = corpus.figures.loc[corpus.figures["role"] == "cagr"]
    cg_pos = np.full(n, -1)
    cg_pos[cg["cno"].to_numpy()] = np.arange(len(cg))

    def cagr_col(col: str) -> np.ndarray:
        values = cg[col].to_numpy(dtype=object)
        return np.where(cg_pos >= 0, values[np.maximum(cg_pos, 0)] if len(cg) else None, None)

    reading = np.full(n, None, dtype=object)
    reading[result.chosen["cno"].to_numpy()] = result.chosen["reading"].to_numpy(dtype=object)
    confidence = c["confidence"].fillna(c["source_id"].map(corpus.sources.set_index("source_id")["confidence"]))
    out = pd.DataFrame(
        {
            "claim_id": text(c["claim_id"]),
            "source_id": text(c["source_id"]),
            "local_id": text(c["local_id"]),
            "market_id": text(c["market_id"]),
            "kind": text(c["kind"]),
            "currency": text(c["currency"]),
            "start_year": nullable_int(span["min"].to_numpy()),
            "end_year": nullable_int(span["max"].to_numpy()),
            "n_values": span["size"].fillna(0).astype("int64").to_numpy(),
            "stated_cagr_literal": text(cagr_col("literal")),
            "cagr_from": nullable_int(cagr_col("period_from")),
            "cagr_to": nullable_int(cagr_col("period_to")),
            "reading": text(reading),
            "population": text(c["population"]),
            # A claim's confidence, else its source's (reference rows carry the CSV's flag).
            "confidence": text(confidence),
            "note": text(c["note"]),
            "file": text(c["file"]),
            "line": nullable_int(c["line"]),
            "paragraph": nullable_int(c["paragraph"]),
        }
    )
    return out.sort_values("claim_id").reset_index(drop=True)


def figures_table(corpus: Corpus, result: cagr.CheckResult) -> pd.DataFrame:
    f = corpus.figures
    cno = f["cno"].to_numpy()
    offset = np.zeros(len(corpus.claims), np.int64)
    offset[result.chosen["cno"].to_numpy()] = result.chosen["offset"].to_numpy()
    # "current" takes the reading the check chose (share claims: the publication year).
    resolved = (corpus.claims["published_year"].to_numpy() - offset)[cno].astype(float)

    def year(col: str, current: str) -> pd.Series:
        written = pd.to_numeric(f[col], errors="coerce").astype(float).to_numpy()
        return nullable_int(np.where(f[current].to_numpy(bool), resolved, written))

    order = {"start": 0, "point": 1, "end": 2, "cagr": 3, "share": 4}
    out = pd.DataFrame(
        {
            "source_id": text(f["source_id"]),
            "claim_id": text(f["claim_id"]),
            "role": text(f["role"]),
            "idx": f["idx"].astype("int64"),
            "literal": text(f["literal"]),
            "qualifier": text(f["qualifier"]),
            "decimals": f["decimals"].astype("int64"),
            "value": f["value"].astype(float),
            "low": f["low"].astype(float),
            "high": f["high"].astype(float),
            "low_open": f["low_open"].astype(bool),
            "high_open": f["high_open"].astype(bool),
            "is_range": f["is_range"].astype(bool),
            "hedge": f["hedge"].astype(bool),
            "unit": text(f["unit"]),
            "scale": text(f["scale"]),
            "year": year("year_written", "is_current"),
            "year_as_written": text(f["year_literal"]),
            "period_from": year("period_from", "period_from_current"),
            "period_to": year("period_to", "period_to_current"),
            "paragraph": nullable_int(f["paragraph"]),
            "locator_text": text(f["locator_text"]),
            "file": text(f["file"]),
            "line": nullable_int(f["line"]),
        }
    )
    out["_o"] = out["role"].map(order).to_numpy()
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
    c = result.checks
    out = pd.DataFrame(index=c.index)
    for col in CHECK_COLUMNS:
        out[col] = c[col].to_numpy()
    for col in ("start_year", "end_year", "n_years"):
        out[col] = nullable_int(out[col]).array  # stays Int64 even when every year is missing
    for col in ("stated_low_open", "stated_high_open", "implied_low_open", "implied_high_open"):
        out[col] = out[col].astype("boolean").fillna(False).astype(bool)
    for col in ("stated_cagr", "stated_low", "stated_high", "start_value", "end_value", "implied_cagr"):
        out[col] = out[col].astype(float)
    for col in ("implied_low", "implied_high", "gap_pp"):
        out[col] = out[col].astype(float)
    text_cols = ["claim_id", "source_id", "market_id", "period_basis", "stated_cagr_literal", "stated_qualifier"]
    for col in [*text_cols, "verdict", "reading", "hint", "assumption"]:
        out[col] = text(out[col]).array  # Arrow strings as they are, not through Python objects
    return out.reset_index(drop=True)


def implied_figures_table(result: cagr.CheckResult, corpus: Corpus) -> pd.DataFrame:
    out = derive.implied_figures(result, corpus.claims)
    for col in ("claim_id", "source_id", "market_id", "quantity", "unit", "method", "reading", "assumption"):
        out[col] = text(out[col]).array
    for col in ("central", "low", "high"):
        out[col] = out[col].astype(float)
    return out


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


# Tables built from one chunk of whole sources alone; the others need every source.
PER_SOURCE = ("claims", "figures", "cagr_checks", "implied_figures", "projections", "segment_shares")
ACROSS_SOURCES = ("sources", "markets", "cross_source", "claim_origins")
# What reconciling across sources needs of each chunk's tables.
RECONCILE_CLAIM_COLUMNS = ["claim_id", "source_id", "market_id", "currency"]


def build_chunk(
    corpus: Corpus, markets: pd.DataFrame, horizon: int | None = None
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """The per-source tables of a chunk, and its projections with their claim numbers."""
    result = run_check(corpus)
    proj = projections.project(result, corpus.claims, horizon)
    built = {
        "claims": claims_table(corpus, result),
        "figures": figures_table(corpus, result),
        "cagr_checks": cagr_checks_table(result),
        "implied_figures": implied_figures_table(result, corpus),
        "projections": proj.drop(columns="cno"),
        "segment_shares": projections.segment_shares(proj, markets),
    }
    return built, proj


def reconciled(
    core: dict[str, pd.DataFrame], paths: pd.DataFrame, stated: pd.DataFrame | None = None
) -> dict[str, pd.DataFrame]:
    """The tables across sources, from every source's figures, claims and projected paths
    (``stated``: the stated values, when kept apart from the figures)."""
    return {
        "cross_source": reconcile.cross_source(core, stated),
        "claim_origins": reconcile.claim_origins(core, paths),
    }


def build_tables(corpus: Corpus, horizon: int | None = None) -> Tables:
    """Every published table from a validated corpus (all of it in one chunk)."""
    markets = markets_table(corpus)
    built, proj = build_chunk(corpus, markets, horizon)
    core = {"sources": sources_table(corpus), "markets": markets, **built}
    return Tables(**core, **reconciled(core, proj))


def build(sources_dir: Path, horizon: int | None = None) -> Tables:
    """Every table from a sources directory: the whole refresh without the warehouse."""
    return build_tables(load_corpus(sources_dir), horizon)
