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
    "cno",
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
    """Per claim (index ``cno``): the years it covers (values and CAGR period), its reading."""
    v = result.values.groupby("cno").agg(
        first_year=("year", "min"), last_year=("year", "max"), n_values=("year", "size")
    )
    checks = result.checks.set_index("cno")
    cols = ["start_year", "end_year", "stated_cagr", "stated_low", "stated_high", "period_from"]
    span = v.join(checks[cols], how="left")
    span["span_from"] = np.fmin(span["first_year"], span["start_year"])
    span["span_to"] = np.fmax(span["last_year"], span["end_year"])
    span["reading"] = result.chosen.set_index("cno")["reading"].reindex(span.index)
    return span


def project(result: CheckResult, claims: pd.DataFrame, horizon: int | None = None) -> pd.DataFrame:
    """Projections of every trajectory claim, both bases; ``horizon`` extends them (flagged).

    Claim-level text columns are categoricals: one small dictionary, and a code per row.
    """
    spans = claim_spans(result)
    parts = [p for p in (_endpoints(result, spans, horizon), _stated_cagr(result, spans, horizon)) if p["cno"].size]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in _EMPTY_TYPES.items()})[PROJECTION_COLUMNS]
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    cno = cols["cno"]
    order = np.lexsort((cols["year"], cols["basis"], cno))
    cno = cno[order]
    stated_key = pd.Index(result.values["cno"].to_numpy(np.int64) * 10_000 + result.values["year"].to_numpy(np.int64))
    year = cols["year"][order]
    out = pd.DataFrame(
        {
            "claim_id": _categorical(claims["claim_id"], cno),
            "source_id": _categorical(claims["source_id"], cno),
            "market_id": _categorical(claims["market_id"], cno),
            "year": year,
            "basis": pd.Categorical.from_codes(cols["basis"][order], categories=list(BASES)),
            "central": cols["central"][order],
            "low": cols["low"][order],
            "high": cols["high"][order],
            "is_stated_year": stated_key.get_indexer(cno * 10_000 + year) >= 0,
            "is_extrapolated": cols["is_extrapolated"][order],
            "currency": _categorical(claims["currency"], cno),
            "reading": _categorical(spans["reading"].reindex(np.arange(len(claims))), cno),
        }
    )
    out.insert(0, "cno", cno)
    return out


def _categorical(column: pd.Series, cno: np.ndarray) -> pd.Categorical:
    """``column[cno]`` as a categorical: codes per row, each distinct text once."""
    codes, uniques = pd.factorize(column.astype(object), use_na_sentinel=True)
    return pd.Categorical.from_codes(codes[cno], categories=pd.Index(uniques.astype(str)))


_EMPTY_TYPES = {
    "cno": "int64",
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


def _grid(first: np.ndarray, last: np.ndarray, horizon: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row index, year, is_extrapolated) for every year first..last (and up to horizon)."""
    last_all = np.maximum(last, horizon) if horizon is not None else last
    lengths = (last_all - first + 1).astype(np.int64)
    idx = np.repeat(np.arange(len(first)), lengths)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    year = first[idx] + (np.arange(lengths.sum()) - starts)
    return idx, year.astype(np.int64), year > last[idx]


def _endpoints(result: CheckResult, spans: pd.DataFrame, horizon: int | None) -> dict[str, np.ndarray]:
    vals = result.values
    order = np.lexsort((vals["year"].to_numpy(), vals["cno"].to_numpy()))
    v_cno = vals["cno"].to_numpy(np.int64)[order]
    vy = vals["year"].to_numpy(np.int64)[order]
    v, lo, hi = (vals[c].to_numpy(float)[order] for c in ("value", "low", "high"))
    sp = spans.loc[spans["n_values"] >= 2]
    claims = sp.index.to_numpy(np.int64)
    idx, year, extrap = _grid(sp["span_from"].to_numpy(np.int64), sp["span_to"].to_numpy(np.int64), horizon)
    # Segment a..b: the last stated value at or before the year, kept inside the claim.
    first_pos = np.searchsorted(v_cno, claims, side="left")
    n_vals = sp["n_values"].to_numpy(np.int64)
    key_vals = v_cno * 10_000 + vy
    cno = claims[idx]
    a = np.searchsorted(key_vals, cno * 10_000 + year, side="right") - 1
    a = np.clip(a, first_pos[idx], first_pos[idx] + n_vals[idx] - 2)
    b = a + 1
    w = (year - vy[a]) / (vy[b] - vy[a]).astype(float)
    central = np.exp((1 - w) * np.log(v[a]) + w * np.log(v[b]))
    # Envelope: an input with a positive exponent takes its low end for the low path.
    low = np.exp((1 - w) * np.log(np.where(1 - w >= 0, lo[a], hi[a])) + w * np.log(np.where(w >= 0, lo[b], hi[b])))
    high = np.exp((1 - w) * np.log(np.where(1 - w >= 0, hi[a], lo[a])) + w * np.log(np.where(w >= 0, hi[b], lo[b])))
    basis = np.zeros(len(cno), np.int8)
    return {
        "cno": cno,
        "year": year,
        "basis": basis,
        "central": central,
        "low": low,
        "high": high,
        "is_extrapolated": extrap,
    }


def _stated_cagr(result: CheckResult, spans: pd.DataFrame, horizon: int | None) -> dict[str, np.ndarray]:
    sp = spans.loc[spans["stated_cagr"].notna() & spans["span_from"].notna()]
    claims = sp.index.to_numpy(np.int64)
    vals = result.values
    at = pd.Index(vals["cno"].to_numpy(np.int64) * 10_000 + vals["year"].to_numpy(np.int64))
    # Compounding starts at the CAGR period's start when it has a value, else the earliest.
    p_from = sp["period_from"].to_numpy(float)
    from_row = at.get_indexer(claims * 10_000 + np.nan_to_num(p_from, nan=-1).astype(np.int64))
    t0 = np.where((from_row >= 0) & ~np.isnan(p_from), p_from, sp["first_year"].to_numpy(float))
    base = at.get_indexer(claims * 10_000 + t0.astype(np.int64))
    b_val, b_lo, b_hi = (vals[c].to_numpy(float)[base] for c in ("value", "low", "high"))
    idx, year, extrap = _grid(sp["span_from"].to_numpy(np.int64), sp["span_to"].to_numpy(np.int64), horizon)
    k = year - t0[idx]
    g = 1.0 + sp["stated_cagr"].to_numpy(float)[idx] / 100.0
    g_lo = 1.0 + sp["stated_low"].to_numpy(float)[idx] / 100.0
    g_hi = 1.0 + sp["stated_high"].to_numpy(float)[idx] / 100.0
    forward = k >= 0
    central = b_val[idx] * np.power(g, k)
    low = b_lo[idx] * np.power(np.where(forward, g_lo, g_hi), k)
    high = b_hi[idx] * np.power(np.where(forward, g_hi, g_lo), k)
    basis = np.ones(len(idx), np.int8)
    return {
        "cno": claims[idx],
        "year": year,
        "basis": basis,
        "central": central,
        "low": low,
        "high": high,
        "is_extrapolated": extrap,
    }


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


def preferred_paths(projections: pd.DataFrame) -> pd.DataFrame:
    """Each claim's path: basis endpoints when it has one, else stated_cagr (not extrapolated)."""
    cno = projections["cno"].to_numpy(np.int64)
    is_end = (projections["basis"] == ENDPOINTS).to_numpy(bool)
    has_end = np.zeros(int(cno.max()) + 1 if len(cno) else 0, bool)
    has_end[cno[is_end]] = True
    keep = (is_end | ~has_end[cno]) & ~projections["is_extrapolated"].to_numpy(bool)
    return projections.loc[keep]


def segment_shares(projections: pd.DataFrame, markets: pd.DataFrame) -> pd.DataFrame:
    """A segment's share of its parent market, per source and year both are projected in.

    Each (source, market, year) takes one path: basis endpoints preferred, then the first claim.
    """
    parent_of = markets.dropna(subset=["parent_market_id"]).set_index("market_id")["parent_market_id"]
    involved = set(parent_of.index) | set(parent_of)
    p = projections.loc[projections["market_id"].isin(involved).to_numpy(bool)]
    rank = np.where((p["basis"] == ENDPOINTS).to_numpy(bool), 0, 1)
    keys = pd.DataFrame(
        {
            "source_id": p["source_id"].astype(str).to_numpy(),
            "market_id": p["market_id"].astype(str).to_numpy(),
            "year": p["year"].to_numpy(),
            "_rank": rank,
            "cno": p["cno"].to_numpy(),
        },
        index=p.index,
    ).sort_values(["source_id", "market_id", "year", "_rank", "cno"], kind="stable")
    paths = p.loc[keys.drop_duplicates(["source_id", "market_id", "year"]).index]
    paths = paths.assign(
        source_id=paths["source_id"].astype(str),
        market_id=paths["market_id"].astype(str),
        claim_id=paths["claim_id"].astype(str),
        basis=paths["basis"].astype(str),
    )
    seg = paths.loc[paths["market_id"].isin(parent_of.index)].assign(
        parent_market_id=lambda d: d["market_id"].map(parent_of)
    )
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
            "is_extrapolated": both["is_extrapolated"].to_numpy(bool) | both["is_extrapolated_parent"].to_numpy(bool),
        }
    )
    out["verdict"] = np.select(
        [out["share_high"] <= 100.0, out["share_low"] > 100.0],
        ["plausible", "segment_exceeds_parent"],
        "segment_may_exceed_parent",
    )
    return out[SHARE_COLUMNS].sort_values(["market_id", "source_id", "year"]).reset_index(drop=True)
