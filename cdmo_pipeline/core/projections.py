"""Year-by-year projections and segment shares (DESIGN §6).

One row per claim, year and basis, for every year of the claim (its values and its CAGR's
period), low / central / high:

- ``endpoints``: geometric interpolation between consecutive stated values,
  V(y) = Va^(1-w) * Vb^w with w = (y - a) / (b - a);
- ``stated_cagr``: the stated CAGR compounded from the value at the start of its period (else
  the earliest value; backwards from the only value when there is one).

The band is the envelope over the input intervals: each formula is monotone in each input, so
the envelope takes each input's low or high end by the sign of its exponent. Rows are built
with numpy over all claims at once (``np.repeat`` grids and ``searchsorted`` lookups).
"""

import numpy as np
import pandas as pd

from cdmo_pipeline.core.cagr import CheckResult

ENDPOINTS, STATED_CAGR = "endpoints", "stated_cagr"
BASES = (ENDPOINTS, STATED_CAGR)
PROJECTION_COLUMNS = [
    "claim_id",
    "source_id",
    "market_id",
    "year",
    "basis",
    "central",
    "low",
    "high",
    "is_stated_year",
    "is_extrapolated",
    "currency",
    "reading",
]


def claim_spans(result: CheckResult) -> pd.DataFrame:
    """Per claim: the years it covers (its values and its CAGR's period) and its reading."""
    v = result.values.groupby("claim_id").agg(
        first_year=("year", "min"), last_year=("year", "max"), n_values=("year", "size")
    )
    checks = result.checks.set_index("claim_id")
    span = v.join(
        checks[["start_year", "end_year", "stated_cagr", "stated_low", "stated_high", "period_from", "reading"]],
        how="left",
    )
    span["span_from"] = np.fmin(span["first_year"], span["start_year"])
    span["span_to"] = np.fmax(span["last_year"], span["end_year"])
    chosen = result.chosen.set_index("claim_id")["reading"]
    span["reading"] = span.index.map(chosen)
    return span


def project(result: CheckResult, claims: pd.DataFrame, horizon: int | None = None) -> pd.DataFrame:
    """Projections of every trajectory claim, both bases; ``horizon`` extends them (flagged)."""
    spans = claim_spans(result)
    meta = claims.set_index("claim_id")[["source_id", "market_id", "currency"]]
    parts = [_endpoints(result, spans, horizon), _stated_cagr(result, spans, horizon)]
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in _EMPTY_TYPES.items()})[PROJECTION_COLUMNS]
    out = pd.concat(parts, ignore_index=True)
    out = out.join(meta, on="claim_id")
    out["reading"] = out["claim_id"].map(spans["reading"])
    stated = pd.MultiIndex.from_frame(result.values[["claim_id", "year"]].astype({"year": "int64"}))
    out["is_stated_year"] = pd.MultiIndex.from_arrays([out["claim_id"], out["year"]]).isin(stated)
    out = out.sort_values(["claim_id", "basis", "year"], kind="stable").reset_index(drop=True)
    return out[PROJECTION_COLUMNS]


_EMPTY_TYPES = {
    "claim_id": object,
    "source_id": object,
    "market_id": object,
    "year": "int64",
    "basis": object,
    "central": float,
    "low": float,
    "high": float,
    "is_stated_year": bool,
    "is_extrapolated": bool,
    "currency": object,
    "reading": object,
}


def _grid(
    claim_ids: np.ndarray, first: np.ndarray, last: np.ndarray, horizon: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(claim index, year, is_extrapolated) for every year first..last (and up to horizon)."""
    last_all = np.maximum(last, horizon) if horizon is not None else last
    lengths = (last_all - first + 1).astype(np.int64)
    idx = np.repeat(np.arange(len(claim_ids)), lengths)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    year = first[idx] + (np.arange(lengths.sum()) - starts)
    extrapolated = year > last[idx]
    return idx, year.astype(np.int64), extrapolated, lengths


def _endpoints(result: CheckResult, spans: pd.DataFrame, horizon: int | None) -> pd.DataFrame:
    vals = result.values.sort_values(["claim_id", "year"], kind="stable")
    counts = vals.groupby("claim_id", sort=True)["year"].size()
    eligible = counts.index[counts >= 2]
    vals = vals.loc[vals["claim_id"].isin(eligible)]
    if vals.empty:
        return pd.DataFrame()
    claim_ids = eligible.to_numpy()
    code = pd.Categorical(vals["claim_id"], categories=claim_ids).codes.astype(np.int64)
    vy = vals["year"].to_numpy(np.int64)
    # Per claim: the position of its first stated value, and how many it has.
    first_pos = np.searchsorted(code, np.arange(len(claim_ids)), side="left")
    n_vals = counts.loc[claim_ids].to_numpy()
    sp = spans.loc[claim_ids]
    idx, year, extrap, _ = _grid(
        claim_ids, sp["span_from"].to_numpy(np.int64), sp["span_to"].to_numpy(np.int64), horizon
    )

    # Segment a..b: the last stated value at or before the year, kept inside the claim.
    key_vals = code * 10_000 + vy
    key_grid = idx * 10_000 + year
    a = np.searchsorted(key_vals, key_grid, side="right") - 1
    a = np.clip(a, first_pos[idx], first_pos[idx] + n_vals[idx] - 2)
    b = a + 1
    ya, yb = vy[a].astype(float), vy[b].astype(float)
    w = (year - ya) / (yb - ya)
    v, lo, hi = (vals[c].to_numpy(float) for c in ("value", "low", "high"))
    central = np.exp((1 - w) * np.log(v[a]) + w * np.log(v[b]))
    # Envelope: an input with a positive exponent takes its low end for the low path.
    low = np.exp((1 - w) * np.log(np.where(1 - w >= 0, lo[a], hi[a])) + w * np.log(np.where(w >= 0, lo[b], hi[b])))
    high = np.exp((1 - w) * np.log(np.where(1 - w >= 0, hi[a], lo[a])) + w * np.log(np.where(w >= 0, hi[b], lo[b])))
    return pd.DataFrame(
        {
            "claim_id": claim_ids[idx],
            "year": year,
            "basis": ENDPOINTS,
            "central": central,
            "low": low,
            "high": high,
            "is_extrapolated": extrap,
        }
    )


def _stated_cagr(result: CheckResult, spans: pd.DataFrame, horizon: int | None) -> pd.DataFrame:
    sp = spans.loc[spans["stated_cagr"].notna() & spans["span_from"].notna()]
    if sp.empty:
        return pd.DataFrame()
    claim_ids = sp.index.to_numpy()
    at = result.values.set_index(["claim_id", "year"])
    at = at[~at.index.duplicated()]
    # Compounding starts at the CAGR period's start when it has a value, else the earliest.
    from_key = pd.MultiIndex.from_arrays([sp.index, sp["period_from"].astype(float)])
    t0 = np.where(from_key.isin(at.index), sp["period_from"], sp["first_year"]).astype(float)
    base = at.reindex(pd.MultiIndex.from_arrays([sp.index, t0]))
    idx, year, extrap, _ = _grid(
        claim_ids, sp["span_from"].to_numpy(np.int64), sp["span_to"].to_numpy(np.int64), horizon
    )
    k = year - t0[idx]
    g = 1.0 + sp["stated_cagr"].to_numpy(float)[idx] / 100.0
    g_lo = 1.0 + sp["stated_low"].to_numpy(float)[idx] / 100.0
    g_hi = 1.0 + sp["stated_high"].to_numpy(float)[idx] / 100.0
    forward = k >= 0
    central = base["value"].to_numpy(float)[idx] * np.power(g, k)
    low = base["low"].to_numpy(float)[idx] * np.power(np.where(forward, g_lo, g_hi), k)
    high = base["high"].to_numpy(float)[idx] * np.power(np.where(forward, g_hi, g_lo), k)
    return pd.DataFrame(
        {
            "claim_id": claim_ids[idx],
            "year": year,
            "basis": STATED_CAGR,
            "central": central,
            "low": low,
            "high": high,
            "is_extrapolated": extrap,
        }
    )


SHARE_VERDICTS = ("plausible", "segment_may_exceed_parent", "segment_exceeds_parent")
SHARE_COLUMNS = [
    "market_id",
    "parent_market_id",
    "source_id",
    "year",
    "share_central",
    "share_low",
    "share_high",
    "verdict",
    "segment_claim_id",
    "parent_claim_id",
    "segment_basis",
    "parent_basis",
    "is_extrapolated",
]


def _preferred(projections: pd.DataFrame) -> pd.DataFrame:
    """One path per (source, market, year): basis endpoints first, then the claim id."""
    rank = np.where(projections["basis"] == ENDPOINTS, 0, 1)
    ordered = projections.assign(_rank=rank).sort_values(
        ["source_id", "market_id", "year", "_rank", "claim_id"], kind="stable"
    )
    return ordered.drop_duplicates(["source_id", "market_id", "year"]).drop(columns="_rank")


def segment_shares(projections: pd.DataFrame, markets: pd.DataFrame) -> pd.DataFrame:
    """A segment's share of its parent market, per source and year both are projected in."""
    parents = markets.dropna(subset=["parent_market_id"])[["market_id", "parent_market_id"]]
    paths = _preferred(projections.dropna(subset=["market_id"]))
    seg = paths.merge(parents, on="market_id")
    both = seg.merge(
        paths,
        left_on=["source_id", "parent_market_id", "year"],
        right_on=["source_id", "market_id", "year"],
        suffixes=("", "_parent"),
    )
    if both.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in SHARE_COLUMNS}).astype(
            {"year": "int64", "share_central": float, "share_low": float, "share_high": float, "is_extrapolated": bool}
        )
    out = pd.DataFrame(
        {
            "market_id": both["market_id"],
            "parent_market_id": both["parent_market_id"],
            "source_id": both["source_id"],
            "year": both["year"].astype("int64"),
            "share_central": both["central"] / both["central_parent"] * 100.0,
            "share_low": both["low"] / both["high_parent"] * 100.0,
            "share_high": both["high"] / both["low_parent"] * 100.0,
            "segment_claim_id": both["claim_id"],
            "parent_claim_id": both["claim_id_parent"],
            "segment_basis": both["basis"],
            "parent_basis": both["basis_parent"],
            "is_extrapolated": both["is_extrapolated"] | both["is_extrapolated_parent"],
        }
    )
    out["verdict"] = np.select(
        [out["share_high"] <= 100.0, out["share_low"] > 100.0],
        ["plausible", "segment_exceeds_parent"],
        "segment_may_exceed_parent",
    )
    return out[SHARE_COLUMNS].sort_values(["market_id", "source_id", "year"]).reset_index(drop=True)
