"""Year-by-year projections and segment shares (DESIGN §6).

One row per claim, year and basis, for every year of the claim (its values and its CAGR's
period), low / central / high:

- ``endpoints``: geometric interpolation between consecutive stated values,
  V(y) = Va^(1-w) * Vb^w with w = (y - a) / (b - a), from the claim's first stated (or
  checked) year to its last;
- ``stated_cagr``: the stated CAGR compounded from the value at the start of its period (else
  the earliest value; backwards from the only value when there is one), over those years and
  the CAGR's whole period.

The band is the envelope over the input intervals: each formula is monotone in each input, so
the envelope takes each input's low or high end by the sign of its exponent. Rows are built
with numpy over all claims at once (``np.repeat`` grids and ``searchsorted`` lookups).
"""

import numpy as np
import pandas as pd

from cdmo_pipeline.core.cagr import CheckResult
from cdmo_pipeline.core.frames import STRING, decoded, text_rank

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
    cols = ["start_year", "end_year", "stated_cagr", "stated_low", "stated_high", "period_from", "period_to"]
    span = v.join(checks[cols], how="left")
    span["span_from"] = np.fmin(span["first_year"], span["start_year"])
    span["span_to"] = np.fmax(span["last_year"], span["end_year"])
    # The stated CAGR's path also covers its own period where that reaches past the values
    # (a CAGR for 2024-2033 beside values for 2025 and 2032).
    span["cagr_from"] = np.fmin(span["span_from"], span["period_from"])
    span["cagr_to"] = np.fmax(span["span_to"], span["period_to"])
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
    "claim_id": "category",
    "source_id": "category",
    "market_id": "category",
    "year": "int64",
    "basis": "category",
    "central": float,
    "low": float,
    "high": float,
    "is_stated_year": bool,
    "is_extrapolated": bool,
    "currency": "category",
    "reading": "category",
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
    idx, year, extrap = _grid(sp["cagr_from"].to_numpy(np.int64), sp["cagr_to"].to_numpy(np.int64), horizon)
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
    "currency",
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


def preferred(projections: pd.DataFrame) -> np.ndarray:
    """Which rows are on their claim's preferred path: basis endpoints when it has one, else
    stated_cagr (not extrapolated)."""
    # Claims by number: ``cno`` when built here, else the published claim ids, factorized.
    if "cno" in projections:
        cno = projections["cno"].to_numpy(np.int64)
    else:
        cno = pd.factorize(projections["claim_id"].astype(object))[0].astype(np.int64)
    is_end = (projections["basis"] == ENDPOINTS).to_numpy(bool)
    has_end = np.zeros(int(cno.max()) + 1 if len(cno) else 0, bool)
    has_end[cno[is_end]] = True
    return (is_end | ~has_end[cno]) & ~projections["is_extrapolated"].to_numpy(bool)


def segment_shares(projections: pd.DataFrame, markets: pd.DataFrame) -> pd.DataFrame:
    """A segment's share of its parent market, per source, currency and year both are
    projected in: a EUR segment over a USD parent is no share of it, and a source quoting
    both markets in two currencies has a share in each.

    Each (source, currency, market, year) takes one path: basis endpoints preferred, then the
    first claim. Keys are the projections' categorical codes, so no text is touched per row.
    """
    parent_of = markets.dropna(subset=["parent_market_id"]).set_index("market_id")["parent_market_id"].astype(str)
    if parent_of.empty or projections.empty:
        return _empty_shares()
    m_cat = projections["market_id"].cat.categories.astype(str)
    # Market code -> its parent's code (or -1), over the projections' market dictionary.
    m_index = pd.Index(m_cat)
    parent_code = m_index.get_indexer(pd.Series(m_cat).map(parent_of).fillna("\x00"))
    involved = np.zeros(len(m_cat) + 1, bool)
    involved[np.flatnonzero(parent_code >= 0)] = True
    involved[parent_code[parent_code >= 0]] = True
    market = projections["market_id"].cat.codes.to_numpy(np.int64)
    rows = np.flatnonzero(involved[market] & (market >= 0))
    if rows.size == 0:
        return _empty_shares()
    # A source's paths are paired within one currency: (source, currency) is one key.
    currency = projections["currency"].cat.codes.to_numpy(np.int64)[rows] + 1  # 0: none written
    n_currencies = len(projections["currency"].cat.categories) + 1
    source = projections["source_id"].cat.codes.to_numpy(np.int64)[rows] * n_currencies + currency
    market = market[rows]
    year = projections["year"].to_numpy(np.int64)[rows]
    rank = (projections["basis"] != ENDPOINTS).to_numpy(bool)[rows].astype(np.int64)
    cno = projections["cno"].to_numpy(np.int64)[rows]
    # By source, market, year, basis (endpoints first), claim, as two packed keys: five
    # separate keys cost a quarter of a second a chunk. Markets are codes below n_m.
    n_m = len(m_cat) + 1
    inner = ((year - year.min()) * 2 + rank) * (cno.max() + 1) + cno
    order = np.lexsort((inner, source * n_m + market))
    rows, source, market, year = rows[order], source[order], market[order], year[order]
    first = np.ones(len(rows), bool)
    first[1:] = (source[1:] != source[:-1]) | (market[1:] != market[:-1]) | (year[1:] != year[:-1])
    rows, source, market, year = rows[first], source[first], market[first], year[first]
    # Each segment path meets its parent's path of the same source and year.
    key = (source * n_m + market) * 10_000 + year
    seg = parent_code[market] >= 0
    parent_key = (source[seg] * n_m + parent_code[market[seg]]) * 10_000 + year[seg]
    match = pd.Index(key).get_indexer(parent_key)
    seg_rows = rows[seg][match >= 0]
    par_rows = rows[match[match >= 0]]
    if seg_rows.size == 0:
        return _empty_shares()
    # The published order (market, source, year) by the codes' text ranks, before any column
    # is built: only the columns shown are taken, and text is spread from each dictionary.
    text_columns = ("market_id", "source_id", "currency", "claim_id", "basis")
    codes = {c: projections[c].cat.codes.to_numpy(np.int64) for c in text_columns}
    cats = {c: projections[c].cat.categories for c in codes}
    currency_rank = np.append(text_rank(cats["currency"]), -1)  # none written first
    order = np.lexsort(
        (
            projections["year"].to_numpy(np.int64)[seg_rows],
            currency_rank[codes["currency"][seg_rows]],
            text_rank(cats["source_id"])[codes["source_id"][seg_rows]],
            text_rank(cats["market_id"])[codes["market_id"][seg_rows]],
        )
    )
    seg_rows, par_rows = seg_rows[order], par_rows[order]

    def column(name: str, at: np.ndarray) -> np.ndarray:
        return projections[name].to_numpy()[at]

    def label(name: str, at: np.ndarray) -> pd.Series:
        return decoded(codes[name][at], cats[name])

    share_high = column("high", seg_rows) / column("low", par_rows) * 100.0
    share_low = column("low", seg_rows) / column("high", par_rows) * 100.0
    verdict = np.select(
        [share_high <= 100.0, share_low > 100.0], ["plausible", "segment_exceeds_parent"], "segment_may_exceed_parent"
    )
    out = pd.DataFrame(
        {
            "market_id": label("market_id", seg_rows),
            "parent_market_id": label("market_id", par_rows),
            "source_id": label("source_id", seg_rows),
            "currency": label("currency", seg_rows),
            "year": column("year", seg_rows).astype(np.int64),
            "share_central": column("central", seg_rows) / column("central", par_rows) * 100.0,
            "share_low": share_low,
            "share_high": share_high,
            "verdict": pd.array(verdict, dtype=STRING),
            "segment_claim_id": label("claim_id", seg_rows),
            "parent_claim_id": label("claim_id", par_rows),
            "segment_basis": label("basis", seg_rows),
            "parent_basis": label("basis", par_rows),
            "is_extrapolated": column("is_extrapolated", seg_rows).astype(bool)
            | column("is_extrapolated", par_rows).astype(bool),
        }
    )
    return out[SHARE_COLUMNS]


def _empty_shares() -> pd.DataFrame:
    types = {"year": "int64", "share_central": float, "share_low": float, "share_high": float, "is_extrapolated": bool}
    return pd.DataFrame({c: pd.Series(dtype=types.get(c, STRING)) for c in SHARE_COLUMNS})
